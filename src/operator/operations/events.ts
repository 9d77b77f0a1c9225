import { InvalidArgumentError } from '../../errors.js'
import { decodeCursor, encodeCursor } from '../../events/cursor.js'
import type { Args, Event, PageInfo, ReadAggregator, RoutingKey } from '../../events/types.js'
import type { Store } from '../../store.js'
import { assertKey, describe, readFields } from '../../validate.js'
import { decodePayload, type DecodedPayload } from './values.js'

/** Which events: an aggregate type, and within it an id and a name; a routing key. Every field optional. */
export interface EventFilter {
  /** Aggregate type (needed for `id` and `name`). */
  type?: string
  /** Aggregate id. */
  id?: string
  /** Event name. */
  name?: string
  /** Only events with this routing key. */
  routingKey?: string
}

/** {@link EventFilter} plus the event store's page arguments (`first`/`after` forward, `last`/`before` backward). */
export interface ReadEventsInput extends EventFilter, Args {}

/** An event for display: its fields, its cursor, its payload and metadata decoded. */
export interface EventView {
  position: number
  cursor: string
  id: string
  aggregatorType: string
  aggregatorId: string
  version: number
  name: string
  routingKey: string | null
  /** ms since epoch, assigned by the store. */
  timestamp: number
  data: DecodedPayload
  metadata: DecodedPayload
}

/** A page of events with the event store's page info. */
export interface EventPage {
  events: EventView[]
  pageInfo: PageInfo
}

/** Turns a filter into the event store's read arguments, checked as the store checks its own. */
export function readArguments(filter: EventFilter): { aggregators: ReadAggregator[] | null; routingKey: RoutingKey | null } {
  const f = readFields('filter', filter ?? {}, ['type', 'id', 'name', 'routingKey'] as const)
  if (f.type === undefined) {
    if (f.id !== undefined || f.name !== undefined) throw new InvalidArgumentError('an aggregate id or event name filter needs an aggregate type (--type)')
  } else assertKey('type', f.type)
  if (f.id !== undefined) assertKey('id', f.id)
  if (f.name !== undefined) assertKey('name', f.name)
  if (f.routingKey !== undefined) assertKey('routingKey', f.routingKey)
  const aggregators =
    f.type === undefined
      ? null
      : [{ aggregatorType: f.type as string, ...(f.id === undefined ? {} : { aggregatorId: f.id as string }), ...(f.name === undefined ? {} : { name: f.name as string }) }]
  return { aggregators, routingKey: f.routingKey === undefined ? null : { value: f.routingKey as string } }
}

/** An event as {@link EventView}. */
export function viewEvent(e: Event, cursor = encodeCursor(e.position)): EventView {
  return {
    position: e.position,
    cursor,
    id: e.id,
    aggregatorType: e.aggregatorType,
    aggregatorId: e.aggregatorId,
    version: e.version,
    name: e.name,
    routingKey: e.routingKey,
    timestamp: e.timestamp,
    data: decodePayload(e.data),
    metadata: decodePayload(e.metadata),
  }
}

/** `events read`: one page of events, filtered, with cursors both ways. */
export async function readEvents(store: Store, input: ReadEventsInput = {}): Promise<EventPage> {
  const i = readFields('input', input, ['type', 'id', 'name', 'routingKey', 'first', 'after', 'last', 'before'] as const)
  const { aggregators, routingKey } = readArguments(i as EventFilter)
  const args: Args = {}
  for (const k of ['first', 'after', 'last', 'before'] as const) if (i[k] !== undefined) (args as Record<string, unknown>)[k] = i[k]
  const page = await store.events.read(aggregators, routingKey, args)
  return { events: page.edges.map((e) => viewEvent(e.node, e.cursor)), pageInfo: page.pageInfo }
}

/** One end of the log. */
export interface LogEnd {
  position: number
  cursor: string
  timestamp: number
}

/** Counts of one aggregate type. */
export interface TypeStats {
  aggregatorType: string
  count: number
  firstPosition: number
  lastPosition: number
  lastAt: number
}

/** `events stats`. */
export interface EventStats {
  /** Events counted (through {@link EventStats.countedThrough}). */
  total: number
  /** Per aggregate type, in text order of the type. */
  byType: TypeStats[]
  /** The first and the last event now stored (exact, two index probes), `null` when there are none. */
  first: LogEnd | null
  last: LogEnd | null
  /** The position the counts go up to. */
  countedThrough: number
  /** Whether the counts cover every event up to `last` (false while a bounded call is still catching up). */
  complete: boolean
}

const STATS_PAGE = 1000

/**
 * Counts events by aggregate type by folding the log once and then only what was appended since: the event store
 * has no counters, and a `COUNT(*)` per call would scan the table. Keep one per process (the server does) and each
 * {@link EventStatsCounter.advance} reads only new events, at most `maxEvents` of them (a bounded call reports
 * `complete: false` until it has caught up).
 */
export class EventStatsCounter {
  readonly #store: Store
  readonly #types = new Map<string, TypeStats>()
  #after: string | undefined
  #through = 0
  #total = 0
  #running: Promise<EventStats> | undefined

  /** @param store - the store whose events to count */
  constructor(store: Store) {
    this.#store = store
  }

  /**
   * Reads events appended since the last call (at most `maxEvents`), then reports.
   * @param onProgress - told of the position reached and the last position, after each page
   */
  advance(maxEvents = Number.POSITIVE_INFINITY, onProgress?: (through: number, last: number) => void): Promise<EventStats> {
    // One fold at a time: concurrent requests share it.
    this.#running ??= this.#advance(maxEvents, onProgress).finally(() => (this.#running = undefined))
    return this.#running
  }

  async #advance(maxEvents: number, onProgress?: (through: number, last: number) => void): Promise<EventStats> {
    const [firstPage, lastPage] = await Promise.all([this.#store.events.read(null, null, { first: 1 }), this.#store.events.read(null, null, { last: 1 })])
    const end = (p: typeof firstPage): LogEnd | null => {
      const e = p.edges[0]
      return e ? { position: e.node.position, cursor: e.cursor, timestamp: e.node.timestamp } : null
    }
    const first = end(firstPage)
    const last = end(lastPage)
    let budget = maxEvents
    while (last && this.#through < last.position && budget > 0) {
      const page = await this.#store.events.read(null, null, { first: Math.min(STATS_PAGE, budget), ...(this.#after ? { after: this.#after } : {}) })
      for (const { node } of page.edges) {
        const t = this.#types.get(node.aggregatorType)
        if (t) {
          t.count++
          t.lastPosition = node.position
          t.lastAt = node.timestamp
        } else this.#types.set(node.aggregatorType, { aggregatorType: node.aggregatorType, count: 1, firstPosition: node.position, lastPosition: node.position, lastAt: node.timestamp })
        this.#through = node.position
      }
      this.#total += page.edges.length
      budget -= page.edges.length
      if (page.pageInfo.endCursor) this.#after = page.pageInfo.endCursor
      onProgress?.(this.#through, last.position)
      if (!page.pageInfo.hasNextPage) break
    }
    const byType = [...this.#types.values()].sort((a, b) => Buffer.compare(Buffer.from(a.aggregatorType), Buffer.from(b.aggregatorType))).map((t) => ({ ...t }))
    return { total: this.#total, byType, first, last, countedThrough: this.#through, complete: !last || this.#through >= last.position }
  }
}

/** `events stats`, counted in full (see {@link EventStatsCounter} for a bounded, incremental count). */
export function eventStats(store: Store, onProgress?: (through: number, last: number) => void): Promise<EventStats> {
  return new EventStatsCounter(store).advance(Number.POSITIVE_INFINITY, onProgress)
}

/** Options of {@link tailEvents}. */
export interface TailOptions {
  /** Start after this cursor (catch up first); default: the end, only events committed from now on. */
  after?: string
  /** Stops the tail. */
  signal: AbortSignal
  /** Called with each batch of matching events, in position order. */
  onEvents: (events: EventView[]) => void | Promise<void>
  /** While catching up: the position reached and the last position when the tail started. */
  onProgress?: (through: number, last: number) => void
}

/**
 * `events tail`: delivers matching events as they commit until `signal` aborts. Woken by `onCommitted` (LISTEN/NOTIFY
 * on PostgreSQL, the file's data version on SQLite), never by polling; it keeps no subscriber record, so a tail
 * leaves nothing behind.
 */
export async function tailEvents(store: Store, filter: EventFilter, options: TailOptions): Promise<void> {
  const { aggregators, routingKey } = readArguments(filter)
  const o = readFields('options', options, ['after', 'signal', 'onEvents', 'onProgress'] as const)
  if (!(o.signal instanceof AbortSignal)) throw new InvalidArgumentError(`options.signal must be an AbortSignal, got ${describe(o.signal)}`)
  if (typeof o.onEvents !== 'function') throw new InvalidArgumentError('options.onEvents must be a function')
  const signal = o.signal
  const onEvents = o.onEvents as TailOptions['onEvents']
  const onProgress = o.onProgress as TailOptions['onProgress']
  let woken = true
  let wake: (() => void) | undefined
  const stop = store.events.onCommitted(() => {
    woken = true
    wake?.()
  })
  const aborted = (): void => wake?.()
  signal.addEventListener('abort', aborted)
  // The wake-up sources do not hold the process open (they are unref'd); a tail is what the process waits for.
  const alive = setInterval(() => {}, 2 ** 30)
  try {
    const [head] = (await store.events.read(null, null, { last: 1 })).edges
    let after: string | undefined
    if (o.after !== undefined) {
      decodeCursor(o.after, 'after')
      after = o.after as string
    } else after = head?.cursor
    const catchUpTo = head?.node.position ?? 0
    while (!signal.aborted) {
      if (!woken) {
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
        continue
      }
      woken = false
      // Read until a short page: a wake-up during the read sets `woken` again, so nothing committed meanwhile waits.
      for (;;) {
        const page = await store.events.read(aggregators, routingKey, { first: STATS_PAGE, ...(after ? { after } : {}) })
        if (page.edges.length > 0) {
          after = page.pageInfo.endCursor!
          await onEvents(page.edges.map((e) => viewEvent(e.node, e.cursor)))
          const at = page.edges.at(-1)!.node.position
          if (at <= catchUpTo) onProgress?.(at, catchUpTo)
        }
        if (!page.pageInfo.hasNextPage || signal.aborted) break
      }
    }
  } finally {
    clearInterval(alive)
    signal.removeEventListener('abort', aborted)
    stop()
  }
}
