import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { PoisonStore } from '../poison/types.js'
import type { Store } from '../store.js'
import { rejectsWith, type ConformanceTarget } from './helpers.js'

/** Registers the poison store conformance cases (`spec/poison.md`) for `target` with vitest. */
export function runPoisonStoreSuite(target: ConformanceTarget): void {
  describe(`poison store conformance: ${target.name}`, () => {
    let store: Store
    let poison: PoisonStore
    beforeEach(async () => {
      store = await target.open()
      poison = store.poison
    })
    afterEach(async () => {
      await store.close()
    })

    it('puts, reads and deletes a key', async () => {
      expect(await poison.getPoison('table/1024')).toBeNull()
      await poison.tryPutPoison('table/1024', 'proc-1')
      expect(await poison.getPoison('table/1024')).toBe('proc-1')
      await poison.deletePoison('table/1024', 'proc-1')
      expect(await poison.getPoison('table/1024')).toBeNull()
    })

    it('treats a re-put with the same token as a success, and keeps the key', async () => {
      await poison.tryPutPoison('k', 't1')
      await poison.tryPutPoison('k', 't1')
      expect(await poison.getPoison('k')).toBe('t1')
    })

    it("refuses another token's put or delete with POISON_CONFLICT naming the holder", async () => {
      await poison.tryPutPoison('k', 't1')
      const put = await rejectsWith(poison.tryPutPoison('k', 't2'), 'POISON_CONFLICT')
      expect(put).toMatchObject({ key: 'k', holderToken: 't1' })
      expect(put.message).toContain('t1')
      const del = await rejectsWith(poison.deletePoison('k', 't2'), 'POISON_CONFLICT')
      expect(del).toMatchObject({ key: 'k', holderToken: 't1' })
      expect(await poison.getPoison('k')).toBe('t1')
    })

    it('treats deleting an absent key as a success', async () => {
      await poison.deletePoison('never', 't')
      await poison.tryPutPoison('k', 't')
      await poison.deletePoison('k', 't')
      await poison.deletePoison('k', 't')
      expect(await poison.getPoison('k')).toBeNull()
    })

    it('lets exactly one of many concurrent putters with distinct tokens win', async () => {
      const results = await Promise.allSettled(Array.from({ length: 25 }, (_, i) => poison.tryPutPoison('contested', `t${i}`)))
      const winners = results.flatMap((r, i) => (r.status === 'fulfilled' ? [`t${i}`] : []))
      expect(winners).toHaveLength(1)
      for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('POISON_CONFLICT')
      expect(await poison.getPoison('contested')).toBe(winners[0])
    })

    it('lists keys by prefix in code-point order, with their tokens and times', async () => {
      const before = Date.now()
      for (const key of ['b/2', 'a/1', 'B/1', 'a/10', 'é/1', 'a%', 'a_', 'ab', '\u{1F600}', '\uFFFF']) await poison.tryPutPoison(key, `tok-${key}`)
      const all = await poison.listPoison()
      expect(all.map((r) => r.key)).toEqual(['B/1', 'a%', 'a/1', 'a/10', 'a_', 'ab', 'b/2', 'é/1', '\uFFFF', '\u{1F600}'])
      expect(all[0]).toMatchObject({ token: 'tok-B/1' })
      expect(all[0]!.createdAt).toBeGreaterThanOrEqual(before - 1000)
      expect((await poison.listPoison('a/')).map((r) => r.key)).toEqual(['a/1', 'a/10'])
      expect((await poison.listPoison('a%')).map((r) => r.key)).toEqual(['a%'])
      expect((await poison.listPoison('a_')).map((r) => r.key)).toEqual(['a_'])
      expect((await poison.listPoison('')).length).toBe(10)
      expect(await poison.listPoison('zzz')).toEqual([])
    })

    it('clears a key whatever its token, returns the token and records the clear', async () => {
      await poison.tryPutPoison('table/7', 'proc-9')
      const before = Date.now()
      expect(await poison.clearPoison('table/7', 'alice', 'repaired the metadata by hand')).toBe('proc-9')
      expect(await poison.getPoison('table/7')).toBeNull()
      expect(await poison.clearPoison('table/7', 'alice')).toBeNull()
      await poison.tryPutPoison('table/7', 'proc-10')
      await poison.tryPutPoison('table/8', 'proc-11')
      expect(await poison.clearPoison('table/8', 'bob')).toBe('proc-11')
      expect(await poison.clearPoison('table/7', 'carol')).toBe('proc-10')
      const audit = await poison.listPoisonAudit()
      expect(audit.map((a) => [a.key, a.token, a.by, a.reason])).toEqual([
        ['table/7', 'proc-9', 'alice', 'repaired the metadata by hand'],
        ['table/8', 'proc-11', 'bob', null],
        ['table/7', 'proc-10', 'carol', null],
      ])
      expect(audit[0]!.at).toBeGreaterThanOrEqual(before - 1000)
      expect((await poison.listPoisonAudit('table/7')).map((a) => a.by)).toEqual(['alice', 'carol'])
      expect(await poison.listPoisonAudit('none')).toEqual([])
    })

    it('records operator actions with auditPoison beside the clears, changing no key', async () => {
      await poison.tryPutPoison('subscription/orders', 'w1')
      await poison.auditPoison('subscription/orders', 'rewind:beginning', 'alice', 'rebuild the projection')
      expect(await poison.getPoison('subscription/orders')).toBe('w1')
      await poison.clearPoison('subscription/orders', 'bob', 'resume')
      expect((await poison.listPoisonAudit('subscription/orders')).map((a) => [a.token, a.by, a.reason])).toEqual([
        ['rewind:beginning', 'alice', 'rebuild the projection'],
        ['w1', 'bob', 'resume'],
      ])
      await rejectsWith(poison.auditPoison('k', '', 'alice'), 'INVALID_ARGUMENT')
      await rejectsWith(poison.auditPoison('k', 't', 'alice', 'bad \0 reason'), 'INVALID_ARGUMENT')
      expect(await poison.listPoisonAudit('k')).toEqual([])
    })

    it('guards work with withPoison: deleted on success, kept on failure', async () => {
      expect(await poison.withPoison('job', 't1', async () => 42)).toBe(42)
      expect(await poison.getPoison('job')).toBeNull()
      const boom = new Error('half done')
      await expect(poison.withPoison('job', 't2', () => Promise.reject(boom))).rejects.toBe(boom)
      expect(await poison.getPoison('job')).toBe('t2')
      await rejectsWith(poison.withPoison('job', 't3', () => 'never runs'), 'POISON_CONFLICT')
      expect(await poison.getPoison('job')).toBe('t2')
    })

    it('rejects bad input and changes nothing', async () => {
      await poison.tryPutPoison('k', 't')
      const long = 'x'.repeat(1025)
      await rejectsWith(poison.tryPutPoison('', 't'), 'INVALID_ARGUMENT')
      await rejectsWith(poison.tryPutPoison(long, 't'), 'INVALID_ARGUMENT')
      await rejectsWith(poison.tryPutPoison('k2', ''), 'INVALID_ARGUMENT')
      await rejectsWith(poison.tryPutPoison(7 as unknown as string, 't'), 'INVALID_ARGUMENT')
      await rejectsWith(poison.deletePoison('k', long), 'INVALID_ARGUMENT')
      await rejectsWith(poison.getPoison(null as unknown as string), 'INVALID_ARGUMENT')
      await rejectsWith(poison.listPoison(5 as unknown as string), 'INVALID_ARGUMENT')
      await rejectsWith(poison.clearPoison('k', ''), 'INVALID_ARGUMENT')
      await rejectsWith(poison.clearPoison('k', 'op', 3 as unknown as string), 'INVALID_ARGUMENT')
      await rejectsWith(poison.listPoisonAudit(''), 'INVALID_ARGUMENT')
      await rejectsWith(poison.withPoison('k3', 't', 'nope' as unknown as () => void), 'INVALID_ARGUMENT')
      expect(await poison.listPoison()).toEqual([expect.objectContaining({ key: 'k', token: 't' })])
      expect(await poison.listPoisonAudit()).toEqual([])
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      await rejectsWith(poison.tryPutPoison('k', 't'), 'STORE_CLOSED')
      await rejectsWith(poison.deletePoison('k', 't'), 'STORE_CLOSED')
      await rejectsWith(poison.getPoison('k'), 'STORE_CLOSED')
      await rejectsWith(poison.listPoison(), 'STORE_CLOSED')
      await rejectsWith(poison.clearPoison('k', 'op'), 'STORE_CLOSED')
      await rejectsWith(poison.listPoisonAudit(), 'STORE_CLOSED')
      await rejectsWith(poison.withPoison('k', 't', () => 1), 'STORE_CLOSED')
    })
  })
}
