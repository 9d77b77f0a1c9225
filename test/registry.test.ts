// The package registry (spec/runtime.md §3) on every backend: deploy, route, rollback, reload, undeploy, bad input.
import { describe, expect, it } from 'vitest'
import { contentHashOf, PACKAGE_ROUTE_AGGREGATE, PackageRegistry, type Store } from '../src/index.js'
import { bytes, readAll, rejectsWith } from '../src/testing/index.js'
import { backends } from './backends.js'

const by = 'ci'
const WF = 'billing/invoice'
const A = bytes('archive v1')
const B = bytes('archive v2')
const C = bytes('archive v3')
const [HA, HB, HC] = [A, B, C].map(contentHashOf) as [string, string, string]

/** Everything the registry can change: packages, routes (without their clock) and events (without theirs). */
async function dump(store: Store): Promise<unknown> {
  return {
    packages: await store.packages.listPackages(),
    routes: (await store.packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash]),
    events: (await readAll(store.events)).map(({ timestamp: _t, ...e }) => e),
  }
}

describe.each(backends())('package registry: $name', (target) => {
  const withStore = (fn: (store: Store, registry: PackageRegistry) => Promise<void>) => async () => {
    const store = await target.open()
    try {
      await fn(store, new PackageRegistry(store))
    } finally {
      await store.close()
    }
  }

  it(
    'deploy → route → rollback → roll forward gives the right current and history',
    withStore(async (store, registry) => {
      expect(await registry.current(WF)).toBeNull()
      expect(await registry.history(WF)).toEqual([])
      const v1 = await registry.deploy(WF, A, { by, reason: 'first' })
      expect(v1).toMatchObject({ workflowType: WF, contentHash: HA, archive: A })
      expect(HA).toMatch(/^sha256:[0-9a-f]{64}$/)
      await registry.deploy(WF, B, { by })
      await registry.deploy(WF, C, { by })
      expect((await registry.current(WF))?.contentHash).toBe(HC)
      await registry.routeTo(WF, HA, { by: 'alice', reason: 'v2 and v3 break refunds' })
      expect((await registry.current(WF))?.contentHash).toBe(HA)
      const back = async () => (await registry.rollback(WF, { by: 'bob' })).contentHash
      expect(await back()).toBe(HC)
      expect(await back()).toBe(HB)
      expect(await back()).toBe(HA)
      await rejectsWith(registry.rollback(WF, { by }), 'NOT_FOUND')
      expect((await registry.routeTo(WF, HC, { by, reason: 'fixed' })).contentHash).toBe(HC)
      expect((await registry.current(WF))?.archive).toEqual(C)

      const history = await registry.history(WF)
      expect(history.map((h) => [h.action, h.previousHash, h.contentHash, h.by, h.reason])).toEqual([
        ['deploy', null, HA, by, 'first'],
        ['deploy', HA, HB, by, null],
        ['deploy', HB, HC, by, null],
        ['route', HC, HA, 'alice', 'v2 and v3 break refunds'],
        ['rollback', HA, HC, 'bob', null],
        ['rollback', HC, HB, 'bob', null],
        ['rollback', HB, HA, 'bob', null],
        ['route', HA, HC, by, 'fixed'],
      ])
      expect(history.map((h) => h.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
      expect(history.every((h) => h.packageType === WF && h.workflowType === WF && /^[0-9A-HJKMNP-TV-Z]{26}$/.test(h.eventId))).toBe(true)
      // The history is the route aggregate's events, with normal versions.
      const events = (await readAll(store.events)).filter((e) => e.aggregatorType === PACKAGE_ROUTE_AGGREGATE)
      expect(events.map((e) => [e.aggregatorId, e.version, e.name])).toEqual(history.map((h) => [WF, h.version, expect.stringMatching(/^Package/)]))
      // Routing to the version already routed writes nothing.
      await registry.routeTo(WF, HC, { by })
      expect(await registry.history(WF)).toHaveLength(8)
      await rejectsWith(registry.routeTo(WF, contentHashOf(bytes('never')), { by }), 'NOT_FOUND')
      await rejectsWith(registry.rollback('never/deployed', { by }), 'NOT_FOUND')
    }),
  )

  it(
    're-deploying the same bytes is idempotent, and re-points a route that moved',
    withStore(async (store, registry) => {
      const first = await registry.deploy(WF, A, { by })
      const again = await registry.deploy(WF, new Uint8Array(A), { by: 'someone-else' })
      expect(again).toEqual(first)
      expect(await registry.history(WF)).toHaveLength(1)
      await registry.deploy(WF, B, { by })
      const before = await dump(store)
      await registry.deploy(WF, B, { by })
      expect(await dump(store)).toEqual(before)
      await registry.routeTo(WF, HA, { by })
      await registry.deploy(WF, B, { by, reason: 'again' })
      expect((await registry.current(WF))?.contentHash).toBe(HB)
      expect((await registry.history(WF)).map((h) => [h.action, h.contentHash])).toEqual([
        ['deploy', HA],
        ['deploy', HB],
        ['route', HA],
        ['deploy', HB],
      ])
      expect(await store.packages.listPackages({ withArchives: false })).toHaveLength(2)
    }),
  )

  it(
    'routes the types in `also` with the deploy, one route event each',
    withStore(async (store, registry) => {
      await registry.deploy(WF, A, { by })
      const grouped = await registry.deploy(WF, B, { also: ['billing/refund', WF], by, reason: 'group' })
      expect((await store.packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])).toEqual([
        [WF, HB],
        ['billing/refund', HB],
      ].sort(([a], [b]) => (a! < b! ? -1 : 1)))
      expect(await registry.current('billing/refund')).toEqual(grouped)
      expect((await registry.history('billing/refund')).map((h) => [h.action, h.previousHash, h.contentHash, h.packageType])).toEqual([['deploy', null, HB, WF]])
      // A version deployed for the primary type only was never deployed for the other.
      await rejectsWith(registry.routeTo('billing/refund', HA, { by }), 'NOT_FOUND')
      await registry.deploy(WF, C, { by })
      expect((await registry.current('billing/refund'))?.contentHash).toBe(HB)
      // The grouped version serves refund: undeploying it is refused while refund routes to it.
      const refused = await rejectsWith(registry.undeploy(WF, HB), 'INVALID_ARGUMENT')
      expect(refused.message).toContain('billing/refund')
      const report = await registry.reload(() => {})
      expect(report.routes.find((r) => r.workflowType === 'billing/refund')?.package).toMatchObject({ workflowType: WF, contentHash: HB })
    }),
  )

  it(
    'reload loads in deploy order and reports a tampered archive, a load that throws and a route to a missing package',
    withStore(async (store, registry) => {
      await registry.deploy('a/one', A, { by })
      await registry.deploy('b/two', B, { by })
      await registry.deploy('c/three', C, { by })
      // A row whose bytes do not hash to its key, written past the registry.
      await store.packages.putPackage({ workflowType: 'd/tampered', contentHash: HA, archive: bytes('not v1'), deployedAt: Date.now() + 1 })
      await store.packages.putPackageRoute('e/ghost', contentHashOf(bytes('gone')))
      const seen: string[] = []
      const report = await registry.reload(async (pkg) => {
        seen.push(pkg.workflowType)
        if (pkg.workflowType === 'b/two') throw new Error('bad manifest')
      })
      expect(seen).toEqual(['a/one', 'b/two', 'c/three'])
      expect(report.loaded.map((p) => p.workflowType)).toEqual(['a/one', 'c/three'])
      expect(report.skipped).toEqual([
        { workflowType: 'b/two', contentHash: HB, reason: expect.stringContaining('bad manifest') },
        { workflowType: 'd/tampered', contentHash: HA, reason: expect.stringContaining('hash') },
      ])
      expect(report.routes.map((r) => [r.workflowType, r.package?.workflowType ?? null])).toEqual([
        ['a/one', 'a/one'],
        ['b/two', null],
        ['c/three', 'c/three'],
        ['d/tampered', 'a/one'],
        ['e/ghost', null],
      ])
      expect(report.routes[1]!.reason).toContain('bad manifest')
      expect(report.routes[4]!.reason).toContain('no package')
      // Re-deploying the real bytes repairs the tampered row.
      await registry.deploy('d/tampered', A, { by })
      expect((await registry.reload(() => {})).skipped).toEqual([])
      await rejectsWith(registry.reload('load' as never), 'INVALID_ARGUMENT')
    }),
  )

  it(
    'refuses to undeploy the routed version, and undeploys another',
    withStore(async (store, registry) => {
      await registry.deploy(WF, A, { by })
      await registry.deploy(WF, B, { by })
      const refused = await rejectsWith(registry.undeploy(WF, HB), 'INVALID_ARGUMENT')
      expect(refused.message).toContain(WF)
      await registry.undeploy(WF, HA)
      await registry.undeploy(WF, HA)
      expect((await store.packages.listPackages({ withArchives: false })).map((p) => p.contentHash)).toEqual([HB])
      await rejectsWith(registry.routeTo(WF, HA, { by }), 'NOT_FOUND')
      await rejectsWith(registry.rollback(WF, { by }), 'NOT_FOUND')
      expect(await registry.history(WF)).toHaveLength(2)
    }),
  )

  it(
    'wakes onCommitted listeners for route events',
    withStore(async (store, registry) => {
      let woken = 0
      const stop = store.events.onCommitted(() => woken++)
      try {
        await new Promise((r) => setTimeout(r, 50))
        const before = woken
        await registry.deploy(WF, A, { by })
        await registry.deploy(WF, B, { by })
        await registry.rollback(WF, { by })
        await new Promise((r) => setTimeout(r, 20))
        expect(woken - before).toBeGreaterThanOrEqual(3)
      } finally {
        stop()
      }
    }),
  )

  it(
    'concurrent deploys of one type through two registries both land, in version order',
    withStore(async (store) => {
      const one = new PackageRegistry(store)
      const two = new PackageRegistry(store)
      await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? one : two).deploy(WF, bytes(`v${i}`), { by: `r${i % 2}` })))
      const history = await one.history(WF)
      expect(history.map((h) => h.version)).toEqual([1, 2, 3, 4, 5, 6])
      for (let i = 1; i < history.length; i++) expect(history[i]!.previousHash).toBe(history[i - 1]!.contentHash)
      expect((await store.packages.getPackageRoute(WF))?.contentHash).toBe(history.at(-1)!.contentHash)
    }),
  )

  it(
    'refuses bad input to every method with INVALID_ARGUMENT and stores nothing',
    withStore(async (store, registry) => {
      await registry.deploy(WF, A, { by })
      await registry.deploy(WF, B, { by })
      const before = await dump(store)
      const detached = Uint8Array.of(1, 2)
      structuredClone(detached.buffer, { transfer: [detached.buffer] })
      const bad: [string, () => Promise<unknown>][] = [
        ['deploy: empty type', () => registry.deploy('', C, { by })],
        ['deploy: type with NUL', () => registry.deploy('a\0b', C, { by })],
        ['deploy: archive a string', () => registry.deploy(WF, 'bytes' as never, { by })],
        ['deploy: archive detached', () => registry.deploy(WF, detached, { by })],
        ['deploy: no options', () => registry.deploy(WF, C, undefined as never)],
        ['deploy: no by', () => registry.deploy(WF, C, {} as never)],
        ['deploy: by empty', () => registry.deploy(WF, C, { by: '' })],
        ['deploy: reason a number', () => registry.deploy(WF, C, { by, reason: 7 as never })],
        ['deploy: reason too long', () => registry.deploy(WF, C, { by, reason: 'x'.repeat(4097) })],
        ['deploy: reason with a lone surrogate', () => registry.deploy(WF, C, { by, reason: '\ud800' })],
        ['deploy: also not an array', () => registry.deploy(WF, C, { by, also: 'x' as never })],
        ['deploy: also with an empty type', () => registry.deploy(WF, C, { by, also: ['ok', ''] })],
        ['deploy: options a revoked Proxy', () => registry.deploy(WF, C, revoked() as never)],
        ['routeTo: bad hash', () => registry.routeTo(WF, 'has space', { by })],
        ['routeTo: empty hash', () => registry.routeTo(WF, '', { by })],
        ['routeTo: bad type', () => registry.routeTo(1 as never, HA, { by })],
        ['routeTo: no by', () => registry.routeTo(WF, HA, { reason: 'x' } as never)],
        ['rollback: bad type', () => registry.rollback('', { by })],
        ['rollback: options null', () => registry.rollback(WF, null as never)],
        ['rollback: by a number', () => registry.rollback(WF, { by: 1 as never })],
        ['current: bad type', () => registry.current('')],
        ['history: bad type', () => registry.history(null as never)],
        ['reload: load not a function', () => registry.reload(undefined as never)],
        ['undeploy: bad type', () => registry.undeploy('', HA)],
        ['undeploy: bad hash', () => registry.undeploy(WF, 'x'.repeat(257))],
        ['undeploy: the routed version', () => registry.undeploy(WF, HB)],
      ]
      for (const [label, call] of bad) {
        const err = await rejectsWith(call(), 'INVALID_ARGUMENT')
        expect(err.message, label).toMatch(/workflowType|archive|options|contentHash|load|route/)
      }
      expect(await dump(store)).toEqual(before)
      expect(() => new PackageRegistry(null as never)).toThrow(/store/)
    }),
  )
})

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}
