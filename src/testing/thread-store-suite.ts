import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ChannelValue, ThreadCheckpointInput, ThreadStore, ThreadWrite, TypedValue } from '../checkpoints/thread-types.js'
import type { Store } from '../store.js'
import { bytes, rejectsWith, type ConformanceTarget } from './helpers.js'

const value = (text: string): TypedValue => ({ type: 'json', data: bytes(JSON.stringify(text)) })

function checkpoint(threadId: string, checkpointId: string, extra: Partial<ThreadCheckpointInput> = {}): ThreadCheckpointInput {
  return {
    threadId,
    namespace: '',
    checkpointId,
    parentId: null,
    checkpoint: { v: 4, id: checkpointId, channel_versions: {} },
    metadata: { source: 'loop', step: 0 },
    values: [],
    ...extra,
  }
}

const versions = (v: Record<string, string | number>): ThreadCheckpointInput['checkpoint'] => ({ v: 4, channel_versions: v })
const val = (channel: string, version: string | number, text: string): ChannelValue => ({ channel, version, value: value(text) })

const write = (taskId: string, idx: number, text: string, taskPath = ''): ThreadWrite => ({ taskId, taskPath, idx, channel: 'ch', value: value(text) })

/** Registers the thread store conformance cases (LangGraph's storage, `store.threads`) for `target` with vitest. */
export function runThreadStoreSuite(target: ConformanceTarget): void {
  describe(`thread store conformance: ${target.name}`, () => {
    let store: Store
    let threads: ThreadStore
    beforeEach(async () => {
      store = await target.open()
      threads = store.threads
    })
    afterEach(async () => {
      await store.close()
    })

    const ids = async (q: Parameters<ThreadStore['list']>[0]) => (await threads.list(q)).map((e) => e.checkpointId)

    it('saves checkpoints per thread and namespace, newest first saved is the latest, and they are traces of the checkpoint store', async () => {
      await threads.put(checkpoint('t', 'c2', { createdAt: 5 }))
      await threads.put(checkpoint('t', 'c1', { parentId: 'c2', metadata: { step: 1, nested: { a: [1, 'x'] } } }))
      await threads.put(checkpoint('t', 'c9', { namespace: 'sub:1' }))
      await threads.put(checkpoint('t', 'c2', { createdAt: 6, metadata: { step: 2 } })) // a re-save keeps its place
      const latest = await threads.get('t', '')
      expect(latest).toMatchObject({ threadId: 't', namespace: '', checkpointId: 'c1', parentId: 'c2', metadata: { step: 1, nested: { a: [1, 'x'] } } })
      expect(latest?.checkpoint).toEqual({ v: 4, id: 'c1', channel_versions: {} })
      expect(await threads.get('t', '', 'c2')).toMatchObject({ parentId: null, metadata: { step: 2 }, createdAt: 6, writes: [] })
      expect((await threads.get('t', 'sub:1'))?.checkpointId).toBe('c9')
      expect(await threads.get('t', 'sub:1', 'c1')).toBeNull()
      expect(await threads.get('t', 'none')).toBeNull()
      expect(await threads.get('other', '')).toBeNull()
      expect(await store.checkpoints.list('t')).toEqual([JSON.stringify(['t', '', 'c2']), JSON.stringify(['t', '', 'c1']), JSON.stringify(['t', 'sub:1', 'c9'])])
    })

    it("keeps the values a checkpoint wrote and its parent's for the channels whose version it kept", async () => {
      await threads.put(checkpoint('t', 'c1', { checkpoint: versions({ a: 1, b: 1 }), values: [val('a', 1, 'one'), val('b', 1, 'b1')] }))
      await threads.put(checkpoint('t', 'c2', { parentId: 'c1', checkpoint: versions({ a: 1, b: 2, c: 1 }), values: [val('b', 2, 'b2')] }))
      await threads.put(checkpoint('t', 'c3', { parentId: 'c2', checkpoint: versions({ a: 2, b: 2, c: 1 }) })) // a moved on, unwritten
      await threads.put(checkpoint('t', 'c4', { namespace: 'x', parentId: 'c2', checkpoint: versions({ a: 1 }) })) // c2 is not in x
      await threads.put(checkpoint('u', 'c1', { checkpoint: versions({ a: '1' }), values: [val('a', '1', 'string version')] }))
      await threads.put(checkpoint('u', 'c2', { parentId: 'c1', checkpoint: versions({ a: 1 }) })) // the number 1 is not "1"
      expect((await threads.get('t', '', 'c1'))!.values).toEqual({ a: value('one'), b: value('b1') })
      expect((await threads.get('t', '', 'c2'))!.values).toEqual({ a: value('one'), b: value('b2') }) // c was never written
      expect((await threads.get('t', ''))!.values).toEqual({ b: value('b2') })
      expect((await threads.list({ threadId: 't', namespace: '' })).map((e) => Object.keys(e.values).sort())).toEqual([['b'], ['a', 'b'], ['a', 'b']])
      expect((await threads.get('t', 'x'))!.values).toEqual({})
      expect((await threads.get('u', '', 'c1'))!.values).toEqual({ a: value('string version') })
      expect((await threads.get('u', ''))!.values).toEqual({})
      // A pruned ancestor takes nothing with it: every checkpoint holds its whole state.
      expect(await store.checkpoints.prune('t', 2)).toBe(2) // c1 and c2; c3 and c4 (in x) stay
      expect((await threads.get('t', ''))!.values).toEqual({ b: value('b2') })
      await threads.put(checkpoint('t', 'c5', { parentId: 'c3', checkpoint: versions({ a: 2, b: 2, c: 1 }), values: [val('a', 2, 'two')] }))
      expect((await threads.get('t', ''))!.values).toEqual({ a: value('two'), b: value('b2') })
    })

    it("keeps the parent's values for every child of a fork, whatever the caller does with its buffers after a put", async () => {
      const one = value('one')
      await threads.put(checkpoint('f', 'c1', { checkpoint: versions({ a: 1, b: 1 }), values: [{ channel: 'a', version: 1, value: one }, val('b', 1, 'b1')] }))
      one.data.fill(0x78)
      await threads.put(checkpoint('f', 'c2', { parentId: 'c1', checkpoint: versions({ a: 1, b: 2 }), values: [val('b', 2, 'b2')] }))
      await threads.put(checkpoint('f', 'c2b', { parentId: 'c1', checkpoint: versions({ a: 1, b: 1 }) })) // a second child of c1
      await threads.put(checkpoint('f', 'c3', { parentId: 'c2b', checkpoint: versions({ a: 1, b: 3 }), values: [val('b', 3, 'b3')] }))
      expect((await threads.get('f', '', 'c2'))!.values).toEqual({ a: value('one'), b: value('b2') })
      expect((await threads.get('f', '', 'c2b'))!.values).toEqual({ a: value('one'), b: value('b1') })
      expect((await threads.get('f', ''))!.values).toEqual({ a: value('one'), b: value('b3') })
    })

    it('keeps the first pending write of a (task, index), replaces special (negative) ones, and orders them by path, task and index by code point', async () => {
      const address = { threadId: 't', namespace: '', checkpointId: 'c1' }
      await threads.put(checkpoint('t', 'c1'))
      await threads.putWrites(address, [write('b', 0, 'b0'), write('b', 1, 'b1'), write('a', 0, 'a0', '~path')])
      await threads.putWrites(address, [write('b', 0, 'again'), write('b', -1, 'error 1')])
      await threads.putWrites(address, [write('b', -1, 'error 2'), write('\uffff', 0, 'bmp'), write('\u{1F600}', 0, 'astral')])
      await Promise.all([threads.putWrites(address, [write('c', 0, 'c0')]), threads.putWrites({ ...address, checkpointId: 'c2' }, [write('c', 0, 'other')])])
      const got = (await threads.get('t', '', 'c1'))!.writes.map((w) => [w.taskId, w.idx, JSON.parse(new TextDecoder().decode(w.value.data)) as string])
      expect(got).toEqual([
        ['b', -1, 'error 2'],
        ['b', 0, 'b0'],
        ['b', 1, 'b1'],
        ['c', 0, 'c0'],
        ['\uffff', 0, 'bmp'],
        ['\u{1F600}', 0, 'astral'],
        ['a', 0, 'a0'],
      ])
    })

    it("stores a superstep's pending writes and checkpoint made without awaiting each other, many writes atomically", async () => {
      await threads.put(checkpoint('t', 'c1'))
      const many = Array.from({ length: 40 }, (_, i) => write('task', i, `w${i}`))
      // As LangGraph makes them: the step's writes, then its checkpoint, then the next step's writes, one await.
      await Promise.all([
        threads.putWrites({ threadId: 't', namespace: '', checkpointId: 'c1' }, many),
        threads.put(checkpoint('t', 'c2', { parentId: 'c1' })),
        threads.putWrites({ threadId: 't', namespace: '', checkpointId: 'c2' }, [write('next', 0, 'n0'), write('next', 1, 'n1')]),
      ])
      const texts = (e: { writes: ThreadWrite[] } | null): string[] => e!.writes.map((w) => JSON.parse(new TextDecoder().decode(w.value.data)) as string)
      expect(texts(await threads.get('t', '', 'c1'))).toEqual(many.map((_, i) => `w${i}`))
      expect((await threads.get('t', ''))?.checkpointId).toBe('c2')
      expect(texts(await threads.get('t', '', 'c2'))).toEqual(['n0', 'n1'])
    })

    it('lists newest first across threads and namespaces, by thread, namespace, id, before, metadata filter and pages', async () => {
      await threads.put(checkpoint('a', '1', { metadata: { source: 'input', step: -1, tags: { x: 1 } } }))
      await threads.put(checkpoint('a', '2', { metadata: { source: 'loop', step: 0, tags: { x: 2 } } }))
      await threads.put(checkpoint('a', '3', { namespace: 'child', metadata: { source: 'loop', step: 1, none: null } }))
      await threads.put(checkpoint('ab', '4', { metadata: { source: 'loop', step: 2 } }))
      await threads.put(checkpoint('a"', '5', { metadata: { source: 'loop', step: 3 } }))
      await store.checkpoints.saveWithTrace('a', { id: 'plain', state: {} }) // not a thread's checkpoint
      expect(await ids(undefined)).toEqual(['5', '4', '3', '2', '1'])
      expect(await ids({ threadId: 'a' })).toEqual(['3', '2', '1'])
      expect(await ids({ threadId: 'a', namespace: '' })).toEqual(['2', '1'])
      expect(await ids({ namespace: 'child' })).toEqual(['3'])
      expect(await ids({ checkpointId: '2' })).toEqual(['2'])
      expect(await ids({ before: '3' })).toEqual(['2', '1'])
      expect(await ids({ threadId: 'a', before: '2' })).toEqual(['1'])
      expect(await ids({ filter: { source: 'loop' } })).toEqual(['5', '4', '3', '2'])
      expect(await ids({ filter: { source: 'loop', step: 2 } })).toEqual(['4'])
      expect(await ids({ filter: { tags: { x: 2 } } })).toEqual(['2'])
      expect(await ids({ filter: { none: null } })).toEqual(['3'])
      expect(await ids({ filter: { missing: 'x' } })).toEqual([])
      expect(await ids({ filter: {} })).toHaveLength(5)
      expect(await ids({ threadId: 'nobody' })).toEqual([])
      const first = await threads.list({ limit: 2 })
      expect(first.map((e) => e.checkpointId)).toEqual(['5', '4'])
      expect(await ids({ limit: 2, olderThan: first[1]!.seq })).toEqual(['3', '2'])
      expect(await ids({ filter: { tags: { x: 1 } }, limit: 1 })).toEqual(['1'])
    })

    it('deletes one thread in every namespace with its values and writes, and nothing else', async () => {
      for (const t of ['t', 't2', 't,']) {
        await threads.put(checkpoint(t, 'c1', { checkpoint: versions({ a: 1 }), values: [val('a', 1, t)] }))
        await threads.put(checkpoint(t, 'c2', { namespace: 'sub' }))
        await threads.putWrites({ threadId: t, namespace: '', checkpointId: 'c1' }, [write('w', 0, t)])
      }
      await store.checkpoints.saveWithTrace('t', { id: 'plain', state: { keep: true } })
      expect(await threads.deleteThread('t')).toBe(true)
      expect(await threads.deleteThread('t')).toBe(false)
      expect(await threads.get('t', '')).toBeNull()
      expect(await threads.get('t', 'sub')).toBeNull()
      expect(await store.checkpoints.list('t')).toEqual(['plain'])
      // Put again, the thread starts empty: no writes or values left over, even from a parent that was deleted.
      await threads.put(checkpoint('t', 'c2', { parentId: 'c1', checkpoint: versions({ a: 1 }) }))
      expect(await threads.get('t', '')).toMatchObject({ writes: [], values: {} })
      for (const t of ['t2', 't,']) {
        expect((await threads.get(t, '', 'c1'))?.writes).toHaveLength(1)
        expect((await threads.get(t, '', 'c1'))?.values).toEqual({ a: value(t) })
      }
    })

    it('refuses bad input with INVALID_ARGUMENT and changes nothing', async () => {
      const bad: unknown[] = [
        { ...checkpoint('t', 'c1'), threadId: '' },
        { ...checkpoint('t', 'c1'), checkpointId: 7 },
        { ...checkpoint('t', 'c1'), namespace: null },
        { ...checkpoint('t', 'c1'), metadata: 'x' },
        { ...checkpoint('t', 'c1'), values: [{ channel: 'a', version: '1', value: { type: 'json', data: 'not bytes' } }] },
        { ...checkpoint('t', 'c1'), values: [{ channel: '', version: '1', value: value('x') }] },
        { ...checkpoint('t', 'c1'), values: [{ channel: 'a', version: Number.NaN, value: value('x') }] },
        { ...checkpoint('t', 'c1'), checkpoint: { channel_versions: { a: { v: 1 } } } },
      ]
      for (const c of bad) await rejectsWith(threads.put(c as ThreadCheckpointInput), 'INVALID_ARGUMENT')
      expect(await threads.list()).toEqual([])
      await threads.put(checkpoint('t', 'c1'))
      const address = { threadId: 't', namespace: '', checkpointId: 'c1' }
      await rejectsWith(threads.putWrites(address, [write('a', 0, 'ok'), { ...write('a', 1, 'x'), idx: 1.5 }]), 'INVALID_ARGUMENT')
      await rejectsWith(threads.putWrites({ ...address, checkpointId: '' }, [write('a', 0, 'x')]), 'INVALID_ARGUMENT')
      expect((await threads.get('t', ''))?.writes).toEqual([])
      await rejectsWith(threads.get('t', 'a\0b'), 'INVALID_ARGUMENT')
      await rejectsWith(threads.list({ limit: 0 }), 'INVALID_ARGUMENT')
      await rejectsWith(threads.list({ filter: { a: undefined } }), 'INVALID_ARGUMENT')
      await rejectsWith(threads.deleteThread(''), 'INVALID_ARGUMENT')
    })

    it('refuses every call once the store is closed', async () => {
      await store.close()
      await rejectsWith(threads.get('t', ''), 'STORE_CLOSED')
      await rejectsWith(threads.put(checkpoint('t', 'c1')), 'STORE_CLOSED')
    })
  })
}
