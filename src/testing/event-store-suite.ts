import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { encodeCursor } from '../events/cursor.js'
import type { Args, Edge, Event, EventStore, NewEvent } from '../events/types.js'
import type { Store } from '../store.js'
import { bytes, event, newId, readAll, rejectsWith, throwsWith, type ConformanceTarget } from './helpers.js'

/** Registers the event store conformance cases (`spec/events.md`) for `target` with vitest. */
export function runEventStoreSuite(target: ConformanceTarget): void {
  describe(`event store conformance: ${target.name}`, () => {
    let store: Store
    let events: EventStore
    beforeEach(async () => {
      store = await target.open()
      events = store.events
    })
    afterEach(async () => {
      await store.close()
    })

    describe('write', () => {
      it('stores every field and assigns increasing positions and timestamps', async () => {
        const before = Date.now()
        await events.write([
          event('o1', 1, { routingKey: 'eu', metadata: bytes('{"by":"me"}') }),
          event('o1', 2),
        ])
        const all = await readAll(events)
        expect(all).toHaveLength(2)
        const [a, b] = all
        expect(a!.aggregatorType).toBe('shop/Order')
        expect(a!.aggregatorId).toBe('o1')
        expect(a!.version).toBe(1)
        expect(a!.name).toBe('Placed')
        expect(a!.routingKey).toBe('eu')
        expect(a!.data).toEqual(bytes('o1@1'))
        expect(a!.metadata).toEqual(bytes('{"by":"me"}'))
        expect(b!.routingKey).toBeNull()
        expect(b!.metadata).toEqual(new Uint8Array(0))
        expect(b!.position).toBeGreaterThan(a!.position)
        expect(Number.isSafeInteger(a!.position)).toBe(true)
        expect(a!.timestamp).toBeGreaterThanOrEqual(before - 1000)
        expect(a!.timestamp).toBeLessThanOrEqual(Date.now() + 1000)
      })

      it('treats an empty array as a no-op', async () => {
        await events.write([])
        expect(await readAll(events)).toEqual([])
      })

      it('round-trips non-ASCII keys and empty and binary payloads', async () => {
        const data = new Uint8Array([0, 255, 1, 254, 0])
        await events.write([event('заказ-🦀', 1, { aggregatorType: 'magasin/Commande', name: 'Créé', routingKey: '東京', data })])
        await events.write([event('o2', 1, { data: new Uint8Array(0) })])
        const [a, b] = await readAll(events)
        expect(a).toMatchObject({ aggregatorId: 'заказ-🦀', aggregatorType: 'magasin/Commande', name: 'Créé', routingKey: '東京' })
        expect(a!.data).toEqual(data)
        expect(b!.data).toEqual(new Uint8Array(0))
      })

      it('keeps its own copy of the payload, and hands out copies', async () => {
        const data = bytes('original')
        const write = events.write([event('o1', 1, { data })])
        data.fill(0)
        await write
        const [first] = await readAll(events)
        expect(first!.data).toEqual(bytes('original'))
        first!.data.fill(0)
        expect((await readAll(events))[0]!.data).toEqual(bytes('original'))
      })

      it('requires a new aggregate to start at version 1', async () => {
        const err = await rejectsWith(events.write([event('o1', 2)]), 'INVALID_ORIGINAL_VERSION')
        expect(err).toMatchObject({ aggregatorType: 'shop/Order', aggregatorId: 'o1', expectedVersion: 1, foundVersion: 0 })
        expect(await readAll(events)).toEqual([])
      })

      it('requires the next version to follow the stored one', async () => {
        await events.write([event('o1', 1), event('o1', 2)])
        const err = await rejectsWith(events.write([event('o1', 2)]), 'INVALID_ORIGINAL_VERSION')
        expect(err).toMatchObject({ aggregatorId: 'o1', expectedVersion: 1, foundVersion: 2 })
        expect(err.message).toContain('o1')
        await rejectsWith(events.write([event('o1', 4)]), 'INVALID_ORIGINAL_VERSION')
        await events.write([event('o1', 3)])
        expect((await readAll(events)).map((e) => e.version)).toEqual([1, 2, 3])
      })

      it('requires consecutive versions in batch order', async () => {
        await rejectsWith(events.write([event('o1', 2), event('o1', 1)]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([event('o1', 1), event('o1', 3)]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([event('o1', 1), event('o1', 1)]), 'INVALID_ORIGINAL_VERSION')
        expect(await readAll(events)).toEqual([])
      })

      it('lets aggregates interleave in one batch and writes all or nothing', async () => {
        await events.write([event('a', 1), event('b', 1), event('a', 2), event('b', 2)])
        expect((await readAll(events)).map((e) => `${e.aggregatorId}${e.version}`)).toEqual(['a1', 'b1', 'a2', 'b2'])
        await rejectsWith(events.write([event('c', 1), event('a', 3), event('b', 2)]), 'INVALID_ORIGINAL_VERSION')
        expect(await readAll(events)).toHaveLength(4)
      })

      it('distinguishes aggregates by type as well as id', async () => {
        await events.write([event('x', 1, { aggregatorType: 'A' }), event('x', 1, { aggregatorType: 'B' })])
        expect(await readAll(events)).toHaveLength(2)
      })

      it('refuses a duplicate id, stored or within the batch, and writes nothing', async () => {
        const first = event('o1', 1)
        await events.write([first])
        await rejectsWith(events.write([event('o2', 1, { id: first.id })]), 'INVALID_ARGUMENT')
        const id = newId()
        await rejectsWith(events.write([event('o3', 1, { id }), event('o4', 1, { id })]), 'INVALID_ARGUMENT')
        expect(await readAll(events)).toHaveLength(1)
      })

      it('takes a retry of a committed write as a success and stores its events once', async () => {
        const write = [event('r1', 1, { routingKey: 'eu', metadata: bytes('m') }), event('r1', 2)]
        await events.write(write)
        await events.write([event('r1', 3)])
        // The same events again (a caller whose reply was lost retries): resolved, nothing written twice.
        await events.write(write.map((e) => ({ ...e, data: new Uint8Array(e.data) })))
        await Promise.all([events.write(write), events.write(write), events.write([event('r2', 1)])])
        expect((await readAll(events)).map((e) => [e.aggregatorId, e.version])).toEqual([['r1', 1], ['r1', 2], ['r1', 3], ['r2', 1]])
      })

      it('refuses a write that reuses stored ids with other contents, or only some of them', async () => {
        const [a, b] = [event('s1', 1), event('s1', 2)]
        await events.write([a!, b!])
        await rejectsWith(events.write([{ ...a!, data: bytes('other') }, b!]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([{ ...b!, name: 'Renamed' }]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([{ ...a!, routingKey: 'elsewhere' }]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([b!, event('s1', 3)]), 'INVALID_ORIGINAL_VERSION')
        await rejectsWith(events.write([{ ...a!, aggregatorId: 's2' }]), 'INVALID_ARGUMENT')
        expect(await readAll(events)).toHaveLength(2)
      })

      it('lets exactly one of many concurrent writers of the same version win', async () => {
        await events.write([event('hot', 1)])
        const results = await Promise.allSettled(Array.from({ length: 32 }, () => events.write([event('hot', 2)])))
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        for (const r of results) if (r.status === 'rejected') expect((r.reason as { code: string }).code).toBe('INVALID_ORIGINAL_VERSION')
        expect((await readAll(events)).map((e) => e.version)).toEqual([1, 2])
      })

      it("fails only the conflicting caller's write when writes are committed together", async () => {
        await events.write([event('busy', 1)])
        const writes = [
          events.write([event('calm-1', 1)]),
          events.write([event('busy', 1)]),
          events.write([event('calm-2', 1), event('calm-2', 2)]),
          events.write([event('busy', 2)]),
          events.write([event('busy', 3)]),
          events.write([event('calm-3', 1)]),
        ]
        const results = await Promise.allSettled(writes)
        expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
        const all = await readAll(events)
        expect(all.filter((e) => e.aggregatorId === 'busy').map((e) => e.version)).toEqual([1, 2, 3])
        expect(all).toHaveLength(7)
      })

      it('assigns positions in commit order, consistent with versions', async () => {
        await Promise.all(Array.from({ length: 20 }, (_, i) => events.write([event(`p${i % 4}`, Math.floor(i / 4) + 1)]).catch(() => undefined)))
        const all = await readAll(events)
        const seen = new Map<string, number>()
        for (const e of all) {
          expect(e.version).toBe((seen.get(e.aggregatorId) ?? 0) + 1)
          seen.set(e.aggregatorId, e.version)
        }
        for (let i = 1; i < all.length; i++) expect(all[i]!.position).toBeGreaterThan(all[i - 1]!.position)
      })
    })

    describe('read filters', () => {
      beforeEach(async () => {
        await events.write([
          event('o1', 1, { name: 'Placed', routingKey: 'eu' }),
          event('o2', 1, { name: 'Placed' }),
          event('u1', 1, { aggregatorType: 'shop/User', name: 'Joined', routingKey: 'eu' }),
          event('o1', 2, { name: 'Paid', routingKey: 'eu' }),
          event('o2', 2, { name: 'Paid', routingKey: 'us' }),
          event('u1', 2, { aggregatorType: 'shop/User', name: 'Left' }),
        ])
      })
      const ids = async (...args: Parameters<EventStore['read']>): Promise<string[]> =>
        (await events.read(...args)).edges.map((e) => `${e.node.aggregatorId}.${e.node.version}`)

      it('reads everything with no filter or an empty one', async () => {
        const all = ['o1.1', 'o2.1', 'u1.1', 'o1.2', 'o2.2', 'u1.2']
        expect(await ids()).toEqual(all)
        expect(await ids(null, null)).toEqual(all)
        expect(await ids([], { all: true })).toEqual(all)
      })

      it('filters by type, id and name, OR-ing the filters', async () => {
        expect(await ids([{ aggregatorType: 'shop/Order' }])).toEqual(['o1.1', 'o2.1', 'o1.2', 'o2.2'])
        expect(await ids([{ aggregatorType: 'shop/Order', aggregatorId: 'o2' }])).toEqual(['o2.1', 'o2.2'])
        expect(await ids([{ aggregatorType: 'shop/Order', name: 'Paid' }])).toEqual(['o1.2', 'o2.2'])
        expect(await ids([{ aggregatorType: 'shop/Order', aggregatorId: 'o1', name: 'Paid' }])).toEqual(['o1.2'])
        expect(await ids([{ aggregatorType: 'shop/Order', aggregatorId: 'o1' }, { aggregatorType: 'shop/User', name: 'Left' }])).toEqual(['o1.1', 'o1.2', 'u1.2'])
        expect(await ids([{ aggregatorType: 'nope' }])).toEqual([])
        expect(await ids([{ aggregatorType: 'shop/order' }])).toEqual([])
      })

      it('filters by routing key: a value, none, or all', async () => {
        expect(await ids(null, { value: 'eu' })).toEqual(['o1.1', 'u1.1', 'o1.2'])
        expect(await ids(null, { value: null })).toEqual(['o2.1', 'u1.2'])
        expect(await ids(null, { all: true })).toHaveLength(6)
        expect(await ids([{ aggregatorType: 'shop/Order' }], { value: 'eu' })).toEqual(['o1.1', 'o1.2'])
        expect(await ids([{ aggregatorType: 'shop/Order' }, { aggregatorType: 'shop/User' }], { value: null })).toEqual(['o2.1', 'u1.2'])
      })
    })

    describe('pagination', () => {
      const N = 25
      beforeEach(async () => {
        // Two interleaved aggregates so that filtered pages skip positions.
        for (let v = 1; v <= N; v++) await events.write([event('even', v, { routingKey: v % 5 === 0 ? 'fives' : null }), event('odd', v)])
      })
      const versions = (page: { edges: { node: { version: number } }[] }): number[] => page.edges.map((e) => e.node.version)
      const evenOnly = [{ aggregatorType: 'shop/Order', aggregatorId: 'even' }]

      it('defaults to the first 100', async () => {
        for (let v = N + 1; v <= 70; v++) await events.write([event('even', v), event('odd', v)])
        const page = await events.read()
        expect(page.edges).toHaveLength(100)
        expect(page.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false })
        const next = await events.read(null, null, { after: page.pageInfo.endCursor! })
        expect(next.edges).toHaveLength(40)
        expect(next.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true })
      })

      it('pages forward exactly, with filters', async () => {
        const seen: number[] = []
        let args: Args = { first: 10 }
        let pages = 0
        for (;;) {
          const page = await events.read(evenOnly, null, args)
          pages++
          seen.push(...versions(page))
          expect(page.pageInfo.hasPreviousPage).toBe(pages > 1)
          expect(page.pageInfo.startCursor).toBe(page.edges[0]!.cursor)
          expect(page.pageInfo.endCursor).toBe(page.edges[page.edges.length - 1]!.cursor)
          if (!page.pageInfo.hasNextPage) break
          args = { first: 10, after: page.pageInfo.endCursor! }
        }
        expect(pages).toBe(3)
        expect(seen).toEqual(Array.from({ length: N }, (_, i) => i + 1))
      })

      it('reports no next page when the page ends exactly at the last match', async () => {
        const page = await events.read(evenOnly, null, { first: N })
        expect(page.edges).toHaveLength(N)
        expect(page.pageInfo.hasNextPage).toBe(false)
        const after = await events.read(evenOnly, null, { first: 5, after: page.pageInfo.endCursor! })
        expect(after.edges).toEqual([])
        expect(after.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null })
      })

      it('pages backward exactly, edges in ascending order', async () => {
        const last = await events.read(evenOnly, null, { last: 10 })
        expect(versions(last)).toEqual([16, 17, 18, 19, 20, 21, 22, 23, 24, 25])
        expect(last.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false })
        const prev = await events.read(evenOnly, null, { last: 10, before: last.pageInfo.startCursor! })
        expect(versions(prev)).toEqual([6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
        expect(prev.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: true })
        const first = await events.read(evenOnly, null, { last: 10, before: prev.pageInfo.startCursor! })
        expect(versions(first)).toEqual([1, 2, 3, 4, 5])
        expect(first.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true })
        const none = await events.read(evenOnly, null, { last: 10, before: first.pageInfo.startCursor! })
        expect(none.edges).toEqual([])
        expect(none.pageInfo).toEqual({ hasPreviousPage: false, hasNextPage: true, startCursor: null, endCursor: null })
      })

      it('pages backward with before alone, 100 per page', async () => {
        const all = await events.read(null, null, { first: 50 })
        const page = await events.read(null, null, { before: all.pageInfo.endCursor! })
        expect(page.edges).toHaveLength(49)
        expect(page.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true })
      })

      it('hands out cursors that round-trip between directions', async () => {
        const page = await events.read(null, { value: 'fives' }, { first: 2 })
        expect(versions(page)).toEqual([5, 10])
        const back = await events.read(null, { value: 'fives' }, { last: 1, before: page.pageInfo.endCursor! })
        expect(versions(back)).toEqual([5])
        expect(back.pageInfo).toMatchObject({ hasPreviousPage: false, hasNextPage: true })
        const on = await events.read(null, { value: 'fives' }, { after: page.pageInfo.endCursor! })
        expect(versions(on)).toEqual([15, 20, 25])
        expect(on.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false })
      })

      it('measures an empty page from the cursor given', async () => {
        const all = await events.read(null, null, { first: 10_000 })
        const beyond = encodeCursor(all.edges[all.edges.length - 1]!.node.position + 1000)
        expect((await events.read(null, null, { after: beyond })).pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null })
        expect((await events.read(null, null, { before: encodeCursor(0) })).pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null })
        const none = await events.read([{ aggregatorType: 'nope' }], null, { first: 3, after: all.pageInfo.startCursor! })
        expect(none.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null })
      })

      it('accepts the page size bounds and rejects anything else', async () => {
        expect((await events.read(null, null, { first: 1 })).edges).toHaveLength(1)
        expect((await events.read(null, null, { last: 10_000 })).edges).toHaveLength(2 * N)
        for (const bad of [0, -1, 10_001, 1.5, NaN, Infinity, '5', null]) {
          await rejectsWith(events.read(null, null, { first: bad as number }), 'INVALID_ARGUMENT')
          await rejectsWith(events.read(null, null, { last: bad as number }), 'INVALID_ARGUMENT')
        }
      })

      it('rejects mixed directions', async () => {
        const c = (await events.read(null, null, { first: 2 })).pageInfo.endCursor!
        await rejectsWith(events.read(null, null, { first: 1, last: 1 }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, null, { after: c, before: c }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, null, { first: 1, before: c }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, null, { last: 1, after: c }), 'INVALID_ARGUMENT')
      })

      it('rejects malformed and foreign cursors', async () => {
        const good = (await events.read(null, null, { first: 2 })).pageInfo.endCursor!
        expect(good).toMatch(/^[A-Za-z0-9_-]+$/)
        const foreign = [
          '', 'not a cursor', good + '=', good.slice(0, 5), `${good}.`, Buffer.from('{"position":3}').toString('base64url'),
          Buffer.from('hf1.-1').toString('base64url'), Buffer.from('hf1.01').toString('base64url'), Buffer.from('hf2.3').toString('base64url'),
          Buffer.from('hf1.99999999999999999').toString('base64url'), 'aGYxLjE=',
        ]
        for (const cursor of foreign) {
          await rejectsWith(events.read(null, null, { after: cursor }), 'INVALID_ARGUMENT')
          await rejectsWith(events.read(null, null, { before: cursor }), 'INVALID_ARGUMENT')
        }
        await rejectsWith(events.read(null, null, { after: 42 as unknown as string }), 'INVALID_ARGUMENT')
      })
    })

    describe('subscribers', () => {
      it('has no cursor for an unknown or new subscriber', async () => {
        expect(await events.getSubscriberCursor('projector')).toBeNull()
        await events.upsertSubscriber('projector', 'w1')
        expect(await events.getSubscriberCursor('projector')).toBeNull()
      })

      it('tells which worker owns a subscriber, and the last upsert wins', async () => {
        expect(await events.isSubscriberRunning('projector', 'w1')).toBe(false)
        await events.upsertSubscriber('projector', 'w1')
        expect(await events.isSubscriberRunning('projector', 'w1')).toBe(true)
        expect(await events.isSubscriberRunning('projector', 'w2')).toBe(false)
        await events.upsertSubscriber('projector', 'w2')
        expect(await events.isSubscriberRunning('projector', 'w1')).toBe(false)
        expect(await events.isSubscriberRunning('projector', 'w2')).toBe(true)
        expect(await events.isSubscriberRunning('other', 'w2')).toBe(false)
      })

      it('records acknowledgements with cursor, lag and time; a takeover keeps them', async () => {
        await events.write([event('o1', 1), event('o1', 2)])
        const page = await events.read()
        await events.upsertSubscriber('projector', 'w1')
        const before = Date.now()
        await events.acknowledge('projector', page.edges[0]!.cursor, 1)
        expect(await events.getSubscriberCursor('projector')).toBe(page.edges[0]!.cursor)
        const info = await events.getSubscriber('projector')
        expect(info).toMatchObject({ key: 'projector', workerId: 'w1', cursor: page.edges[0]!.cursor, lag: 1 })
        expect(info!.acknowledgedAt).toBeGreaterThanOrEqual(before - 1000)
        await events.upsertSubscriber('projector', 'w2')
        expect(await events.getSubscriber('projector')).toMatchObject({ workerId: 'w2', cursor: page.edges[0]!.cursor, lag: 1 })
        // The last acknowledgement wins, even backwards.
        await events.acknowledge('projector', page.edges[1]!.cursor, 0)
        await events.acknowledge('projector', page.edges[0]!.cursor, 7)
        expect(await events.getSubscriber('projector')).toMatchObject({ cursor: page.edges[0]!.cursor, lag: 7 })
        expect(await events.getSubscriber('nobody')).toBeNull()
      })

      it('fences acknowledgements by worker', async () => {
        await events.write([event('o1', 1), event('o1', 2)])
        const [a, b] = (await events.read()).edges
        await events.upsertSubscriber('projector', 'w1')
        await events.acknowledge('projector', a!.cursor, 1, 'w1')
        await events.upsertSubscriber('projector', 'w2')
        const err = await rejectsWith(events.acknowledge('projector', b!.cursor, 0, 'w1'), 'SUBSCRIBER_REPLACED')
        expect(err.message).toContain('w2')
        expect(await events.getSubscriberCursor('projector')).toBe(a!.cursor)
        await events.acknowledge('projector', b!.cursor, 0, 'w2')
        expect(await events.getSubscriberCursor('projector')).toBe(b!.cursor)
      })

      it('rejects acknowledging an unknown subscriber, a bad cursor or a bad lag', async () => {
        const cursor = encodeCursor(1)
        await rejectsWith(events.acknowledge('ghost', cursor, 0), 'NOT_FOUND')
        await rejectsWith(events.acknowledge('ghost', cursor, 0, 'w1'), 'NOT_FOUND')
        await events.upsertSubscriber('projector', 'w1')
        await rejectsWith(events.acknowledge('projector', 'garbage!', 0), 'INVALID_ARGUMENT')
        for (const lag of [-1, 1.5, NaN, '3', 2 ** 53]) await rejectsWith(events.acknowledge('projector', cursor, lag as number), 'INVALID_ARGUMENT')
        expect(await events.getSubscriberCursor('projector')).toBeNull()
      })

      it('claims a subscriber with a lease: new, renewed by its owner, refused to others while it lasts', async () => {
        const before = Date.now()
        const first = await events.claimSubscriber('projector', 'w1', 60_000)
        expect(first).toMatchObject({ key: 'projector', workerId: 'w1', cursor: null, lag: 0, generation: 0 })
        expect(first.leaseExpiresAt).toBeGreaterThanOrEqual(before + 60_000 - 5_000)
        const other = await events.claimSubscriber('projector', 'w2', 60_000)
        expect(other.workerId).toBe('w1')
        expect(await events.isSubscriberRunning('projector', 'w1')).toBe(true)
        const renewed = await events.claimSubscriber('projector', 'w1', 120_000)
        expect(renewed.workerId).toBe('w1')
        expect(renewed.leaseExpiresAt).toBeGreaterThan(first.leaseExpiresAt!)
        expect(renewed.updatedAt).toBe(first.updatedAt)
      })

      it('lets a standby take a lease that ran out or was released, keeping the cursor', async () => {
        await events.write([event('o1', 1)])
        const [a] = (await events.read()).edges
        await events.claimSubscriber('projector', 'w1', 1)
        await events.acknowledge('projector', a!.cursor, 0, 'w1')
        await new Promise((r) => setTimeout(r, 20))
        const taken = await events.claimSubscriber('projector', 'w2', 60_000)
        expect(taken).toMatchObject({ workerId: 'w2', cursor: a!.cursor, generation: 1 })
        // The old owner's fenced acknowledgement now fails; a claim of its own does not take the key back.
        await rejectsWith(events.acknowledge('projector', a!.cursor, 0, 'w1'), 'SUBSCRIBER_REPLACED')
        expect((await events.claimSubscriber('projector', 'w1', 60_000)).workerId).toBe('w2')
        await events.releaseSubscriber('projector', 'w1') // not the owner: nothing happens
        expect((await events.claimSubscriber('projector', 'w3', 60_000)).workerId).toBe('w2')
        await events.releaseSubscriber('projector', 'w2')
        expect((await events.claimSubscriber('projector', 'w3', 60_000)).workerId).toBe('w3')
        // A worker that lost the key and takes it back gets a new generation: its old tenure's acknowledgement fails.
        await events.releaseSubscriber('projector', 'w3')
        const back = await events.claimSubscriber('projector', 'w1', 60_000)
        expect(back).toMatchObject({ workerId: 'w1', generation: 3 })
        await rejectsWith(events.acknowledge('projector', a!.cursor, 0, 'w1', 0), 'SUBSCRIBER_REPLACED')
        await events.upsertSubscriber('projector', 'w4')
        expect((await events.getSubscriber('projector'))!.generation).toBe(4)
        // A subscriber made by upsertSubscriber has no lease: a claim takes it.
        await events.upsertSubscriber('legacy', 'old')
        expect((await events.getSubscriber('legacy'))!.leaseExpiresAt).toBeNull()
        expect((await events.claimSubscriber('legacy', 'w1', 1000)).workerId).toBe('w1')
      })

      it('rewinds a subscriber, and fences acknowledgements by generation', async () => {
        await events.write([event('o1', 1), event('o1', 2)])
        const [a, b] = (await events.read()).edges
        const claim = await events.claimSubscriber('projector', 'w1', 60_000)
        await events.acknowledge('projector', b!.cursor, 0, 'w1', claim.generation)
        await events.rewindSubscriber('projector', a!.cursor)
        const after = await events.getSubscriber('projector')
        expect(after).toMatchObject({ cursor: a!.cursor, generation: claim.generation + 1, workerId: 'w1' })
        // The worker read generation 0 before the rewind: its acknowledgement cannot move the cursor over it.
        const err = await rejectsWith(events.acknowledge('projector', b!.cursor, 0, 'w1', claim.generation), 'SUBSCRIBER_REPLACED')
        expect(err).toMatchObject({ reason: 'rewound' })
        expect(await events.getSubscriberCursor('projector')).toBe(a!.cursor)
        await events.acknowledge('projector', b!.cursor, 0, 'w1', after!.generation)
        await events.rewindSubscriber('projector', null)
        expect(await events.getSubscriber('projector')).toMatchObject({ cursor: null, generation: claim.generation + 2 })
        await rejectsWith(events.rewindSubscriber('ghost', null), 'NOT_FOUND')
      })

      it('refuses bad lease and rewind arguments', async () => {
        for (const ms of [0, -1, 1.5, NaN, '10', 86_400_001]) await rejectsWith(events.claimSubscriber('k', 'w', ms as number), 'INVALID_ARGUMENT')
        await rejectsWith(events.claimSubscriber('', 'w', 10), 'INVALID_ARGUMENT')
        await rejectsWith(events.claimSubscriber('k', '', 10), 'INVALID_ARGUMENT')
        await rejectsWith(events.releaseSubscriber('k', 42 as unknown as string), 'INVALID_ARGUMENT')
        await rejectsWith(events.rewindSubscriber('k', 'garbage!'), 'INVALID_ARGUMENT')
        await events.claimSubscriber('k', 'w', 10)
        await rejectsWith(events.acknowledge('k', encodeCursor(1), 0, undefined, 0), 'INVALID_ARGUMENT')
        await rejectsWith(events.acknowledge('k', encodeCursor(1), 0, 'w', -1), 'INVALID_ARGUMENT')
        expect(await events.getSubscriber('k')).toMatchObject({ cursor: null, generation: 0 })
        expect(await events.getSubscriber('nobody')).toBeNull()
      })

      it('lists subscribers in key text order, paged by the last key', async () => {
        expect(await events.listSubscribers()).toEqual([])
        // U+1F600 (a surrogate pair in UTF-16) sorts after U+E000 by code point: text order, not UTF-16 or locale order.
        for (const k of ['b', 'a/2', '\u{1F600}', '\uE000', 'a']) await events.upsertSubscriber(k, `w-${k}`)
        const all = await events.listSubscribers()
        expect(all.map((s) => s.key)).toEqual(['a', 'a/2', 'b', '\uE000', '\u{1F600}'])
        expect(all[0]).toMatchObject({ key: 'a', workerId: 'w-a', cursor: null, lag: 0, generation: 0 })
        expect((await events.listSubscribers({ limit: 2 })).map((s) => s.key)).toEqual(['a', 'a/2'])
        expect((await events.listSubscribers({ after: 'a/2', limit: 2 })).map((s) => s.key)).toEqual(['b', '\uE000'])
        expect(await events.listSubscribers({ after: '\u{1F600}' })).toEqual([])
        for (const bad of [{ limit: 0 }, { limit: 10_001 }, { limit: 1.5 }, { after: '' }, { after: 7 }, 'x'])
          await rejectsWith(events.listSubscribers(bad as never), 'INVALID_ARGUMENT')
      })
    })

    describe('snapshots', () => {
      it('saves, replaces and keeps revisions and ids apart', async () => {
        const c1 = encodeCursor(1)
        const c2 = encodeCursor(2)
        expect(await events.getSnapshot('shop/Order', 'r1', 'o1')).toBeNull()
        await events.saveSnapshot('shop/Order', 'r1', 'o1', bytes('one'), c1)
        expect(await events.getSnapshot('shop/Order', 'r1', 'o1')).toEqual({ data: bytes('one'), cursor: c1 })
        await events.saveSnapshot('shop/Order', 'r1', 'o1', bytes('two'), c2)
        expect(await events.getSnapshot('shop/Order', 'r1', 'o1')).toEqual({ data: bytes('two'), cursor: c2 })
        expect(await events.getSnapshot('shop/Order', 'r2', 'o1')).toBeNull()
        expect(await events.getSnapshot('shop/Order', 'r1', 'o2')).toBeNull()
        expect(await events.getSnapshot('shop/User', 'r1', 'o1')).toBeNull()
        await events.saveSnapshot('shop/Order', 'r2', 'o1', new Uint8Array(0), c1)
        expect(await events.getSnapshot('shop/Order', 'r2', 'o1')).toEqual({ data: new Uint8Array(0), cursor: c1 })
      })

      it('rejects bad snapshot input and keeps what was stored', async () => {
        const c = encodeCursor(3)
        await events.saveSnapshot('t', 'r', 'i', bytes('kept'), c)
        await rejectsWith(events.saveSnapshot('t', 'r', 'i', bytes('x'), 'nope'), 'INVALID_ARGUMENT')
        await rejectsWith(events.saveSnapshot('t', 'r', 'i', 'x' as unknown as Uint8Array, c), 'INVALID_ARGUMENT')
        await rejectsWith(events.saveSnapshot('', 'r', 'i', bytes('x'), c), 'INVALID_ARGUMENT')
        await rejectsWith(events.getSnapshot('t', '', 'i'), 'INVALID_ARGUMENT')
        expect(await events.getSnapshot('t', 'r', 'i')).toEqual({ data: bytes('kept'), cursor: c })
      })
    })

    describe('bad input', () => {
      const long = 'x'.repeat(1025)
      const cases: [string, (e: NewEvent) => unknown][] = [
        ['a non-string id', (e) => ({ ...e, id: 42 })],
        ['an empty id', (e) => ({ ...e, id: '' })],
        ['an oversized id', (e) => ({ ...e, id: long })],
        ['an id of 1,025 UTF-8 bytes', (e) => ({ ...e, id: 'é'.repeat(512) + 'x' })],
        ['an empty aggregatorType', (e) => ({ ...e, aggregatorType: '' })],
        ['a missing aggregatorId', (e) => ({ ...e, aggregatorId: undefined })],
        ['an oversized name', (e) => ({ ...e, name: long })],
        ['version 0', (e) => ({ ...e, version: 0 })],
        ['a fractional version', (e) => ({ ...e, version: 1.5 })],
        ['a string version', (e) => ({ ...e, version: '1' })],
        ['a negative version', (e) => ({ ...e, version: -1 })],
        ['an unsafe version', (e) => ({ ...e, version: 2 ** 53 })],
        ['an empty routing key', (e) => ({ ...e, routingKey: '' })],
        ['a numeric routing key', (e) => ({ ...e, routingKey: 7 })],
        ['string data', (e) => ({ ...e, data: 'hello' })],
        ['missing data', (e) => ({ ...e, data: undefined })],
        ['array metadata', (e) => ({ ...e, metadata: [1, 2] })],
        ['a lone surrogate', (e) => ({ ...e, aggregatorId: 'a\uD800b' })],
        ['a null event', () => null],
      ]
      for (const [what, mutate] of cases) {
        it(`rejects a write with ${what} and stores nothing`, async () => {
          await events.write([event('keep', 1)])
          await rejectsWith(events.write([event('new', 1), mutate(event('new2', 1)) as NewEvent]), 'INVALID_ARGUMENT')
          expect((await readAll(events)).map((e) => e.aggregatorId)).toEqual(['keep'])
        })
      }

      it('accepts keys of exactly 1,024 bytes', async () => {
        const key = 'k'.repeat(1024)
        await events.write([event(key, 1, { id: 'é'.repeat(512), name: key, routingKey: key, aggregatorType: key })])
        expect((await readAll(events))[0]!.aggregatorId).toBe(key)
      })

      it('rejects a non-array write, bad filters and bad routing keys', async () => {
        await rejectsWith(events.write(event('x', 1) as unknown as NewEvent[]), 'INVALID_ARGUMENT')
        await rejectsWith(events.read({ aggregatorType: 'x' } as unknown as []), 'INVALID_ARGUMENT')
        await rejectsWith(events.read([{ aggregatorType: '' }]), 'INVALID_ARGUMENT')
        await rejectsWith(events.read([{ aggregatorType: 't', aggregatorId: 3 as unknown as string }]), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, { value: '' }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, { all: false } as unknown as { all: true }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, {} as unknown as { all: true }), 'INVALID_ARGUMENT')
        await rejectsWith(events.read(null, null, 'first' as unknown as Args), 'INVALID_ARGUMENT')
        await rejectsWith(events.upsertSubscriber('', 'w'), 'INVALID_ARGUMENT')
        await rejectsWith(events.upsertSubscriber('k', 5 as unknown as string), 'INVALID_ARGUMENT')
        await rejectsWith(events.isSubscriberRunning('k', ''), 'INVALID_ARGUMENT')
        await rejectsWith(events.getSubscriberCursor(long), 'INVALID_ARGUMENT')
        expect(await events.getSubscriber('k')).toBeNull()
      })
    })

    describe('notification and lifecycle', () => {
      it('calls onCommitted listeners after a commit until stopped', async () => {
        let calls = 0
        const stop = events.onCommitted(() => calls++)
        await events.write([event('o1', 1)])
        await waitFor(() => calls > 0)
        stop()
        await new Promise((r) => setTimeout(r, 50))
        const seen = calls
        await events.write([event('o1', 2)])
        await new Promise((r) => setTimeout(r, 100))
        expect(calls).toBe(seen)
      })

      it("hands listeners a commit's own events, when it gives them, exactly as read returns them, in order", async () => {
        const given: Edge<Event>[][] = []
        const stop = events.onCommitted((committed) => void (committed && given.push([...committed])))
        try {
          await events.write([event('o1', 1)])
          await Promise.all(Array.from({ length: 8 }, (_, i) => events.write([event(`p${i}`, 1), event(`p${i}`, 2)])))
          await events.write([event('o1', 2)])
          await rejectsWith(events.write([event('o1', 4)]), 'INVALID_ORIGINAL_VERSION')
          await new Promise((r) => setTimeout(r, 50))
        } finally {
          stop()
        }
        const stored = new Map((await readAll(events)).map((e) => [e.position, e]))
        for (const edges of given) {
          const positions = edges.map((e) => e.node.position)
          expect(positions).toEqual([...positions].sort((a, b) => a - b))
          for (const edge of edges) {
            expect(edge.cursor).toBe(encodeCursor(edge.node.position))
            expect(edge.node).toEqual(stored.get(edge.node.position))
          }
        }
        // Nothing given twice, nothing that was not stored.
        const all = given.flat().map((e) => e.node.id)
        expect(new Set(all).size).toBe(all.length)
      })

      it('closes idempotently and then refuses every call with STORE_CLOSED', async () => {
        await events.write([event('o1', 1)])
        await Promise.all([store.close(), store.close()])
        await store.close()
        const cursor = encodeCursor(1)
        await rejectsWith(events.write([event('o1', 2)]), 'STORE_CLOSED')
        await rejectsWith(events.read(), 'STORE_CLOSED')
        await rejectsWith(events.getSubscriberCursor('k'), 'STORE_CLOSED')
        await rejectsWith(events.upsertSubscriber('k', 'w'), 'STORE_CLOSED')
        await rejectsWith(events.isSubscriberRunning('k', 'w'), 'STORE_CLOSED')
        await rejectsWith(events.acknowledge('k', cursor, 0), 'STORE_CLOSED')
        await rejectsWith(events.getSubscriber('k'), 'STORE_CLOSED')
        await rejectsWith(events.getSnapshot('t', 'r', 'i'), 'STORE_CLOSED')
        await rejectsWith(events.saveSnapshot('t', 'r', 'i', bytes('x'), cursor), 'STORE_CLOSED')
        throwsWith(() => events.onCommitted(() => {}), 'STORE_CLOSED')
      })

      it('commits writes that were pending when close() was called', async () => {
        const pending = Array.from({ length: 10 }, (_, i) => events.write([event(`c${i}`, 1)]))
        await store.close()
        await Promise.all(pending)
      })
    })
  })
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting for a condition')
    await new Promise((r) => setTimeout(r, 10))
  }
}
