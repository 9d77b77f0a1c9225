import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  handleCommand,
  loadAggregate,
  newEventId,
  type AggregateOptions,
  type CommandOptions,
  type Event,
  type EventStore,
  type NewEvent,
  type Store,
} from '../src/index.js'
import { bytes, readAll, rejectsWith } from '../src/testing/index.js'
import { backends } from './backends.js'

// randomFillSync can be made to return all-ones bytes, to drive a ULID's 80 random bits to their overflow.
const random = vi.hoisted(() => ({ saturate: false }))
vi.mock('node:crypto', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:crypto')>()
  return {
    ...real,
    randomFillSync: <T extends NodeJS.ArrayBufferView>(buffer: T): T => {
      if (!random.saturate) return real.randomFillSync(buffer)
      new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength).fill(0xff)
      return buffer
    },
  }
})

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
const ULID = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/

/** The milliseconds of a ULID's time part. */
function ulidTime(id: string): number {
  let t = 0
  for (const c of id.slice(0, 10)) t = t * 32 + CROCKFORD.indexOf(c)
  return t
}

describe('newEventId', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    random.saturate = false
  })

  it('returns 26 Crockford base32 characters that carry the current time', () => {
    const before = Date.now()
    const id = newEventId()
    expect(id).toMatch(ULID)
    expect(ulidTime(id)).toBeGreaterThanOrEqual(before)
    expect(ulidTime(id)).toBeLessThanOrEqual(Date.now())
  })

  it('is strictly increasing over 100,000 calls in one millisecond, and sorts as it was made', () => {
    // A millisecond later than any id made so far, so the factory draws fresh random bits for it.
    const now = ulidTime(newEventId()) + 5
    vi.spyOn(Date, 'now').mockReturnValue(now)
    const ids = Array.from({ length: 100_000 }, () => newEventId())
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true)
    expect(ids.every((id) => ULID.test(id) && ulidTime(id) === now)).toBe(true)
    expect(new Set(ids).size).toBe(ids.length)
    expect([...ids].reverse().sort()).toEqual(ids)
  })

  it('stays increasing while the clock steps back', () => {
    const now = ulidTime(newEventId()) + 5
    const clock = vi.spyOn(Date, 'now').mockReturnValue(now)
    const a = newEventId()
    clock.mockReturnValue(now - 1000)
    const b = newEventId()
    expect(b > a).toBe(true)
    expect(ulidTime(b)).toBe(now)
  })

  it('moves to the next millisecond when the 80 random bits overflow', () => {
    random.saturate = true
    let now = ulidTime(newEventId()) + 5
    vi.spyOn(Date, 'now').mockImplementation(() => now)
    // Each new millisecond takes one draw; 200 of them use up any pooled randomness drawn before saturation.
    for (let i = 0; i < 200; i++, now++) newEventId()
    const last = newEventId()
    expect(last.slice(10)).toBe('Z'.repeat(16))
    const next = newEventId()
    expect(next > last).toBe(true)
    expect(ulidTime(next)).toBe(now + 1)
  })
})

const decoder = new TextDecoder()

/** A counter: each event's data is the amount to add. */
const COUNTER = {
  aggregatorType: 'test/Counter',
  initialState: () => 0,
  evolve: (state: number, event: Event) => state + Number(decoder.decode(event.data)),
}
const add = (n: number) => [{ name: 'Added', data: bytes(String(n)) }]
const counterSnapshot = (revision: string, every?: number) => ({
  revision,
  ...(every === undefined ? {} : { every }),
  serialize: (state: number) => bytes(String(state)),
  deserialize: (data: Uint8Array) => Number(decoder.decode(data)),
})

/** `n` counter events of +1 for a new aggregate, as one write. */
function ones(aggregatorId: string, n: number, from = 1, routingKey: string | null = null): NewEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    id: newEventId(),
    aggregatorType: COUNTER.aggregatorType,
    aggregatorId,
    version: from + i,
    name: 'Added',
    routingKey,
    data: bytes('1'),
  }))
}

/** The store with `events.read` counted: calls, and the events they returned. */
function counted(store: Store): { store: Store; reads: { calls: number; events: number } } {
  const reads = { calls: 0, events: 0 }
  const events = new Proxy(store.events, {
    get(target, prop) {
      if (prop === 'read') {
        return async (...args: Parameters<EventStore['read']>) => {
          const page = await target.read(...args)
          reads.calls++
          reads.events += page.edges.length
          return page
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
  return { store: { ...store, events }, reads }
}

async function eventsOf(store: Store, aggregatorId: string): Promise<Event[]> {
  return (await readAll(store.events)).filter((e) => e.aggregatorId === aggregatorId)
}

for (const target of backends()) {
  describe(`aggregates and commands: ${target.name}`, () => {
    let store: Store
    beforeAll(async () => {
      store = await target.open()
    })
    afterAll(() => store?.close())

    it('folds a new aggregate to its initial state at version 0, and a stored one page by page', async () => {
      expect(await loadAggregate(store, { ...COUNTER, aggregatorId: 'empty' })).toEqual({ state: 0, version: 0 })
      await store.events.write(ones('long', 2500))
      const { store: s, reads } = counted(store)
      const loaded = await loadAggregate(s, { ...COUNTER, aggregatorId: 'long' })
      expect(loaded.state).toBe(2500)
      expect(loaded.version).toBe(2500)
      const last = (await eventsOf(store, 'long')).at(-1)!
      const page = await store.events.read([{ aggregatorType: COUNTER.aggregatorType, aggregatorId: 'long' }], null, { last: 1 })
      expect(loaded.cursor).toBe(page.edges[0]!.cursor)
      expect(page.edges[0]!.node.id).toBe(last.id)
      // Pages of 1,000: three reads for 2,500 events.
      expect(reads).toEqual({ calls: 3, events: 2500 })
    })

    /** 32 concurrent +1 commands on one aggregate, each through `storeOf(i)`; the number of retries they took. */
    async function race(aggregatorId: string, storeOf: (i: number) => Store): Promise<number> {
      let decisions = 0
      const results = await Promise.all(
        Array.from({ length: 32 }, (_, i) =>
          handleCommand(storeOf(i), {
            ...COUNTER,
            aggregatorId,
            maxRetries: 1000,
            decide: () => {
              decisions++
              return add(1)
            },
          }),
        ),
      )
      expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1))
      for (const r of results) {
        expect(r.state).toBe(r.version)
        expect(r.events.map((e) => e.version)).toEqual([r.version])
      }
      expect((await eventsOf(store, aggregatorId)).map((e) => e.version)).toEqual(Array.from({ length: 32 }, (_, i) => i + 1))
      expect((await loadAggregate(store, { ...COUNTER, aggregatorId })).state).toBe(32)
      return decisions - 32
    }

    it('lets 32 concurrent commands on one aggregate all succeed through retries, versions 1..32 without a gap', async () => {
      // Each through a store object of its own, as 32 processes would be: nothing in this process orders them.
      const retries = await race('contended', () => counted(store).store)
      console.info(`${target.name}: 32 concurrent commands on one aggregate, one store object each: ${retries} retries`)
      // All 32 loaded version 0 at once, so at least 31 lost their first try.
      expect(retries).toBeGreaterThanOrEqual(31)
    })

    it('lets concurrent commands on one aggregate through one store take turns, without conflicts', async () => {
      expect(await race('in-turns', () => store)).toBe(0)
      // Commands on other aggregates do not wait for them.
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const slow = handleCommand(store, { ...COUNTER, aggregatorId: 'slow', decide: async () => (await gate, add(1)) })
      await handleCommand(store, { ...COUNTER, aggregatorId: 'fast', decide: () => add(1) })
      release()
      expect((await slow).version).toBe(1)
    })

    it('lets a decide run a command on its own aggregate: the inner one waits its turn only for a while', async () => {
      const started = Date.now()
      const outer = await handleCommand(store, {
        ...COUNTER,
        aggregatorId: 'reentrant',
        decide: async (state) => {
          if (state === 0) await handleCommand(store, { ...COUNTER, aggregatorId: 'reentrant', decide: () => add(100) })
          return add(1)
        },
      })
      // The inner command went ahead after its wait; the outer one then conflicted, reloaded and appended after it.
      expect(outer).toMatchObject({ state: 101, version: 2 })
      expect(Date.now() - started).toBeLessThan(5000)
    })

    it('reloads and decides again after a conflict, and rethrows it once maxRetries are spent', async () => {
      // A competing writer slips in during each decision, as another process would.
      const competitor = (aggregatorId: string) => async (state: number) => {
        const loaded = await loadAggregate(store, { ...COUNTER, aggregatorId })
        await store.events.write(ones(aggregatorId, 1, loaded.version + 1))
        void state
        return add(10)
      }
      const seen: number[] = []
      const once = competitor('raced-once')
      const result = await handleCommand(store, {
        ...COUNTER,
        aggregatorId: 'raced-once',
        decide: (state) => {
          seen.push(state)
          return seen.length === 1 ? once(state) : add(10)
        },
      })
      expect(seen).toEqual([0, 1])
      expect(result).toMatchObject({ state: 11, version: 2 })

      let tries = 0
      const always = competitor('raced-always')
      const error = await rejectsWith(
        handleCommand(store, { ...COUNTER, aggregatorId: 'raced-always', maxRetries: 2, decide: (s) => (tries++, always(s)) }),
        'INVALID_ORIGINAL_VERSION',
      )
      expect(tries).toBe(3)
      expect(error).toMatchObject({ aggregatorId: 'raced-always', expectedVersion: 2, foundVersion: 3 })

      tries = 0
      const never = competitor('raced-never')
      await rejectsWith(
        handleCommand(store, { ...COUNTER, aggregatorId: 'raced-never', maxRetries: 0, decide: (s) => (tries++, never(s)) }),
        'INVALID_ORIGINAL_VERSION',
      )
      expect(tries).toBe(1)
      // Only the competitors' events were stored.
      expect((await eventsOf(store, 'raced-always')).map((e) => e.name)).toEqual(['Added', 'Added', 'Added'])
    })

    it('returns the state after the new events, the new version, and the events as stored', async () => {
      const options = {
        aggregatorType: 'test/Cart',
        aggregatorId: 'cart-1',
        initialState: (): string[] => [],
        evolve: (items: string[], e: Event) => (e.name === 'ItemAdded' ? [...items, decoder.decode(e.data)] : items),
      }
      await handleCommand(store, { ...options, decide: () => [{ name: 'ItemAdded', data: bytes('apple') }] })
      const before = Date.now()
      const result = await handleCommand(store, {
        ...options,
        // async decide, two events, one with metadata
        decide: async (items) => {
          await new Promise((resolve) => setTimeout(resolve, 1))
          return [
            { name: 'ItemAdded', data: bytes(`pear after ${items.length}`), metadata: bytes('{"by":"ann"}') },
            { name: 'ItemAdded', data: bytes('fig') },
          ]
        },
      })
      expect(result.state).toEqual(['apple', 'pear after 1', 'fig'])
      expect(result.version).toBe(3)
      expect(result.events).toHaveLength(2)
      const [a, b] = result.events as [Event, Event]
      expect(a).toMatchObject({ aggregatorType: 'test/Cart', aggregatorId: 'cart-1', version: 2, name: 'ItemAdded', routingKey: null })
      expect(decoder.decode(a.data)).toBe('pear after 1')
      expect(decoder.decode(a.metadata)).toBe('{"by":"ann"}')
      expect(b).toMatchObject({ version: 3, name: 'ItemAdded' })
      expect(b.metadata).toHaveLength(0)
      expect(a.id).toMatch(ULID)
      expect(b.id > a.id).toBe(true)
      expect(b.position).toBeGreaterThan(a.position)
      expect(a.timestamp).toBeGreaterThanOrEqual(before - 1000)
      expect(result.events).toEqual((await eventsOf(store, 'cart-1')).slice(1))
      expect(await loadAggregate(store, options)).toMatchObject({ state: result.state, version: 3 })
    })

    it('writes nothing when decide returns []', async () => {
      const { store: s, reads } = counted(store)
      const nothing = await handleCommand(s, { ...COUNTER, aggregatorId: 'idle', decide: () => [] })
      expect(nothing).toEqual({ state: 0, version: 0, events: [] })
      expect(await eventsOf(store, 'idle')).toEqual([])
      await handleCommand(store, { ...COUNTER, aggregatorId: 'idle', decide: () => add(5) })
      const again = await handleCommand(s, { ...COUNTER, aggregatorId: 'idle', decide: async () => [] })
      expect(again).toEqual({ state: 5, version: 1, events: [] })
      expect(await eventsOf(store, 'idle')).toHaveLength(1)
      expect(reads.calls).toBe(2)
    })

    it("keeps the routing key of the aggregate's first event", async () => {
      const first = await handleCommand(store, { ...COUNTER, aggregatorId: 'routed', routingKey: 'tenant-a', decide: () => add(1) })
      expect(first.events[0]!.routingKey).toBe('tenant-a')
      const other = await handleCommand(store, { ...COUNTER, aggregatorId: 'routed', routingKey: 'tenant-b', decide: () => add(1) })
      const none = await handleCommand(store, { ...COUNTER, aggregatorId: 'routed', decide: () => add(1) })
      expect([other.events[0]!.routingKey, none.events[0]!.routingKey]).toEqual(['tenant-a', 'tenant-a'])
      // An aggregate begun without one keeps none.
      await handleCommand(store, { ...COUNTER, aggregatorId: 'unrouted', decide: () => add(1) })
      const later = await handleCommand(store, { ...COUNTER, aggregatorId: 'unrouted', routingKey: 'tenant-c', decide: () => add(1) })
      expect(later.events[0]!.routingKey).toBeNull()
      expect((await eventsOf(store, 'routed')).map((e) => e.routingKey)).toEqual(['tenant-a', 'tenant-a', 'tenant-a'])
    })

    it('starts from a snapshot and reads only the events after it; another revision reads everything', async () => {
      const id = 'snapped'
      await store.events.write(ones(id, 250, 1, 'tenant-s'))
      const { store: s, reads } = counted(store)
      const v1 = { ...COUNTER, aggregatorId: id, snapshot: counterSnapshot('v1', 100) }

      // No snapshot yet: everything is read, and 250 ≥ 100 folded saves one.
      expect(await loadAggregate(s, v1)).toMatchObject({ state: 250, version: 250 })
      expect(reads.events).toBe(250)
      const saved = await store.events.getSnapshot(COUNTER.aggregatorType, 'v1', id)
      expect(saved).not.toBeNull()

      // Only the tail: 30 events, fewer than `every`, so the snapshot stays where it was.
      await store.events.write(ones(id, 30, 251))
      reads.events = 0
      expect(await loadAggregate(s, v1)).toMatchObject({ state: 280, version: 280 })
      expect(reads.events).toBe(30)
      expect((await store.events.getSnapshot(COUNTER.aggregatorType, 'v1', id))!.cursor).toBe(saved!.cursor)

      // 130 folded on top of it: a new snapshot, after which the version is known without reading any event.
      await store.events.write(ones(id, 100, 281))
      reads.events = 0
      expect(await loadAggregate(s, v1)).toMatchObject({ state: 380, version: 380 })
      expect(reads.events).toBe(130)
      reads.events = 0
      const fromSnapshot = await loadAggregate(s, v1)
      expect(fromSnapshot).toMatchObject({ state: 380, version: 380 })
      expect(reads.events).toBe(0)
      expect(fromSnapshot.cursor).toBe((await loadAggregate(store, { ...COUNTER, aggregatorId: id })).cursor)

      // A command on it appends after version 380 with the first event's routing key, read from the snapshot.
      reads.events = 0
      const command = await handleCommand(s, { ...v1, decide: () => add(2) })
      expect(command).toMatchObject({ state: 382, version: 381 })
      expect(command.events[0]!.routingKey).toBe('tenant-s')
      // The load read nothing; reading back the event written is the one read.
      expect(reads.events).toBe(1)

      // Another revision never sees v1's snapshot.
      reads.events = 0
      const v2 = { ...COUNTER, aggregatorId: id, snapshot: counterSnapshot('v2') }
      expect(await loadAggregate(s, v2)).toMatchObject({ state: 382, version: 381 })
      expect(reads.events).toBe(381)
      // Without `every`, nothing was saved under v2.
      expect(await store.events.getSnapshot(COUNTER.aggregatorType, 'v2', id)).toBeNull()
    })

    it('ignores a snapshot it did not write', async () => {
      const id = 'foreign-snapshot'
      await store.events.write(ones(id, 3))
      const cursor = (await loadAggregate(store, { ...COUNTER, aggregatorId: id })).cursor!
      await store.events.saveSnapshot(COUNTER.aggregatorType, 'v1', id, bytes('999'), cursor)
      expect(await loadAggregate(store, { ...COUNTER, aggregatorId: id, snapshot: counterSnapshot('v1') })).toMatchObject({ state: 3, version: 3 })
    })

    it('refuses bad options with INVALID_ARGUMENT before anything is read or written', async () => {
      const good: CommandOptions<number> = { ...COUNTER, aggregatorId: 'bad-options', decide: () => add(1) }
      const snap = counterSnapshot('v1', 10)
      const bad: Record<string, unknown>[] = [
        { aggregatorType: '' },
        { aggregatorType: 42 },
        { aggregatorId: undefined },
        { aggregatorId: 'x'.repeat(1025) },
        { aggregatorId: 'nul\0' },
        { initialState: 0 },
        { evolve: 'fold' },
        { decide: undefined },
        { maxRetries: -1 },
        { maxRetries: 1001 },
        { maxRetries: 1.5 },
        { maxRetries: '3' },
        { routingKey: '' },
        { routingKey: 7 },
        { snapshot: null },
        { snapshot: 'v1' },
        { snapshot: { ...snap, revision: '' } },
        { snapshot: { ...snap, revision: undefined } },
        { snapshot: { ...snap, every: 0 } },
        { snapshot: { ...snap, every: 2.5 } },
        { snapshot: { ...snap, serialize: undefined } },
        { snapshot: { ...snap, deserialize: {} } },
      ]
      const { store: s, reads } = counted(store)
      for (const override of bad) {
        const options = { ...good, ...override } as unknown as CommandOptions<number>
        await rejectsWith(handleCommand(s, options), 'INVALID_ARGUMENT')
        if (!('decide' in override) && !('maxRetries' in override) && !('routingKey' in override))
          await rejectsWith(loadAggregate(s, options as AggregateOptions<number>), 'INVALID_ARGUMENT')
      }
      await rejectsWith(handleCommand(s, null as unknown as CommandOptions<number>), 'INVALID_ARGUMENT')
      expect(reads.calls).toBe(0)

      // A malformed event from decide: refused before the write.
      const decided: unknown[] = [
        'Added',
        [{ name: '', data: bytes('1') }],
        [{ name: 'Added', data: '1' }],
        [{ name: 'Added', data: bytes('1'), metadata: 'm' }],
        [{ name: 'Added', data: bytes('1') }, null],
      ]
      for (const result of decided) {
        await rejectsWith(handleCommand(store, { ...good, decide: () => result as ReturnType<typeof add> }), 'INVALID_ARGUMENT')
      }
      await rejectsWith(
        loadAggregate(store, { ...COUNTER, aggregatorId: 'long', snapshot: { ...snap, serialize: () => 'x' as unknown as Uint8Array } }),
        'INVALID_ARGUMENT',
      )
      expect(await eventsOf(store, 'bad-options')).toEqual([])
    })

    it("lets the caller's own errors through unchanged", async () => {
      const boom = new Error('boom')
      const thrown = async (p: Promise<unknown>) => p.then(() => undefined, (err: unknown) => err)
      expect(await thrown(handleCommand(store, { ...COUNTER, aggregatorId: 'throws', decide: () => Promise.reject(boom) }))).toBe(boom)
      expect(await thrown(handleCommand(store, { ...COUNTER, aggregatorId: 'throws', initialState: () => { throw boom }, decide: () => add(1) }))).toBe(boom)
      expect(await eventsOf(store, 'throws')).toEqual([])
      const evolve = () => {
        throw boom
      }
      expect(await thrown(loadAggregate(store, { ...COUNTER, aggregatorId: 'long', evolve }))).toBe(boom)
      const serialize = () => {
        throw boom
      }
      expect(await thrown(loadAggregate(store, { ...COUNTER, aggregatorId: 'long', snapshot: { ...counterSnapshot('s'), every: 1, serialize } }))).toBe(boom)
    })
  })
}
