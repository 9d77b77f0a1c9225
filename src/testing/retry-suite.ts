import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Store } from '../store.js'
import { bytes, event, readAll, type ConformanceTarget } from './helpers.js'

/**
 * Registers the retry-safety cases with vitest: every write, made a second time with the same arguments (as a caller
 * does after `STORE_UNAVAILABLE` with `outcome: 'unknown'`, not knowing whether the first one committed), resolves
 * and leaves the state that one call leaves.
 */
export function runRetrySuite(target: ConformanceTarget): void {
  describe(`retry safety: ${target.name}`, () => {
    let store: Store
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(async () => {
      await store.close()
    })

    it('events: write, saveSnapshot, upsertSubscriber and acknowledge', async () => {
      const write = [event('o1', 1), event('o1', 2), event('o2', 1)]
      for (let i = 0; i < 2; i++) await store.events.write(write)
      const stored = await readAll(store.events)
      expect(stored.map((e) => e.id)).toEqual(write.map((e) => e.id))
      const cursor = (await store.events.read(null, null, { first: 1 })).edges[0]!.cursor
      for (let i = 0; i < 2; i++) {
        await store.events.saveSnapshot('shop/Order', 'r1', 'o1', bytes('snap'), cursor)
        await store.events.upsertSubscriber('sub', 'w1')
        await store.events.acknowledge('sub', cursor, 2, 'w1')
      }
      expect(await store.events.getSnapshot('shop/Order', 'r1', 'o1')).toEqual({ data: bytes('snap'), cursor })
      expect(await store.events.getSubscriber('sub')).toMatchObject({ workerId: 'w1', cursor, lag: 2 })
    })

    it('packages: putPackage, putPackageWithRoutes and putPackageRoute', async () => {
      const a = { workflowType: 'wf', contentHash: 'sha256:a', archive: bytes('a'), deployedAt: 1 }
      const b = { workflowType: 'wf', contentHash: 'sha256:b', archive: bytes('b'), deployedAt: 2 }
      for (let i = 0; i < 2; i++) {
        await store.packages.putPackage(a)
        await store.packages.putPackageWithRoutes(b, ['wf', 'wf2'])
        await store.packages.putPackageRoute('wf', 'sha256:a')
      }
      expect(await store.packages.listPackages({ withArchives: false })).toEqual([
        { workflowType: 'wf', contentHash: 'sha256:a', deployedAt: 1 },
        { workflowType: 'wf', contentHash: 'sha256:b', deployedAt: 2 },
      ])
      expect((await store.packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])).toEqual([
        ['wf', 'sha256:a'],
        ['wf2', 'sha256:b'],
      ])
    })

    it('packages with events: a retry changes nothing, not even a route moved since', async () => {
      const route = (id: string, version: number) => ({ events: [{ id, aggregatorType: 'holdfast/package-route', aggregatorId: 'wf', version, name: 'Routed', data: bytes(id) }] })
      const a = { workflowType: 'wf', contentHash: 'sha256:a', archive: bytes('a'), deployedAt: 1 }
      for (let i = 0; i < 2; i++) await store.packages.putPackageWithRoutes(a, ['wf'], route('e1', 1))
      for (let i = 0; i < 2; i++) await store.packages.putPackageRoute('wf', 'sha256:b', route('e2', 2))
      // The first call again, after the second moved the route: it committed long ago, so it moves nothing back.
      await store.packages.putPackageWithRoutes(a, ['wf'], route('e1', 1))
      expect((await readAll(store.events)).map((e) => [e.id, e.version])).toEqual([
        ['e1', 1],
        ['e2', 2],
      ])
      expect(await store.packages.getPackageRoute('wf')).toMatchObject({ contentHash: 'sha256:b' })
      expect(await store.packages.listPackages({ withArchives: false })).toEqual([{ workflowType: 'wf', contentHash: 'sha256:a', deployedAt: 1 }])
    })

    it('poison: tryPutPoison and deletePoison succeed again; clearPoison again returns null and audits once', async () => {
      for (let i = 0; i < 2; i++) await store.poison.tryPutPoison('res/1', 'tok')
      expect(await store.poison.getPoison('res/1')).toBe('tok')
      for (let i = 0; i < 2; i++) await store.poison.deletePoison('res/1', 'tok')
      expect(await store.poison.getPoison('res/1')).toBeNull()
      await store.poison.tryPutPoison('res/2', 'tok')
      expect(await store.poison.clearPoison('res/2', 'ops', 'stuck')).toBe('tok')
      expect(await store.poison.clearPoison('res/2', 'ops', 'stuck')).toBeNull()
      expect(await store.poison.listPoisonAudit('res/2')).toHaveLength(1)
    })

    it('checkpoints: saveWithTrace keeps one checkpoint and its order; delete and prune report nothing more', async () => {
      const first = { id: 'c1', state: { n: 1 }, metadata: { step: 1 }, parentId: null }
      const second = { id: 'c2', state: { n: 2 }, metadata: { step: 2 }, parentId: 'c1' }
      for (let i = 0; i < 2; i++) await store.checkpoints.saveWithTrace('t', first)
      for (let i = 0; i < 2; i++) await store.checkpoints.saveWithTrace('t', second)
      expect(await store.checkpoints.list('t')).toEqual(['c1', 'c2'])
      expect((await store.checkpoints.loadLatest('t'))?.id).toBe('c2')
      expect(await store.checkpoints.prune('t', 1)).toBe(1)
      expect(await store.checkpoints.prune('t', 1)).toBe(0)
      expect(await store.checkpoints.delete('c2')).toBe(true)
      expect(await store.checkpoints.delete('c2')).toBe(false)
    })

    it('threads: put and putWrites keep one checkpoint and one copy of each write', async () => {
      const address = { threadId: 't', namespace: '', checkpointId: 'c1' }
      const value = { type: 'json', data: bytes('1') }
      for (let i = 0; i < 2; i++) {
        await store.threads.put({ ...address, parentId: null, checkpoint: { id: 'c1', channel_versions: { a: 1 } }, metadata: {}, values: [{ channel: 'a', version: 1, value }] })
        await store.threads.putWrites(address, [{ taskId: 'task', taskPath: '', idx: 0, channel: 'a', value }])
      }
      expect(await store.threads.list({ threadId: 't' })).toHaveLength(1)
      expect((await store.threads.get('t', ''))?.writes).toHaveLength(1)
    })

    it('Automerge: insertChanges, setDocument, compact and setSyncState', async () => {
      const doc = store.automerge('doc')
      const actor = new Uint8Array([1, 2, 3, 4])
      const peer = new Uint8Array([9, 9])
      for (let i = 0; i < 2; i++) {
        await doc.insertChanges([[actor, 1, bytes('c1')], [actor, 2, bytes('c2')]])
        await doc.setSyncState(peer, bytes('sync'))
      }
      expect(await doc.getChanges()).toHaveLength(2)
      for (let i = 0; i < 2; i++) await doc.compact(bytes('doc'), [[actor, 1]])
      expect(await doc.getDocument()).toEqual(bytes('doc'))
      expect(await doc.getChanges()).toEqual([bytes('c2')])
      for (let i = 0; i < 2; i++) await doc.setDocument(bytes('doc2'))
      expect(await doc.getDocument()).toEqual(bytes('doc2'))
      expect(await doc.getPeerIds()).toHaveLength(1)
    })

    it('chunks: save and remove', async () => {
      const chunks = store.chunks()
      for (let i = 0; i < 2; i++) await chunks.save(['a', 'b'], bytes('x'))
      expect(await chunks.loadRange(['a'])).toHaveLength(1)
      for (let i = 0; i < 2; i++) await chunks.remove(['a', 'b'])
      expect(await chunks.loadRange(['a'])).toEqual([])
    })
  })
}
