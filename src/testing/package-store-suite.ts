import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PackageRecord, PackageStore } from '../packages/types.js'
import type { Store } from '../store.js'
import { bytes, readAll, rejectsWith, type ConformanceTarget } from './helpers.js'

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

    it('commits events with putPackageWithRoutes and putPackageRoute, in the same transaction', async () => {
      const ev = (id: string, aggregatorId: string, version: number) => ({ id, aggregatorType: 'holdfast/package-route', aggregatorId, version, name: 'Routed', data: bytes(id) })
      let woken = 0
      const stop = store.events.onCommitted(() => woken++)
      try {
        const v1 = pkg('checkout', hash('a'), 'v1', T0)
        await packages.putPackageWithRoutes(v1, ['checkout', 'checkout-child'], { events: [ev('e1', 'checkout', 1), ev('e2', 'checkout-child', 1)] })
        await packages.putPackageRoute('checkout', hash('b'), { events: [ev('e3', 'checkout', 2)] })
        expect(await packages.listPackages()).toEqual([v1])
        expect((await packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])).toEqual([
          ['checkout', hash('b')],
          ['checkout-child', hash('a')],
        ])
        const stored = await readAll(store.events)
        expect(stored.map((e) => [e.id, e.aggregatorId, e.version, e.position])).toEqual([
          ['e1', 'checkout', 1, stored[0]!.position],
          ['e2', 'checkout-child', 1, stored[0]!.position + 1],
          ['e3', 'checkout', 2, stored[0]!.position + 2],
        ])
        expect(stored[2]!.data).toEqual(bytes('e3'))
        const before = { packages: await packages.listPackages(), routes: (await packages.listPackageRoutes()).map((r) => r.contentHash), events: stored.length }
        const unchanged = async (): Promise<void> => {
          expect(await packages.listPackages()).toEqual(before.packages)
          expect((await packages.listPackageRoutes()).map((r) => r.contentHash)).toEqual(before.routes)
          expect(await readAll(store.events)).toHaveLength(before.events)
        }
        // A stale version: another change got there first. Neither the events nor the change are stored.
        const conflict = await rejectsWith(packages.putPackageRoute('checkout', hash('c'), { events: [ev('e4', 'checkout', 2)] }), 'INVALID_ORIGINAL_VERSION')
        expect(conflict).toMatchObject({ aggregatorType: 'holdfast/package-route', aggregatorId: 'checkout', expectedVersion: 1, foundVersion: 2 })
        await rejectsWith(packages.putPackageWithRoutes(pkg('checkout', hash('c'), 'v3', T0 + 1), ['checkout'], { events: [ev('e4', 'checkout', 2)] }), 'INVALID_ORIGINAL_VERSION')
        // A taken id, with the right version.
        await rejectsWith(packages.putPackageRoute('checkout', hash('c'), { events: [{ ...ev('e4', 'checkout', 3), id: 'e1' }] }), 'INVALID_ARGUMENT')
        // One good and one stale aggregate: all or nothing.
        await rejectsWith(packages.putPackageWithRoutes(pkg('x', hash('d'), 'x', T0), ['x'], { events: [ev('e5', 'x', 1), ev('e6', 'checkout', 1)] }), 'INVALID_ORIGINAL_VERSION')
        await unchanged()
        // Bad options are refused before anything is written; an empty list is the plain write.
        await rejectsWith(packages.putPackageRoute('checkout', hash('c'), { events: 'e' as never }), 'INVALID_ARGUMENT')
        await rejectsWith(packages.putPackageRoute('checkout', hash('c'), { events: [{ ...ev('e7', 'checkout', 3), data: 'x' as never }] }), 'INVALID_ARGUMENT')
        await rejectsWith(packages.putPackageRoute('checkout', hash('c'), null as never), 'INVALID_ARGUMENT')
        await rejectsWith(packages.putPackageWithRoutes(pkg('y', hash('e'), 'y', T0), ['y'], { events: [ev('e8', 'y', 1), ev('e8', 'y', 2)] }), 'INVALID_ARGUMENT')
        await rejectsWith(packages.putPackageWithRoutes(pkg('y', hash('e'), 'y', T0), ['y'], { events: [ev('e8', 'y', 1), ev('e9', 'y', 3)] }), 'INVALID_ORIGINAL_VERSION')
        await unchanged()
        await packages.putPackageRoute('checkout-child', hash('b'), { events: [] })
        await packages.putPackageRoute('checkout-child', hash('a'), {})
        expect(await readAll(store.events)).toHaveLength(before.events)
        await new Promise((r) => setTimeout(r, 20))
        expect(woken).toBeGreaterThanOrEqual(2)
      } finally {
        stop()
      }
    })

    it('lets exactly one of two concurrent changes with the same event version win', async () => {
      const ev = (id: string) => ({ id, aggregatorType: 'holdfast/package-route', aggregatorId: 'race', version: 1, name: 'Routed', data: bytes(id) })
      const results = await Promise.allSettled([
        packages.putPackageRoute('race', hash('a'), { events: [ev('r1')] }),
        packages.putPackageWithRoutes(pkg('race', hash('b'), 'b', T0), ['race'], { events: [ev('r2')] }),
      ])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect((lost.reason as { code: string }).code).toBe('INVALID_ORIGINAL_VERSION')
      const [winner] = await readAll(store.events)
      expect((await packages.getPackageRoute('race'))?.contentHash).toBe(winner!.id === 'r1' ? hash('a') : hash('b'))
      expect(await packages.listPackages({ withArchives: false })).toHaveLength(winner!.id === 'r1' ? 0 : 1)
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      const good = pkg('checkout', hash('a'), 'v1', T0)
      await rejectsWith(packages.putPackage(good), 'STORE_CLOSED')
      await rejectsWith(packages.putPackageWithRoutes(good, ['x']), 'STORE_CLOSED')
      await rejectsWith(packages.listPackages(), 'STORE_CLOSED')
      await rejectsWith(packages.deletePackage('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.putPackageRoute('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.putPackageRoute('a', 'b', { events: [] }), 'STORE_CLOSED')
      await rejectsWith(packages.listPackageRoutes(), 'STORE_CLOSED')
      await rejectsWith(packages.getPackage('a', 'b'), 'STORE_CLOSED')
      await rejectsWith(packages.getPackageRoute('a'), 'STORE_CLOSED')
    })
  })
}
