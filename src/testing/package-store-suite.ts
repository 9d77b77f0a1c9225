import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PackageRecord, PackageStore } from '../packages/types.js'
import type { Store } from '../store.js'
import { bytes, rejectsWith, type ConformanceTarget } from './helpers.js'

const T0 = 1_700_000_000_000
const hash = (c: string): string => `sha256:${c.repeat(64)}`
const pkg = (workflowType: string, contentHash: string, archive: string, deployedAt: number): PackageRecord => ({ workflowType, contentHash, archive: bytes(archive), deployedAt })

/** Registers the package store conformance cases (`spec/packages.md`) for `target` with vitest. */
export function runPackageStoreSuite(target: ConformanceTarget): void {
  describe(`package store conformance: ${target.name}`, () => {
    let store: Store
    let packages: PackageStore
    beforeEach(async () => {
      store = await target.open()
      packages = store.packages
    })
    afterEach(async () => {
      await store.close()
    })

    it('lists complete packages in deploy order, not insertion order', async () => {
      expect(await packages.listPackages()).toEqual([])
      const checkout = pkg('checkout', hash('b'), 'checkout v1', T0 + 20)
      const billing = pkg('billing', hash('a'), 'billing v1', T0 + 10)
      await packages.putPackage(checkout)
      await packages.putPackage(billing)
      expect(await packages.listPackages()).toEqual([billing, checkout])
    })

    it('replaces a re-put package and still re-points its route', async () => {
      await packages.putPackage(pkg('checkout', hash('c'), 'first', T0 + 10))
      await packages.putPackage(pkg('checkout', hash('d'), 'other', T0 + 20))
      await packages.putPackage(pkg('checkout', hash('c'), 'second', T0 + 30))
      expect(await packages.listPackages()).toEqual([pkg('checkout', hash('d'), 'other', T0 + 20), pkg('checkout', hash('c'), 'second', T0 + 30)])
      expect((await packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])).toEqual([['checkout', hash('c')]])
    })

    it('points the route at the last deployed version, and several routes with putPackageWithRoutes', async () => {
      const before = Date.now()
      await packages.putPackage(pkg('checkout', hash('a'), 'v1', T0 + 1))
      await packages.putPackage(pkg('checkout', hash('b'), 'v2', T0 + 2))
      await packages.putPackageWithRoutes(pkg('billing', hash('c'), 'grouped', T0 + 3), ['billing', 'billing-child'])
      const routes = await packages.listPackageRoutes()
      expect(routes.map((r) => [r.workflowType, r.contentHash])).toEqual([
        ['billing', hash('c')],
        ['billing-child', hash('c')],
        ['checkout', hash('b')],
      ])
      expect(routes[0]!.updatedAt).toBeGreaterThanOrEqual(before - 1000)
      expect(await packages.getPackageRoute('checkout')).toMatchObject({ workflowType: 'checkout', contentHash: hash('b') })
      expect(await packages.getPackageRoute('nope')).toBeNull()
    })

    it('re-points a route without touching archives, even at a hash that is not stored', async () => {
      const v1 = pkg('checkout', hash('a'), 'v1', T0 + 1)
      const v2 = pkg('checkout', hash('b'), 'v2', T0 + 2)
      await packages.putPackage(v1)
      await packages.putPackage(v2)
      await packages.putPackageRoute('checkout', hash('a'))
      expect(await packages.getPackageRoute('checkout')).toMatchObject({ contentHash: hash('a') })
      await packages.putPackageRoute('operator-loaded', hash('f'))
      expect((await packages.listPackageRoutes()).map((r) => r.workflowType)).toEqual(['checkout', 'operator-loaded'])
      expect(await packages.listPackages()).toEqual([v1, v2])
    })

    it('deletes one package, idempotently, and leaves the route alone', async () => {
      const v1 = pkg('checkout', hash('a'), 'v1', T0 + 1)
      const v2 = pkg('checkout', hash('b'), 'v2', T0 + 2)
      await packages.putPackage(v1)
      await packages.putPackage(v2)
      await packages.deletePackage('checkout', hash('b'))
      await packages.deletePackage('checkout', hash('b'))
      await packages.deletePackage('never', hash('e'))
      expect(await packages.listPackages()).toEqual([v1])
      expect(await packages.getPackage('checkout', hash('b'))).toBeNull()
      expect(await packages.getPackage('checkout', hash('a'))).toEqual(v1)
      expect(await packages.getPackageRoute('checkout')).toMatchObject({ contentHash: hash('b') })
    })

    it('breaks deploy-time ties by type, then hash, in code-point order', async () => {
      const types = ['b', 'B', 'a', 'a1', 'a-', 'a_', 'A', 'é', 'z', 'Z9', '\u{1F600}', '\uFFFF', 'ä']
      for (const t of [...types].reverse()) await packages.putPackage(pkg(t, 'h2', t, T0))
      await packages.putPackage(pkg('a', 'h1', 'a', T0))
      await packages.putPackage(pkg('a', 'H3', 'a', T0))
      await packages.putPackage(pkg('late', 'h', 'late', T0 + 1))
      await packages.putPackage(pkg('early', 'h', 'early', T0 - 1))
      const order = (await packages.listPackages({ withArchives: false })).map((p) => `${p.workflowType}|${p.contentHash}`)
      const byCodePoint = (x: string, y: string): number => Buffer.compare(Buffer.from(x), Buffer.from(y))
      const ties = [...types.map((t) => [t, 'h2']), ['a', 'h1'], ['a', 'H3']]
        .sort(([t1, h1], [t2, h2]) => byCodePoint(t1!, t2!) || byCodePoint(h1!, h2!))
        .map(([t, h]) => `${t}|${h}`)
      expect(order).toEqual(['early|h', ...ties, 'late|h'])
      expect((await packages.listPackageRoutes()).map((r) => r.workflowType)).toEqual([...types, 'early', 'late'].sort(byCodePoint))
    })

    it('lists metadata without archives on request', async () => {
      await packages.putPackage(pkg('checkout', hash('a'), 'big archive', T0))
      const [meta] = await packages.listPackages({ withArchives: false })
      expect(meta).toEqual({ workflowType: 'checkout', contentHash: hash('a'), deployedAt: T0 })
      expect('archive' in meta!).toBe(false)
      expect((await packages.listPackages())[0]!.archive).toEqual(bytes('big archive'))
      expect((await packages.listPackages({ withArchives: true }))[0]).toHaveProperty('archive', bytes('big archive'))
    })

    it('keeps its own copy of an archive', async () => {
      const record = pkg('checkout', hash('a'), 'original', T0)
      const put = packages.putPackage(record)
      record.archive.fill(0)
      await put
      const got = await packages.getPackage('checkout', hash('a'))
      expect(got!.archive).toEqual(bytes('original'))
      got!.archive.fill(0)
      expect((await packages.getPackage('checkout', hash('a')))!.archive).toEqual(bytes('original'))
    })

    it('rejects bad input and changes nothing', async () => {
      const good = pkg('checkout', hash('a'), 'v1', T0)
      await packages.putPackage(good)
      const bad: unknown[] = [
        null,
        { ...good, workflowType: '' },
        { ...good, contentHash: '' },
        { ...good, contentHash: 'has space' },
        { ...good, contentHash: 'tab\there' },
        { ...good, contentHash: 'x'.repeat(257) },
        { ...good, archive: 'bytes' },
        { ...good, deployedAt: -1 },
        { ...good, deployedAt: 1.5 },
        { ...good, deployedAt: '1700000000000' },
        { ...good, deployedAt: 2 ** 53 },
      ]
      for (const record of bad) await rejectsWith(packages.putPackage(record as PackageRecord), 'INVALID_ARGUMENT')
      await rejectsWith(packages.putPackageWithRoutes(good, []), 'INVALID_ARGUMENT')
      await rejectsWith(packages.putPackageWithRoutes(good, ['ok', '']), 'INVALID_ARGUMENT')
      await rejectsWith(packages.putPackageRoute('checkout', 'a b'), 'INVALID_ARGUMENT')
      await rejectsWith(packages.putPackageRoute('', hash('a')), 'INVALID_ARGUMENT')
      await rejectsWith(packages.deletePackage('checkout', ''), 'INVALID_ARGUMENT')
      await rejectsWith(packages.getPackage(1 as unknown as string, hash('a')), 'INVALID_ARGUMENT')
      await rejectsWith(packages.getPackageRoute(''), 'INVALID_ARGUMENT')
      await rejectsWith(packages.listPackages({ withArchives: 'no' as unknown as boolean }), 'INVALID_ARGUMENT')
      expect(await packages.listPackages()).toEqual([good])
      expect((await packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])).toEqual([['checkout', hash('a')]])
      // Exactly 256 bytes is allowed.
      await packages.putPackage({ ...good, contentHash: 'h'.repeat(256) })
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      const good = pkg('checkout', hash('a'), 'v1', T0)
      await rejectsWith(packages.putPackage(good), 'STORE_CLOSED')
      await rejectsWith(packages.putPackageWithRoutes(good, ['x']), 'STORE_CLOSED')
      await rejectsWith(packages.listPackages(), 'STORE_CLOSED')
      await rejectsWith(packages.deletePackage('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.putPackageRoute('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.listPackageRoutes(), 'STORE_CLOSED')
      await rejectsWith(packages.getPackage('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.getPackageRoute('a'), 'STORE_CLOSED')
    })
  })
}
