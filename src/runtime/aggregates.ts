import { InvalidArgumentError, StoreUnavailableError } from '../errors.js'
import type { Event, NewEvent, ReadAggregator } from '../events/types.js'
import type { Store } from '../store.js'
import { assertInteger, assertKey, describe, isBytes, mapArray, readFields } from '../validate.js'
import { newEventId } from './ulid.js'

/**
 * How an aggregate's snapshots are kept: under `(aggregatorType, revision, aggregatorId)`, so a snapshot folded by
 * other code (another `revision`) is never read.
 */
export interface SnapshotOptions<S> {
  /** Names the code that folds the state: change it whenever `evolve` or the state's shape changes. A key string. */
  revision: string
  /**
   * Save a new snapshot when a load folded at least this many events on top of the one it started from (an integer
   * ≥ 1). Absent: snapshots are read, never written (another process writes them).
   */
  every?: number
  /** The state as bytes. Must return a `Uint8Array`; what it throws propagates unchanged. */
  serialize: (state: S) => Uint8Array
  /** The inverse of `serialize`. What it throws propagates unchanged. */
  deserialize: (data: Uint8Array) => S
}

/** What {@link loadAggregate} folds: one aggregate, its fold, and optionally its snapshots. */
export interface AggregateOptions<S> {
  /** The aggregate's type, e.g. `'shop/Order'` (a key string). */
  aggregatorType: string
  /** The aggregate's id, e.g. `'order-42'` (a key string). */
  aggregatorId: string
  /** The state before any event. Called once per load; return a fresh value if `evolve` mutates it. */
  initialState: () => S
  /** Applies one stored event, returning the next state. Must be deterministic: a retry folds the same events again. */
  evolve: (state: S, event: Event) => S
  /** Snapshots of the folded state, so that a load reads only the events after the last one. */
  snapshot?: SnapshotOptions<S>
}

/** An event as a command decides it; the handler adds the id, the aggregate, the version and the routing key. */
export interface CommandEvent {
  /** The event's name, e.g. `'ItemAdded'` (a key string). */
  name: string
  /** Opaque payload. */
  data: Uint8Array
  /** Opaque metadata; empty when absent. */
  metadata?: Uint8Array
}

/** What {@link handleCommand} runs: the aggregate's fold plus the decision and its retry policy. */
export interface CommandOptions<S> extends AggregateOptions<S> {
  /**
   * The command: the events to append given the current state, `[]` for none. May be async. It runs again on the
   * reloaded state after a version conflict, so it must not have side effects that cannot be repeated.
   */
  decide: (state: S) => readonly CommandEvent[] | Promise<readonly CommandEvent[]>
  /** Retries after the first try when another writer got there first: an integer from 0 to 1,000, default 10. */
  maxRetries?: number
  /**
   * The routing key of a new aggregate's events (default `null`). An aggregate keeps the routing key of its first
   * event, so this is ignored once the aggregate exists.
   */
  routingKey?: string | null
}

/** An aggregate's folded state. */
export interface LoadedAggregate<S> {
  /** The state after every stored event. */
  state: S
  /** The last event's version; 0 for an aggregate with no events. */
  version: number
  /** The cursor of the last event folded (or of the snapshot's); absent for an aggregate with no events. */
  cursor?: string
}

/** What a command did. */
export interface CommandResult<S> {
  /** The state after the events written (the loaded state when `decide` returned `[]`). */
  state: S
  /** The aggregate's version after the events written. */
  version: number
  /** The events written, as stored (positions, timestamps); `[]` when `decide` returned `[]`. */
  events: Event[]
}

/** Page size of a load: a long aggregate is folded a page at a time, never held whole. */
const PAGE = 1000
const DEFAULT_MAX_RETRIES = 10
const MAX_RETRIES = 1000
/*
 * Jittered backoff between retries ("full jitter": uniform in [0, ceiling], the ceiling doubling per retry). Without
 * it, every loser of a conflict reloads at once and they collide again in the next group commit: 32 writers on one
 * aggregate (each its own store object, so without turns) took 496 retries on every backend, a writer up to 31, more
 * than the default 10; with it 150–200 (SQLite), 130–270 (PostgreSQL), a writer at most 8–12, in about the same time.
 */
const BACKOFF_BASE_MS = 1
const BACKOFF_CAP_MS = 32

/** Options after validation: read once, checked, used only in this form. */
interface Plan<S> {
  aggregatorType: string
  aggregatorId: string
  filter: ReadAggregator[]
  initialState: () => S
  evolve: (state: S, event: Event) => S
  snapshot: { revision: string; every: number | undefined; serialize: (state: S) => Uint8Array; deserialize: (data: Uint8Array) => S } | undefined
}

interface CommandPlan<S> extends Plan<S> {
  decide: (state: S) => readonly CommandEvent[] | Promise<readonly CommandEvent[]>
  maxRetries: number
  routingKey: string | null
}

/** A load, plus what a command needs to append: the routing key of the aggregate's first event. */
interface Loaded<S> extends LoadedAggregate<S> {
  /** `undefined` for an aggregate with no events. */
  routingKey: string | null | undefined
}

const AGGREGATE_FIELDS = ['aggregatorType', 'aggregatorId', 'initialState', 'evolve', 'snapshot'] as const
const COMMAND_FIELDS = [...AGGREGATE_FIELDS, 'decide', 'maxRetries', 'routingKey'] as const

function assertFunction(name: string, value: unknown): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw new InvalidArgumentError(`${name} must be a function, got ${describe(value)}`)
}

function planAggregate<S>(o: { [K in (typeof AGGREGATE_FIELDS)[number]]: unknown }): Plan<S> {
  assertKey('options.aggregatorType', o.aggregatorType)
  assertKey('options.aggregatorId', o.aggregatorId)
  assertFunction('options.initialState', o.initialState)
  assertFunction('options.evolve', o.evolve)
  let snapshot: Plan<S>['snapshot']
  if (o.snapshot !== undefined) {
    const s = readFields('options.snapshot', o.snapshot, ['revision', 'every', 'serialize', 'deserialize'])
    assertKey('options.snapshot.revision', s.revision)
    if (s.every !== undefined) assertInteger('options.snapshot.every', s.every, 1)
    assertFunction('options.snapshot.serialize', s.serialize)
    assertFunction('options.snapshot.deserialize', s.deserialize)
    snapshot = {
      revision: s.revision,
      every: s.every,
      serialize: s.serialize as (state: S) => Uint8Array,
      deserialize: s.deserialize as (data: Uint8Array) => S,
    }
  }
  return {
    aggregatorType: o.aggregatorType,
    aggregatorId: o.aggregatorId,
    filter: [{ aggregatorType: o.aggregatorType, aggregatorId: o.aggregatorId }],
    initialState: o.initialState as () => S,
    evolve: o.evolve as (state: S, event: Event) => S,
    snapshot,
  }
}

function planCommand<S>(options: unknown): CommandPlan<S> {
  const o = readFields('options', options, COMMAND_FIELDS)
  const plan = planAggregate<S>(o)
  assertFunction('options.decide', o.decide)
  const maxRetries = o.maxRetries ?? DEFAULT_MAX_RETRIES
  assertInteger('options.maxRetries', maxRetries, 0, MAX_RETRIES)
  const routingKey = o.routingKey ?? null
  if (routingKey !== null) assertKey('options.routingKey', routingKey)
  return { ...plan, decide: o.decide as CommandPlan<S>['decide'], maxRetries, routingKey }
}

// ---------------------------------------------------------------------------------------------------------------
// Snapshot bytes: a header, then what `serialize` returned. The header carries what a load must know without
// reading the events the snapshot stands for: the version, and the routing key of the first event (which every
// later event of the aggregate inherits).

/** `HFA` and the format number. */
const MAGIC = [0x48, 0x46, 0x41, 0x01] as const
const HEADER = 16
const TWO_32 = 2 ** 32
const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

function encodeSnapshot(version: number, routingKey: string | null, body: Uint8Array): Uint8Array {
  const key = routingKey === null ? null : utf8.encode(routingKey)
  const head = HEADER + (key?.byteLength ?? 0)
  const out = new Uint8Array(head + body.byteLength)
  const view = new DataView(out.buffer)
  out.set(MAGIC, 0)
  view.setUint32(4, Math.floor(version / TWO_32))
  view.setUint32(8, version >>> 0)
  view.setInt32(12, key === null ? -1 : key.byteLength)
  if (key !== null) out.set(key, HEADER)
  out.set(body, head)
  return out
}

/** The header and body of a snapshot, or `null` for bytes this code did not write (they are then ignored). */
function decodeSnapshot(data: Uint8Array): { version: number; routingKey: string | null; body: Uint8Array } | null {
  if (data.byteLength < HEADER || MAGIC.some((b, i) => data[i] !== b)) return null
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const version = view.getUint32(4) * TWO_32 + view.getUint32(8)
  const keyLength = view.getInt32(12)
  if (!Number.isSafeInteger(version) || version < 1 || keyLength < -1 || HEADER + Math.max(keyLength, 0) > data.byteLength) return null
  let routingKey: string | null = null
  if (keyLength >= 0) {
    try {
      routingKey = strictUtf8.decode(data.subarray(HEADER, HEADER + keyLength))
    } catch {
      return null
    }
  }
  return { version, routingKey, body: data.subarray(HEADER + Math.max(keyLength, 0)) }
}

// ---------------------------------------------------------------------------------------------------------------

async function load<S>(store: Store, plan: Plan<S>): Promise<Loaded<S>> {
  let state: S | undefined
  let version = 0
  let routingKey: string | null | undefined
  let cursor: string | undefined
  const snapshot = plan.snapshot
  if (snapshot) {
    const saved = await store.events.getSnapshot(plan.aggregatorType, snapshot.revision, plan.aggregatorId)
    const decoded = saved && decodeSnapshot(saved.data)
    if (saved && decoded) {
      state = snapshot.deserialize(decoded.body)
      version = decoded.version
      routingKey = decoded.routingKey
      cursor = saved.cursor
    }
  }
  if (cursor === undefined) state = plan.initialState()
  let folded = 0
  for (;;) {
    const page = await store.events.read(plan.filter, null, cursor === undefined ? { first: PAGE } : { first: PAGE, after: cursor })
    const edges = page.edges
    for (let i = 0; i < edges.length; i++) {
      const event = edges[i]!.node
      state = plan.evolve(state as S, event)
      version = event.version
      // The first event read from the start is version 1: its routing key is the aggregate's.
      if (routingKey === undefined) routingKey = event.routingKey
    }
    if (edges.length > 0) {
      cursor = edges[edges.length - 1]!.cursor
      folded += edges.length
    }
    if (!page.pageInfo.hasNextPage) break
  }
  if (snapshot?.every !== undefined && folded >= snapshot.every && cursor !== undefined) {
    const body: unknown = snapshot.serialize(state as S)
    if (!isBytes(body)) throw new InvalidArgumentError(`options.snapshot.serialize must return a Uint8Array, got ${describe(body)}`)
    await store.events.saveSnapshot(plan.aggregatorType, snapshot.revision, plan.aggregatorId, encodeSnapshot(version, routingKey ?? null, body), cursor)
  }
  return cursor === undefined ? { state: state as S, version, routingKey } : { state: state as S, version, cursor, routingKey }
}

/**
 * Folds an aggregate's events into its state (`spec/runtime.md` §2). With `snapshot`, starts from the snapshot saved
 * under `(aggregatorType, snapshot.revision, aggregatorId)` and reads only the events after it, in pages of 1,000;
 * with `snapshot.every`, saves a new snapshot when it folded at least that many events on top of it.
 *
 * @param store - an open store (only its public contracts are used)
 * @param options - the aggregate and its fold
 * @returns the state, the last event's version (0 for a new aggregate) and the last event's cursor
 * @throws `INVALID_ARGUMENT` for bad options, before anything is read; whatever `initialState`, `evolve`,
 *   `serialize` or `deserialize` throw, unchanged; the store's errors
 */
export async function loadAggregate<S>(store: Store, options: AggregateOptions<S>): Promise<LoadedAggregate<S>> {
  const plan = planAggregate<S>(readFields('options', options, AGGREGATE_FIELDS))
  const { state, version, cursor } = await load(store, plan)
  return cursor === undefined ? { state, version } : { state, version, cursor }
}

function checkDecided(value: unknown): CommandEvent[] {
  return mapArray('the result of options.decide', value, (item, at) => {
    const e = readFields(at, item, ['name', 'data', 'metadata'])
    assertKey(`${at}.name`, e.name)
    if (!isBytes(e.data)) throw new InvalidArgumentError(`${at}.data must be a Uint8Array, got ${describe(e.data)}`)
    if (e.metadata !== undefined && !isBytes(e.metadata))
      throw new InvalidArgumentError(`${at}.metadata must be a Uint8Array, got ${describe(e.metadata)}`)
    return e.metadata === undefined ? { name: e.name, data: e.data } : { name: e.name, data: e.data, metadata: e.metadata }
  })
}

/** Matches by code, not class: a third party's backend may throw its own error with the contract's code. */
function isVersionConflict(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'INVALID_ORIGINAL_VERSION'
}

function backoff(retry: number): Promise<void> {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** retry)
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling))
}

/**
 * The events just written, as stored (the write returns no positions). They are the aggregate's first events after
 * the cursor the command loaded: the write succeeded on top of that version, so nothing of this aggregate lies between.
 */
async function readWritten<S>(store: Store, plan: Plan<S>, after: string | undefined, written: NewEvent[]): Promise<Event[]> {
  const out: Event[] = []
  while (out.length < written.length) {
    const first = Math.min(PAGE, written.length - out.length)
    const page = await store.events.read(plan.filter, null, after === undefined ? { first } : { first, after })
    for (const edge of page.edges) out.push(edge.node)
    if (page.edges.length === 0) break
    after = page.edges[page.edges.length - 1]!.cursor
  }
  for (let i = 0; i < written.length; i++) {
    if (out[i]?.id !== written[i]!.id)
      throw new StoreUnavailableError(
        `the store did not return the events just written to ${plan.aggregatorType}/${plan.aggregatorId} (expected ${written[i]!.id} at version ${written[i]!.version}); the write itself committed`,
        // The write committed, so "nothing happened" would be false; a retry of the same command would append again.
        { retryable: false, outcome: 'unknown' },
      )
  }
  return out.slice(0, written.length)
}

/*
 * Commands on one aggregate through one store take turns in this process. Of several that load the same version only
 * one can append, so letting them race only buys conflicts: with 32 concurrent commands on one aggregate, 150–250
 * retries and each command up to a dozen reloads; in turns, none, and the 32 finish 4–5× sooner (SQLite 90 → 20 ms,
 * PostgreSQL 260 → 55 ms). Turns only spare work: a command still checks its version on write and retries, which is
 * what keeps other processes (and other store objects) correct. A turn is awaited for at most TURN_WAIT_MS, so a
 * `decide` that never returns, or one that runs a command on its own aggregate, delays the next ones instead of
 * blocking them.
 */
const turns = new WeakMap<object, Map<string, Promise<void>>>()
const TURN_WAIT_MS = 1000

/** Runs `fn` after the commands queued before it on `key` in `scope` (or after TURN_WAIT_MS). */
async function inTurn<T>(scope: unknown, key: string, fn: () => Promise<T>): Promise<T> {
  if (typeof scope !== 'object' || scope === null) return fn()
  let queue = turns.get(scope)
  if (!queue) turns.set(scope, (queue = new Map()))
  const before = queue.get(key)
  let done!: () => void
  const mine = new Promise<void>((resolve) => (done = resolve))
  // The next command waits for this one and for everything queued before it, even if this one stopped waiting.
  const last = before ? before.then(() => mine) : mine
  queue.set(key, last)
  try {
    if (before) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([before, new Promise<void>((resolve) => (timer = setTimeout(resolve, TURN_WAIT_MS)))])
      clearTimeout(timer)
    }
    return await fn()
  } finally {
    done()
    if (queue.get(key) === last) queue.delete(key)
  }
}

/**
 * Runs a command on an aggregate (`spec/runtime.md` §2): loads it (as {@link loadAggregate}), calls `decide` on its
 * state, and appends the events decided with consecutive versions and fresh ULIDs ({@link newEventId}). When another
 * writer appended first (`INVALID_ORIGINAL_VERSION`) it waits a short random time, reloads and decides again, up to
 * `maxRetries` times after the first try, then rethrows that conflict. A new aggregate's events take
 * `options.routingKey`; an existing one's take the routing key of its first event.
 *
 * Commands on the same aggregate through the same store take turns within this process (each waits up to 1 s for
 * the one before it), so they do not conflict with each other; conflicts with other processes are retried.
 *
 * @param store - an open store (only its public contracts are used)
 * @param options - the aggregate, its fold, and the decision
 * @returns the state after the events written, the new version, and the events as stored; with nothing written
 *   when `decide` returned `[]`
 * @throws `INVALID_ARGUMENT` for bad options (before anything is read) or a malformed event from `decide` (before
 *   anything is written); `INVALID_ORIGINAL_VERSION` once the retries are spent; whatever the caller's functions
 *   throw, unchanged; the store's errors
 */
export async function handleCommand<S>(store: Store, options: CommandOptions<S>): Promise<CommandResult<S>> {
  const plan = planCommand<S>(options)
  return inTurn(store.events, `${plan.aggregatorType}\0${plan.aggregatorId}`, () => run(store, plan))
}

/** One command, retried on conflicts. */
async function run<S>(store: Store, plan: CommandPlan<S>): Promise<CommandResult<S>> {
  for (let retry = 0; ; retry++) {
    const loaded = await load(store, plan)
    const decided = checkDecided(await plan.decide(loaded.state))
    if (decided.length === 0) return { state: loaded.state, version: loaded.version, events: [] }
    const routingKey = loaded.routingKey === undefined ? plan.routingKey : loaded.routingKey
    const events: NewEvent[] = decided.map((e, i) => ({
      id: newEventId(),
      aggregatorType: plan.aggregatorType,
      aggregatorId: plan.aggregatorId,
      version: loaded.version + 1 + i,
      name: e.name,
      routingKey,
      data: e.data,
      ...(e.metadata === undefined ? {} : { metadata: e.metadata }),
    }))
    try {
      await store.events.write(events)
    } catch (err) {
      if (!isVersionConflict(err) || retry >= plan.maxRetries) throw err
      await backoff(retry)
      continue
    }
    const stored = await readWritten(store, plan, loaded.cursor, events)
    let state = loaded.state
    for (const event of stored) state = plan.evolve(state, event)
    return { state, version: loaded.version + events.length, events: stored }
  }
}
