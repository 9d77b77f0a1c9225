import { InvalidArgumentError, InvalidOriginalVersionError, NotFoundError, SubscriberReplacedError } from '../errors.js'
import { Lifecycle, notifyAll } from '../lifecycle.js'
import { assertKey, compareText, copyBytes } from '../validate.js'
import { encodeCursor } from './cursor.js'
import { toPage } from './page.js'
import type { Args, Edge, Event, EventStore, NewEvent, ReadAggregator, ReadResult, RoutingKey, Snapshot, SubscriberInfo } from './types.js'
import { isStoredRetry } from './retry.js'
import { aggregateKey, checkAcknowledge, checkClaim, checkKeyWorker, checkListSubscribers, checkRewind, checkSnapshot, checkSnapshotKeys, checkWrite, planRead, type CheckedWrite, type ReadPlan } from './validate.js'

function copyEvent(e: Event): Event {
  return { ...e, data: copyBytes(e.data), metadata: copyBytes(e.metadata) }
}

function matches(plan: ReadPlan, e: Event): boolean {
  if (plan.routingKey !== undefined && e.routingKey !== plan.routingKey) return false
  if (plan.filters.length === 0) return true
  return plan.filters.some(
    (f) =>
      f.aggregatorType === e.aggregatorType &&
      (f.aggregatorId === undefined || f.aggregatorId === e.aggregatorId) &&
      (f.name === undefined || f.name === e.name),
  )
}

/**
 * The reference model of the event store: plain arrays and maps, the same semantics as the SQL stores, nothing
 * durable. Property-based tests use it as the oracle. Positions are 1..n, so an event's index is `position - 1`.
 */
export class MemoryEventStore implements EventStore {
  readonly #life: Lifecycle
  readonly #events: Event[] = []
  readonly #byId = new Map<string, Event>()
  readonly #versions = new Map<string, number>()
  readonly #subscribers = new Map<string, SubscriberInfo>()
  readonly #snapshots = new Map<string, Snapshot>()
  readonly #listeners = new Set<(committed?: readonly Edge<Event>[]) => void>()

  /** @param life - the owning store's lifecycle */
  constructor(life: Lifecycle) {
    this.#life = life
  }

  async write(events: NewEvent[]): Promise<void> {
    this.#life.check()
    const w = checkWrite(events)
    if (w.events.length === 0) return
    const conflict = this.#conflict(w)
    if (conflict) {
      // A retry of a write that committed (its reply lost) succeeds, and writes nothing again.
      if (isStoredRetry(w, (id) => this.#byId.get(id))) return
      throw conflict
    }
    const timestamp = Date.now()
    const first = this.#events.length
    for (const e of w.events) {
      this.#events.push({ ...e, position: this.#events.length + 1, timestamp })
      this.#byId.set(e.id, this.#events[this.#events.length - 1]!)
      this.#versions.set(aggregateKey(e.aggregatorType, e.aggregatorId), e.version)
    }
    this.#life.metrics.eventsAppended += w.events.length
    if (this.#listeners.size > 0) notifyAll(this.#listeners, this.#events.slice(first).map((e) => ({ cursor: encodeCursor(e.position), node: copyEvent(e) })))
  }

  /** The write's first version conflict or taken id, as the SQL stores report it. */
  #conflict(w: CheckedWrite): Error | undefined {
    for (const a of w.aggregates) {
      const found = this.#versions.get(a.key) ?? 0
      if (found !== a.expected)
        return new InvalidOriginalVersionError({ aggregatorType: a.aggregatorType, aggregatorId: a.aggregatorId, expectedVersion: a.expected, foundVersion: found })
    }
    const i = w.events.findIndex((e) => this.#byId.has(e.id))
    return i < 0 ? undefined : new InvalidArgumentError(`events[${i}].id ${JSON.stringify(w.events[i]!.id)} is already stored`)
  }

  async read(aggregators?: ReadAggregator[] | null, routingKey?: RoutingKey | null, args?: Args): Promise<ReadResult<Event>> {
    this.#life.check()
    const started = performance.now()
    const plan = planRead(aggregators, routingKey, args)
    const all = this.#events
    const rows: Event[] = []
    let otherSide = false
    if (plan.direction === 'forward') {
      const start = plan.cursor === null ? 0 : Math.min(plan.cursor, all.length)
      for (let i = start; i < all.length && rows.length <= plan.limit; i++) if (matches(plan, all[i]!)) rows.push(copyEvent(all[i]!))
      if (plan.cursor !== null) for (let i = start - 1; i >= 0 && !otherSide; i--) otherSide = matches(plan, all[i]!)
    } else {
      const end = plan.cursor === null ? all.length : Math.min(plan.cursor - 1, all.length)
      for (let i = end - 1; i >= 0 && rows.length <= plan.limit; i--) if (matches(plan, all[i]!)) rows.push(copyEvent(all[i]!))
      if (plan.cursor !== null) for (let i = Math.max(end, 0); i < all.length && !otherSide; i++) otherSide = matches(plan, all[i]!)
    }
    this.#life.metrics.read(started)
    return toPage(plan, rows, otherSide)
  }

  async getSubscriberCursor(key: string): Promise<string | null> {
    this.#life.check()
    assertKey('key', key)
    return this.#subscribers.get(key)?.cursor ?? null
  }

  async upsertSubscriber(key: string, workerId: string): Promise<void> {
    this.#life.check()
    assertKey('key', key)
    assertKey('workerId', workerId)
    const s = this.#subscribers.get(key)
    if (s) {
      if (s.workerId !== workerId) s.generation++
      s.workerId = workerId
      s.updatedAt = Date.now()
    } else {
      this.#subscribers.set(key, { key, workerId, cursor: null, lag: 0, acknowledgedAt: null, updatedAt: Date.now(), leaseExpiresAt: null, generation: 0 })
    }
  }

  async claimSubscriber(key: string, workerId: string, leaseMs: number): Promise<SubscriberInfo> {
    this.#life.check()
    checkClaim(key, workerId, leaseMs)
    const now = Date.now()
    const s = this.#subscribers.get(key)
    if (!s) {
      const created = { key, workerId, cursor: null, lag: 0, acknowledgedAt: null, updatedAt: now, leaseExpiresAt: now + leaseMs, generation: 0 }
      this.#subscribers.set(key, created)
      return { ...created }
    }
    if (s.workerId === workerId || s.leaseExpiresAt === null || s.leaseExpiresAt <= now) {
      if (s.workerId !== workerId) {
        s.updatedAt = now
        s.generation++
      }
      s.workerId = workerId
      s.leaseExpiresAt = now + leaseMs
    }
    return { ...s }
  }

  async releaseSubscriber(key: string, workerId: string): Promise<void> {
    this.#life.check()
    checkKeyWorker(key, workerId)
    const s = this.#subscribers.get(key)
    if (s?.workerId === workerId) s.leaseExpiresAt = 0
  }

  async rewindSubscriber(key: string, cursor: string | null): Promise<void> {
    this.#life.check()
    checkRewind(key, cursor)
    const s = this.#subscribers.get(key)
    if (!s) throw new NotFoundError(`subscriber ${JSON.stringify(key)} does not exist`)
    s.cursor = cursor
    s.generation++
  }

  async isSubscriberRunning(key: string, workerId: string): Promise<boolean> {
    this.#life.check()
    assertKey('key', key)
    assertKey('workerId', workerId)
    return this.#subscribers.get(key)?.workerId === workerId
  }

  async acknowledge(key: string, cursor: string, lag: number, workerId?: string, generation?: number): Promise<void> {
    this.#life.check()
    checkAcknowledge(key, cursor, lag, workerId, generation)
    const s = this.#subscribers.get(key)
    if (!s) throw new NotFoundError(`subscriber ${JSON.stringify(key)} does not exist`)
    if (workerId !== undefined && s.workerId !== workerId) throw new SubscriberReplacedError(key, workerId, s.workerId)
    if (generation !== undefined && s.generation !== generation) throw new SubscriberReplacedError(key, workerId!, s.workerId, 'rewound')
    s.cursor = cursor
    s.lag = lag
    s.acknowledgedAt = Date.now()
  }

  async getSubscriber(key: string): Promise<SubscriberInfo | null> {
    this.#life.check()
    assertKey('key', key)
    const s = this.#subscribers.get(key)
    return s ? { ...s } : null
  }

  async listSubscribers(args?: { after?: string; limit?: number }): Promise<SubscriberInfo[]> {
    this.#life.check()
    const { after, limit } = checkListSubscribers(args)
    return [...this.#subscribers.values()]
      .filter((s) => after === undefined || compareText(s.key, after) > 0)
      .sort((a, b) => compareText(a.key, b.key))
      .slice(0, limit)
      .map((s) => ({ ...s }))
  }

  async getSnapshot(aggregatorType: string, aggregatorRevision: string, id: string): Promise<Snapshot | null> {
    this.#life.check()
    checkSnapshotKeys(aggregatorType, aggregatorRevision, id)
    const s = this.#snapshots.get(`${aggregatorType}\0${aggregatorRevision}\0${id}`)
    return s ? { data: copyBytes(s.data), cursor: s.cursor } : null
  }

  async saveSnapshot(aggregatorType: string, aggregatorRevision: string, id: string, data: Uint8Array, cursor: string): Promise<void> {
    this.#life.check()
    const copy = checkSnapshot(aggregatorType, aggregatorRevision, id, data, cursor)
    this.#snapshots.set(`${aggregatorType}\0${aggregatorRevision}\0${id}`, { data: copy, cursor })
  }

  onCommitted(listener: (committed?: readonly Edge<Event>[]) => void): () => void {
    this.#life.check()
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function')
    const wrapped = (committed?: readonly Edge<Event>[]): void => listener(committed)
    this.#listeners.add(wrapped)
    return () => void this.#listeners.delete(wrapped)
  }

  /** Nothing to flush. */
  async close(): Promise<void> {
    this.#listeners.clear()
  }
}
