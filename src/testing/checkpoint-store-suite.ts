import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CheckpointStore } from '../checkpoints/types.js'
import type { Store } from '../store.js'
import { rejectsWith, type ConformanceTarget } from './helpers.js'

/** Registers the checkpoint store conformance cases (`spec/checkpoints.md`) for `target` with vitest. */
export function runCheckpointStoreSuite(target: ConformanceTarget): void {
  describe(`checkpoint store conformance: ${target.name}`, () => {
    let store: Store
    let cps: CheckpointStore
    beforeEach(async () => {
      store = await target.open()
      cps = store.checkpoints
    })
    afterEach(async () => {
      await store.close()
    })

    it('saves and loads a checkpoint with its state, metadata, parent and time', async () => {
      const before = Date.now()
      await cps.saveWithTrace('trace-1', { id: 'c1', state: { step: 'a', n: [1, 2] }, metadata: { node: 'start' } })
      await cps.saveWithTrace('trace-1', { id: 'c2', state: null, parentId: 'c1', createdAt: 1234 })
      const c1 = await cps.load('c1')
      expect(c1).toMatchObject({ id: 'c1', state: { step: 'a', n: [1, 2] }, metadata: { node: 'start' }, parentId: null })
      expect(c1!.createdAt).toBeGreaterThanOrEqual(before - 1000)
      expect(await cps.load('c2')).toEqual({ id: 'c2', state: null, metadata: {}, parentId: 'c1', createdAt: 1234 })
      expect(await cps.load('missing')).toBeNull()
    })

    it('orders by first save, not by clock or id, and re-saving keeps the place', async () => {
      const ids = Array.from({ length: 1000 }, (_, i) => `id-${(999 - i).toString().padStart(4, '0')}`)
      for (const id of ids) await cps.saveWithTrace('t', { id, state: id, createdAt: 5 })
      expect(await cps.list('t')).toEqual(ids)
      await cps.saveWithTrace('t', { id: ids[0]!, state: 'updated', metadata: { again: true } })
      expect(await cps.list('t')).toEqual(ids)
      expect(await cps.load(ids[0]!)).toMatchObject({ state: 'updated', metadata: { again: true }, createdAt: 5 })
      expect((await cps.loadLatest('t'))!.id).toBe(ids[999])
      expect(await cps.loadLatest('nope')).toBeNull()
      expect(await cps.list('nope')).toEqual([])
    })

    it('refuses an id that belongs to another trace', async () => {
      await cps.saveWithTrace('t1', { id: 'shared', state: 1 })
      await rejectsWith(cps.saveWithTrace('t2', { id: 'shared', state: 2 }), 'INVALID_ARGUMENT')
      expect(await cps.load('shared')).toMatchObject({ state: 1 })
      expect(await cps.list('t2')).toEqual([])
    })

    it('deletes, telling whether it existed', async () => {
      await cps.saveWithTrace('t', { id: 'a', state: 1 })
      await cps.saveWithTrace('t', { id: 'b', state: 2 })
      expect(await cps.delete('b')).toBe(true)
      expect(await cps.delete('b')).toBe(false)
      expect(await cps.list('t')).toEqual(['a'])
      expect((await cps.loadLatest('t'))!.id).toBe('a')
    })

    it('prunes all but the newest keep and returns the count', async () => {
      for (let i = 1; i <= 5; i++) await cps.saveWithTrace('t', { id: `c${i}`, state: i })
      await cps.saveWithTrace('other', { id: 'o1', state: 0 })
      expect(await cps.prune('t', 10)).toBe(0)
      expect(await cps.prune('t', 2)).toBe(3)
      expect(await cps.list('t')).toEqual(['c4', 'c5'])
      expect(await cps.prune('t', 0)).toBe(2)
      expect(await cps.list('t')).toEqual([])
      expect(await cps.list('other')).toEqual(['o1'])
      expect(await cps.prune('none', 0)).toBe(0)
    })

    it('lists traces in text order, paged', async () => {
      for (const [trace, id, at] of [['b', 'b1', 10], ['a', 'a1', 5], ['a', 'a2', 7], ['B', 'B1', 1], ['é', 'e1', 3]] as const)
        await cps.saveWithTrace(trace, { id, state: 0, createdAt: at })
      expect(await cps.listTraces()).toEqual([
        { traceId: 'B', count: 1, latestAt: 1 },
        { traceId: 'a', count: 2, latestAt: 7 },
        { traceId: 'b', count: 1, latestAt: 10 },
        { traceId: 'é', count: 1, latestAt: 3 },
      ])
      expect((await cps.listTraces({ limit: 2 })).map((t) => t.traceId)).toEqual(['B', 'a'])
      expect((await cps.listTraces({ limit: 2, after: 'a' })).map((t) => t.traceId)).toEqual(['b', 'é'])
    })

    it('keeps call order and per-call outcomes for saves made concurrently', async () => {
      await cps.saveWithTrace('other', { id: 'taken', state: 0 })
      const calls: Promise<void>[] = []
      for (let i = 0; i < 60; i++) calls.push(cps.saveWithTrace(`t${i % 3}`, { id: `c${i}`, state: i }))
      calls.push(cps.saveWithTrace('t0', { id: 'c0', state: 'again', createdAt: 7 }))
      calls.push(cps.saveWithTrace('t1', { id: 'taken', state: 'stolen' }))
      calls.push(cps.saveWithTrace('t1', { id: 'c1', state: 'again' }))
      const results = await Promise.allSettled(calls)
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1)
      expect(results[61]).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_ARGUMENT' } })
      for (let t = 0; t < 3; t++) expect(await cps.list(`t${t}`)).toEqual(Array.from({ length: 20 }, (_, k) => `c${k * 3 + t}`))
      expect(await cps.load('c0')).toMatchObject({ state: 'again', createdAt: 7 })
      expect(await cps.load('c1')).toMatchObject({ state: 'again' })
      expect(await cps.load('taken')).toMatchObject({ state: 0 })
      expect(await cps.list('other')).toEqual(['taken'])
    })

    it('rejects bad input and changes nothing', async () => {
      await cps.saveWithTrace('t', { id: 'keep', state: 1 })
      await rejectsWith(cps.saveWithTrace('', { id: 'x', state: 1 }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: '', state: 1 }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: 'x' } as never), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: 'x', state: 1n }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: 'x', state: undefined }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: 'x', state: 1, createdAt: -5 }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', { id: 'x', state: 1, metadata: [] as never }), 'INVALID_ARGUMENT')
      await rejectsWith(cps.saveWithTrace('t', null as never), 'INVALID_ARGUMENT')
      for (const keep of [-1, 1.5, NaN, '2']) await rejectsWith(cps.prune('t', keep as number), 'INVALID_ARGUMENT')
      await rejectsWith(cps.load(''), 'INVALID_ARGUMENT')
      await rejectsWith(cps.listTraces({ limit: 0 }), 'INVALID_ARGUMENT')
      expect(await cps.list('t')).toEqual(['keep'])
      expect(await cps.load('x')).toBeNull()
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      await rejectsWith(cps.saveWithTrace('t', { id: 'x', state: 1 }), 'STORE_CLOSED')
      await rejectsWith(cps.load('x'), 'STORE_CLOSED')
      await rejectsWith(cps.loadLatest('t'), 'STORE_CLOSED')
      await rejectsWith(cps.list('t'), 'STORE_CLOSED')
      await rejectsWith(cps.delete('x'), 'STORE_CLOSED')
      await rejectsWith(cps.prune('t', 1), 'STORE_CLOSED')
      await rejectsWith(cps.listTraces(), 'STORE_CLOSED')
    })
  })
}
