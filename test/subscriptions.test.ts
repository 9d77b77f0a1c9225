import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { listParked, openStore, resumeParked, rewindSubscription, subscribe, type Event, type Store, type Subscription } from '../src/index.js'
import { event, rejectsWith, throwsWith } from '../src/testing/index.js'
import { backends, PG_URL, tempDir, uniqueSchema } from './backends.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function readEveryEvent(store: Store): Promise<Event[]> {
  const out: Event[] = []
  let after: string | undefined
  for (;;) {
    const page = await store.events.read(null, null, after ? { first: 1000, after } : { first: 1000 })
    out.push(...page.edges.map((e) => e.node))
    if (!page.pageInfo.hasNextPage) return out
    after = page.pageInfo.endCursor!
  }
}

/** Polls `check` until it holds or `ms` pass. */
async function until(check: () => boolean | Promise<boolean>, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not hold within ${ms} ms`)
    await sleep(10)
  }
}

for (const target of backends()) {
  describe(`subscriptions: ${target.name}`, () => {
    let store: Store
    const subs: Subscription[] = []
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(async () => {
      for (const s of subs.splice(0)) await s.stop()
      await store.close()
    })
    const run = (options: Parameters<typeof subscribe>[1]): Subscription => {
      const s = subscribe(store, { leaseMs: 1000, checkIntervalMs: 500, retry: { attempts: 3, minBackoffMs: 1, maxBackoffMs: 5 }, ...options })
      subs.push(s)
      return s
    }

    it('delivers every matching event once, in order, in batches; a new subscribe after stop redelivers nothing', async () => {
      for (let v = 1; v <= 25; v++) await store.events.write([event('o1', v), event(`other-${v}`, 1, { aggregatorType: 'shop/Other' })])
      const seen: Event[] = []
      const batches: number[] = []
      const sub = run({ key: 'p', aggregators: [{ aggregatorType: 'shop/Order' }], batchSize: 10, handler: (evs) => void (seen.push(...evs), batches.push(evs.length)) })
      await sub.whenCaughtUp()
      expect(sub.state).toBe('active')
      expect(seen.map((e) => e.version)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1))
      expect(batches).toEqual([10, 10, 5])
      await store.events.write([event('o1', 26)])
      await until(() => seen.length === 26, 5000, 'the live event')
      await sub.stop()
      expect(sub.state).toBe('stopped')
      const again: Event[] = []
      const second = run({ key: 'p', aggregators: [{ aggregatorType: 'shop/Order' }], handler: (evs) => void again.push(...evs) })
      await second.whenCaughtUp()
      expect(again).toEqual([])
      expect((await store.events.getSubscriber('p'))!.lag).toBe(0)
    })

    it('live subscriptions share one read per commit; each gets exactly its events, also one that fell thousands behind', async () => {
      let reads = 0
      const read: Store['events']['read'] = (...args) => (reads++, store.events.read(...args))
      const events = new Proxy(store.events, {
        get: (t, p) => (p === 'read' ? read : (Reflect.get(t, p) as unknown) instanceof Function ? (Reflect.get(t, p) as (...a: unknown[]) => unknown).bind(t) : Reflect.get(t, p)),
      })
      const counted: Store = { ...store, events }
      const kinds = ['shop/A', 'shop/B', 'shop/Rare'] as const
      const got = new Map<string, string[]>()
      const gate: { hold?: Promise<void> } = {}
      const subOf = (key: string, aggregatorType?: string, slow = false): Subscription => {
        got.set(key, [])
        const s = subscribe(counted, {
          key,
          leaseMs: 1000,
          checkIntervalMs: 500,
          ...(aggregatorType ? { aggregators: [{ aggregatorType }] } : {}),
          handler: async (evs) => {
            if (slow && gate.hold) await gate.hold
            got.get(key)!.push(...evs.map((e) => e.id))
          },
        })
        subs.push(s)
        return s
      }
      const live = [subOf('all'), subOf('a', 'shop/A'), subOf('b', 'shop/B'), subOf('rare', 'shop/Rare'), subOf('slow', 'shop/A', true)]
      await until(() => live.every((s) => s.state === 'active'), 5000, 'all active')
      await Promise.all(live.map((s) => s.whenCaughtUp()))
      const written: Event[] = []
      const write = async (n: number, at: number): Promise<void> => {
        const batch = Array.from({ length: n }, (_, i) => {
          const k = at + i
          return event(`x${k}`, 1, { aggregatorType: k % 97 === 0 ? kinds[2] : kinds[k % 2]! })
        })
        await store.events.write(batch)
      }
      // Single writes, one commit each, while all five are live: one read per commit, not one per subscription.
      reads = 0
      for (let k = 0; k < 40; k++) {
        await write(1, k)
        await sleep(3)
      }
      await Promise.all(live.map((s) => s.whenCaughtUp()))
      expect(reads).toBeLessThan(5 * 40)
      // The slow one falls 10,000 events behind, more than the tail keeps (8,192 at most); it catches up on its own reads.
      let release!: () => void
      gate.hold = new Promise((r) => (release = r))
      await write(1, 40)
      await sleep(50)
      for (let k = 41; k < 10041; k += 500) await write(500, k)
      release()
      await Promise.all(live.map((s) => s.whenCaughtUp()))
      for (const e of (await readEveryEvent(store))) written.push(e)
      const expected = (type?: string) => written.filter((e) => !type || e.aggregatorType === type).map((e) => e.id)
      expect(got.get('all')).toEqual(expected())
      expect(got.get('a')).toEqual(expected('shop/A'))
      expect(got.get('b')).toEqual(expected('shop/B'))
      expect(got.get('rare')).toEqual(expected('shop/Rare'))
      expect(got.get('slow')).toEqual(expected('shop/A'))
    })

    it('hands the key over at once on stop, and a standby takes it', async () => {
      await store.events.write([event('o1', 1)])
      const got: string[] = []
      const a = run({ key: 'k', workerId: 'a', handler: (evs) => void got.push(...evs.map((e) => `a:${e.version}`)) })
      await a.whenCaughtUp()
      const b = run({ key: 'k', workerId: 'b', handler: (evs) => void got.push(...evs.map((e) => `b:${e.version}`)) })
      await until(() => b.state === 'standby', 2000, 'b standing by')
      const started = Date.now()
      await a.stop()
      await until(() => b.state === 'active', 2000, 'b taking over')
      expect(Date.now() - started).toBeLessThan(1000)
      await store.events.write([event('o1', 2)])
      await until(() => got.includes('b:2'), 3000, 'b handling')
      expect(got).toEqual(['a:1', 'b:2'])
    })

    it('retries a failing batch, then parks; resumes with the same batch; skip moves past it; the audit shows both', async () => {
      await store.events.write([event('o1', 1), event('o1', 2)])
      const attempts: number[] = []
      let failOn = 1
      const sub = run({
        key: 'flaky',
        workerId: 'w1',
        batchSize: 1,
        handler: (evs, ctx) => {
          if (evs[0]!.version === failOn) {
            attempts.push(ctx.attempt)
            throw new Error(`cannot project version ${failOn}`)
          }
        },
      })
      await until(() => sub.state === 'parked', 5000, 'parked')
      expect(attempts).toEqual([1, 2, 3])
      const [parked] = await listParked(store)
      expect(parked).toMatchObject({ key: 'flaky', workerId: 'w1', error: 'cannot project version 1', attempts: 3 })
      expect(await store.poison.getPoison('subscription/flaky')).toBe('w1')
      // Resumed without skip: the same batch again, which now succeeds.
      failOn = 2
      await resumeParked(store, 'flaky', { by: 'alice', reason: 'fixed the projector' })
      await until(() => sub.state === 'parked' && attempts.length === 6, 5000, 'parked on version 2')
      await resumeParked(store, 'flaky', { by: 'bob', reason: 'bad event', skip: true })
      await store.events.write([event('o1', 3)])
      await sub.whenCaughtUp()
      expect(sub.state).toBe('active')
      const audit = await store.poison.listPoisonAudit('subscription/flaky')
      expect(audit.map((a) => [a.by, a.reason])).toEqual([
        ['alice', 'fixed the projector'],
        ['bob', expect.stringContaining('skip: moved past event')],
      ])
      await rejectsWith(resumeParked(store, 'flaky', { by: 'carol' }), 'NOT_FOUND')
    })

    it('rewinds between batches and records it in the audit trail', async () => {
      for (let v = 1; v <= 3; v++) await store.events.write([event('o1', v)])
      const seen: number[] = []
      const sub = run({ key: 'rw', handler: (evs) => void seen.push(...evs.map((e) => e.version)) })
      await sub.whenCaughtUp()
      await rewindSubscription(store, 'rw', { to: 'beginning', by: 'alice', reason: 'rebuild' })
      await until(() => seen.length === 6, 5000, 'the replay')
      expect(seen).toEqual([1, 2, 3, 1, 2, 3])
      expect((await store.poison.listPoisonAudit('subscription/rw')).map((a) => [a.token, a.by])).toEqual([['rewind:beginning', 'alice']])
      await rejectsWith(rewindSubscription(store, 'never', { to: 'beginning', by: 'alice' }), 'NOT_FOUND')
    })

    it('a worker replaced mid-batch cannot move the cursor', async () => {
      await store.events.write([event('o1', 1)])
      let release!: () => void
      const held = new Promise<void>((r) => (release = r))
      let aborted = false
      const sub = run({
        key: 'slow',
        workerId: 'old',
        handler: async (_evs, ctx) => {
          ctx.signal.addEventListener('abort', () => (aborted = true))
          await held
        },
      })
      await until(async () => (await store.events.getSubscriber('slow'))?.workerId === 'old', 2000, 'claimed')
      // Another worker takes the key over (as after a long pause of the old one) and acknowledges nothing yet.
      await store.events.upsertSubscriber('slow', 'new')
      await until(() => aborted, 3000, 'the old handler told it lost the key')
      release()
      await until(() => sub.state === 'standby', 3000, 'the old worker standing by')
      expect(await store.events.getSubscriberCursor('slow')).toBeNull()
    })

    it('starts from the end when asked', async () => {
      await store.events.write([event('o1', 1)])
      const seen: number[] = []
      const sub = run({ key: 'tail', startFrom: 'end', handler: (evs) => void seen.push(...evs.map((e) => e.version)) })
      await until(() => sub.state === 'active')
      await store.events.write([event('o1', 2)])
      await until(() => seen.length === 1, 3000, 'the new event')
      expect(seen).toEqual([2])
    })

    it('acknowledges busy batches together (ackIntervalMs), each one with 0, and everything by whenCaughtUp and stop', async () => {
      for (const ackIntervalMs of [1000, 0]) {
        const key = `acks-${ackIntervalMs}`
        let calls = 0
        let acks = 0
        const sub = run({ key, batchSize: 1, ackIntervalMs, handler: () => void calls++ })
        sub.on('batch', () => void acks++)
        await sub.whenCaughtUp()
        const before = { calls, acks }
        for (let v = 1; v <= 30; v++) await store.events.write([event(key, v)])
        await sub.whenCaughtUp()
        const last = (await store.events.read(null, null, { last: 1 })).edges[0]!
        expect((await store.events.getSubscriber(key))!.cursor).toBe(last.cursor)
        expect(calls - before.calls).toBeGreaterThanOrEqual(30)
        if (ackIntervalMs === 0) expect(acks - before.acks).toBe(calls - before.calls)
        else expect(acks - before.acks).toBeLessThan(calls - before.calls)
        await store.events.write([event(key, 31)])
        await until(() => calls - before.calls >= 31, 5000, 'the last event')
        await sub.stop()
        expect((await store.events.getSubscriber(key))!.cursor).toBe((await store.events.read(null, null, { last: 1 })).edges[0]!.cursor)
      }
    })

    it('refuses bad options with INVALID_ARGUMENT before claiming anything', async () => {
      const handler = () => {}
      for (const bad of [
        { key: '', handler },
        { key: 'k', handler: 'nope' },
        { key: 'k', handler, batchSize: 0 },
        { key: 'k', handler, batchSize: 1001 },
        { key: 'k', handler, batchSize: 1.5 },
        { key: 'k', handler, leaseMs: -1 },
        { key: 'k', handler, leaseMs: 10 },
        { key: 'k', handler, retry: { attempts: 0 } },
        { key: 'k', handler, retry: { minBackoffMs: 10, maxBackoffMs: 5 } },
        { key: 'k', handler, startFrom: 'middle' },
        { key: 'k', handler, workerId: '' },
        { key: 'k', handler, aggregators: [{}] },
        { key: 'k', handler, routingKey: { all: false } },
        { key: 'k', handler, signal: {} },
        { key: 'k', handler, ackIntervalMs: -1 },
        { key: 'k', handler, ackIntervalMs: 10_001 },
        { key: 'k', handler, checkIntervalMs: 50 },
      ])
        throwsWith(() => subscribe(store, bad as never), 'INVALID_ARGUMENT')
      throwsWith(() => subscribe({} as Store, { key: 'k', handler }), 'INVALID_ARGUMENT')
      expect(await store.events.getSubscriber('k')).toBeNull()
    })
  })
}

const restartDir = tempDir()
const restartTargets: [string, () => { url: string; schema?: string }][] = [['SQLite file', () => ({ url: `${restartDir}/parked.db` })]]
const restartPg = PG_URL
if (restartPg) restartTargets.push(['PostgreSQL server', () => ({ url: restartPg, schema: uniqueSchema() })])

describe.each(restartTargets)('a parked subscription across a restart: %s', (_name, where) => {
  it('stays parked for the next process, and for a takeover, until resumed', async () => {
    const { url, schema } = where()
    const open = () => openStore(schema === undefined ? url : { url, schema })
    const first = await open()
    await first.events.write([event('o1', 1)])
    const sub = subscribe(first, { key: 'fragile', leaseMs: 1000, retry: { attempts: 2, minBackoffMs: 1, maxBackoffMs: 2 }, handler: () => Promise.reject(new Error('broken')) })
    await until(() => sub.state === 'parked', 5000, 'parked')
    await sub.stop()
    await first.close()

    // A new process (a new store on the same database) with a handler that would now succeed: still parked.
    const second = await open()
    try {
      const handled: number[] = []
      const next = subscribe(second, { key: 'fragile', leaseMs: 1000, checkIntervalMs: 200, handler: (evs) => void handled.push(...evs.map((e) => e.version)) })
      await until(() => next.state === 'parked', 5000, 'parked after the restart')
      await sleep(300)
      expect(handled).toEqual([])
      expect((await listParked(second)).map((p) => [p.key, p.error])).toEqual([['fragile', 'broken']])
      await resumeParked(second, 'fragile', { by: 'ops', reason: 'deployed the fix' })
      await until(() => handled.length === 1, 5000, 'delivered after the resume')
      await next.stop()
    } finally {
      await second.close()
    }
  })
})
