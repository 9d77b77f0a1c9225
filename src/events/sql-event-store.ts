import { InvalidArgumentError, NotFoundError, SubscriberReplacedError } from '../errors.js'
import { Lifecycle, notifyAll } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit } from '../sql/group-commit.js'
import { asBytes, assertKey } from '../validate.js'
import type { Acknowledger, CheckedAck } from './acknowledge.js'
import { encodeCursor } from './cursor.js'
import { toPage } from './page.js'
import type { Args, Edge, Event, EventStore, NewEvent, ReadAggregator, ReadResult, RoutingKey, Snapshot, SubscriberInfo } from './types.js'
import { checkAcknowledge, checkClaim, checkKeyWorker, checkListSubscribers, checkRewind, checkSnapshot, checkSnapshotKeys, checkWrite, planRead, type CheckedWrite, type ReadPlan } from './validate.js'

interface EventRow {
  position: number | string
  id: string
  aggregator_type: string
  aggregator_id: string
  version: number | string
  name: string
  routing_key: string | null
  data: Uint8Array
  metadata: Uint8Array
  created_at: number | string
}

interface SubscriberRow {
  key: string
  worker_id: string
  cursor: string | null
  lag: number | string
  acknowledged_at: number | string | null
  updated_at: number | string
  lease_until: number | string | null
  generation: number | string
}

const SUBSCRIBER_COLUMNS = 'key, worker_id, cursor, lag, acknowledged_at, updated_at, lease_until, generation'

function toSubscriber(r: SubscriberRow): SubscriberInfo {
  return {
    key: r.key,
    workerId: r.worker_id,
    cursor: r.cursor,
    lag: Number(r.lag),
    acknowledgedAt: r.acknowledged_at === null ? null : Number(r.acknowledged_at),
    updatedAt: Number(r.updated_at),
    leaseExpiresAt: r.lease_until === null ? null : Number(r.lease_until),
    generation: Number(r.generation),
  }
}

/**
 * "Now" in ms for lease times: PostgreSQL's clock, so that hosts whose clocks disagree still agree on leases; on
 * SQLite every process is on this machine, so its clock is the one.
 */
const PG_NOW = '(extract(epoch from clock_timestamp()) * 1000)::bigint'


const COLUMNS = 'position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at'

function toEvent(r: EventRow): Event {
  return {
    id: r.id,
    aggregatorType: r.aggregator_type,
    aggregatorId: r.aggregator_id,
    version: Number(r.version),
    name: r.name,
    routingKey: r.routing_key,
    data: asBytes(r.data),
    metadata: asBytes(r.metadata),
    position: Number(r.position),
    timestamp: Number(r.created_at),
  }
}

/** Engine-specific ways in: the group-commit append and, on PostgreSQL, the cross-process commit channel. */
export interface SqlEventStoreEngine {
  /** Commits a batch of writes; one outcome per write. */
  append(writes: CheckedWrite[]): Promise<(Error | undefined)[]>
  /** Commits a batch of acknowledgements (one transaction or statement); for each, whether its fence matched. */
  acknowledge: Acknowledger
  /** Subscribes to other connections' commits (LISTEN on PostgreSQL, the file's `data_version` on SQLite); absent where commits are only in-process. */
  listen?(fn: () => void): Promise<() => Promise<void>>
}

/** The event store on any {@link SqlDatabase}: the SQL is written once, the append path is the engine's. */
export class SqlEventStore implements EventStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #engine: SqlEventStoreEngine
  readonly #commits: GroupCommit<CheckedWrite>
  /** Acknowledgements are group-committed too: many subscriptions of one store share a transaction. */
  readonly #acks: GroupCommit<CheckedAck>
  readonly #listeners = new Set<(committed?: readonly Edge<Event>[]) => void>()
  #stopListening: Promise<(() => Promise<void>) | undefined> | undefined
  readonly #t: { events: string; subscribers: string; snapshots: string }

  /** @param db - the database; @param life - the store's lifecycle; @param engine - the engine's append path */
  constructor(db: SqlDatabase, life: Lifecycle, engine: SqlEventStoreEngine) {
    this.#db = db
    this.#life = life
    this.#engine = engine
    this.#t = { events: db.table('events'), subscribers: db.table('subscribers'), snapshots: db.table('snapshots') }
    this.#commits = new GroupCommit(async (writes) => {
      const outcomes = await engine.append(writes)
      if (this.#listeners.size > 0 && outcomes.some((o) => o === undefined)) notifyAll(this.#listeners, committedEdges(writes, outcomes))
      return outcomes
    }, { metrics: life.metrics.commits.events })
    this.#acks = new GroupCommit(async (acks) => {
      const matched = await engine.acknowledge(acks)
      return Promise.all(acks.map((a, i) => (matched[i] ? undefined : this.#whyNotAcknowledged(a))))
    }, { onTick: true })
  }

  async write(events: NewEvent[]): Promise<void> {
    this.#life.check()
    const checked = checkWrite(events)
    if (checked.events.length > 0) await this.#commits.submit(checked)
    this.#life.metrics.eventsAppended += checked.events.length
  }

  async read(aggregators?: ReadAggregator[] | null, routingKey?: RoutingKey | null, args?: Args): Promise<ReadResult<Event>> {
    this.#life.check()
    const started = performance.now()
    const plan = planRead(aggregators, routingKey, args)
    const [filter, params] = this.#filter(plan)
    const forward = plan.direction === 'forward'
    let where = filter
    const pageParams = [...params]
    if (plan.cursor !== null) {
      where = and(where, forward ? 'position > ?' : 'position < ?')
      pageParams.push(plan.cursor)
    }
    pageParams.push(plan.limit + 1)
    // Both queries at once: on PostgreSQL they go out on two pooled connections, saving a round trip.
    const [rows, otherSide] = await Promise.all([
      this.#db.all<EventRow>(
        `SELECT ${COLUMNS} FROM ${this.#t.events}${where ? ` WHERE ${where}` : ''} ORDER BY position ${forward ? 'ASC' : 'DESC'} LIMIT ?`,
        pageParams,
      ),
      plan.cursor === null
        ? false
        : this.#db
            .all(`SELECT 1 AS x FROM ${this.#t.events} WHERE ${and(filter, forward ? 'position <= ?' : 'position >= ?')} LIMIT 1`, [...params, plan.cursor])
            .then((r) => r.length > 0),
    ])
    this.#life.metrics.read(started)
    return toPage(plan, rows.map(toEvent), otherSide)
  }

  /** The WHERE text (without the cursor bound) and its parameters. */
  #filter(plan: ReadPlan): [string, unknown[]] {
    const params: unknown[] = []
    let where = ''
    if (plan.filters.length > 0) {
      const alternatives = plan.filters.map((f) => {
        params.push(f.aggregatorType)
        let one = 'aggregator_type = ?'
        if (f.aggregatorId !== undefined) {
          one += ' AND aggregator_id = ?'
          params.push(f.aggregatorId)
        }
        if (f.name !== undefined) {
          one += ' AND name = ?'
          params.push(f.name)
        }
        return `(${one})`
      })
      where = alternatives.length === 1 ? alternatives[0]! : `(${alternatives.join(' OR ')})`
    }
    if (plan.routingKey === null) where = and(where, 'routing_key IS NULL')
    else if (plan.routingKey !== undefined) {
      where = and(where, 'routing_key = ?')
      params.push(plan.routingKey)
    }
    return [where, params]
  }

  async getSubscriberCursor(key: string): Promise<string | null> {
    this.#life.check()
    assertKey('key', key)
    const [row] = await this.#db.all<{ cursor: string | null }>(`SELECT cursor FROM ${this.#t.subscribers} WHERE key = ?`, [key])
    return row?.cursor ?? null
  }

  async upsertSubscriber(key: string, workerId: string): Promise<void> {
    this.#life.check()
    assertKey('key', key)
    assertKey('workerId', workerId)
    await this.#db.run(
      `INSERT INTO ${this.#t.subscribers} AS s (key, worker_id, lag, updated_at) VALUES (?, ?, 0, ?)
       ON CONFLICT (key) DO UPDATE SET worker_id = excluded.worker_id, updated_at = excluded.updated_at,
         generation = CASE WHEN s.worker_id = excluded.worker_id THEN s.generation ELSE s.generation + 1 END`,
      [key, workerId, Date.now()],
    )
  }

  async isSubscriberRunning(key: string, workerId: string): Promise<boolean> {
    this.#life.check()
    assertKey('key', key)
    assertKey('workerId', workerId)
    const rows = await this.#db.all(`SELECT 1 AS x FROM ${this.#t.subscribers} WHERE key = ? AND worker_id = ?`, [key, workerId])
    return rows.length > 0
  }

  async acknowledge(key: string, cursor: string, lag: number, workerId?: string, generation?: number): Promise<void> {
    this.#life.check()
    checkAcknowledge(key, cursor, lag, workerId, generation)
    await this.#acks.submit({ key, cursor, lag, at: Date.now(), workerId: workerId ?? null, generation: generation ?? null })
  }

  /** The error for an acknowledgement whose fence did not match: no such key, or another owner or generation. */
  async #whyNotAcknowledged(a: CheckedAck): Promise<Error> {
    const [row] = await this.#db.all<{ worker_id: string }>(`SELECT worker_id FROM ${this.#t.subscribers} WHERE key = ?`, [a.key])
    if (!row) return new NotFoundError(`subscriber ${JSON.stringify(a.key)} does not exist`)
    return new SubscriberReplacedError(a.key, a.workerId!, row.worker_id, row.worker_id === a.workerId ? 'rewound' : 'replaced')
  }

  async claimSubscriber(key: string, workerId: string, leaseMs: number): Promise<SubscriberInfo> {
    this.#life.check()
    checkClaim(key, workerId, leaseMs)
    const pg = this.#db.engine === 'postgres'
    const now = pg ? PG_NOW : '?'
    const at = pg ? [] : [Date.now()]
    // One statement: insert, or take over a released or expired lease, or renew our own; a live lease of another
    // worker is left alone (the WHERE of DO UPDATE), and the row then says who holds it. A change of owner bumps the
    // generation, so that a worker that lost the key and took it back cannot acknowledge a batch of its old tenure.
    const [claimed] = await this.#db.all<SubscriberRow>(
      `INSERT INTO ${this.#t.subscribers} AS s (key, worker_id, lag, updated_at, lease_until)
         VALUES (?, ?, 0, ${now}, ${now} + ?)
       ON CONFLICT (key) DO UPDATE SET
         worker_id = excluded.worker_id,
         lease_until = excluded.lease_until,
         generation = CASE WHEN s.worker_id = excluded.worker_id THEN s.generation ELSE s.generation + 1 END,
         updated_at = CASE WHEN s.worker_id = excluded.worker_id THEN s.updated_at ELSE excluded.updated_at END
       WHERE s.worker_id = excluded.worker_id OR s.lease_until IS NULL OR s.lease_until <= excluded.updated_at
       RETURNING ${SUBSCRIBER_COLUMNS}`,
      [key, workerId, ...at, ...at, leaseMs],
    )
    if (claimed) return toSubscriber(claimed)
    const [held] = await this.#db.all<SubscriberRow>(`SELECT ${SUBSCRIBER_COLUMNS} FROM ${this.#t.subscribers} WHERE key = ?`, [key])
    return toSubscriber(held!)
  }

  async releaseSubscriber(key: string, workerId: string): Promise<void> {
    this.#life.check()
    checkKeyWorker(key, workerId)
    await this.#db.run(`UPDATE ${this.#t.subscribers} SET lease_until = 0 WHERE key = ? AND worker_id = ?`, [key, workerId])
  }

  async rewindSubscriber(key: string, cursor: string | null): Promise<void> {
    this.#life.check()
    checkRewind(key, cursor)
    const changed = await this.#db.run(`UPDATE ${this.#t.subscribers} SET cursor = ?, generation = generation + 1 WHERE key = ?`, [cursor, key])
    if (changed === 0) throw new NotFoundError(`subscriber ${JSON.stringify(key)} does not exist`)
  }

  async getSubscriber(key: string): Promise<SubscriberInfo | null> {
    this.#life.check()
    assertKey('key', key)
    const [r] = await this.#db.all<SubscriberRow>(`SELECT ${SUBSCRIBER_COLUMNS} FROM ${this.#t.subscribers} WHERE key = ?`, [key])
    return r ? toSubscriber(r) : null
  }

  async listSubscribers(args?: { after?: string; limit?: number }): Promise<SubscriberInfo[]> {
    this.#life.check()
    const { after, limit } = checkListSubscribers(args)
    const rows = await this.#db.all<SubscriberRow>(
      `SELECT ${SUBSCRIBER_COLUMNS} FROM ${this.#t.subscribers}${after === undefined ? '' : ' WHERE key > ?'} ORDER BY key LIMIT ?`,
      after === undefined ? [limit] : [after, limit],
    )
    return rows.map(toSubscriber)
  }

  async getSnapshot(aggregatorType: string, aggregatorRevision: string, id: string): Promise<Snapshot | null> {
    this.#life.check()
    checkSnapshotKeys(aggregatorType, aggregatorRevision, id)
    const [row] = await this.#db.all<{ data: Uint8Array; cursor: string }>(
      `SELECT data, cursor FROM ${this.#t.snapshots} WHERE aggregator_type = ? AND aggregator_revision = ? AND id = ?`,
      [aggregatorType, aggregatorRevision, id],
    )
    return row ? { data: asBytes(row.data), cursor: row.cursor } : null
  }

  async saveSnapshot(aggregatorType: string, aggregatorRevision: string, id: string, data: Uint8Array, cursor: string): Promise<void> {
    this.#life.check()
    const copy = checkSnapshot(aggregatorType, aggregatorRevision, id, data, cursor)
    await this.#db.run(
      `INSERT INTO ${this.#t.snapshots} (aggregator_type, aggregator_revision, id, data, cursor, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (aggregator_type, aggregator_revision, id) DO UPDATE SET data = excluded.data, cursor = excluded.cursor, updated_at = excluded.updated_at`,
      [aggregatorType, aggregatorRevision, id, copy, cursor, Date.now()],
    )
  }

  onCommitted(listener: (committed?: readonly Edge<Event>[]) => void): () => void {
    this.#life.check()
    if (typeof listener !== 'function') throw new InvalidArgumentError('listener must be a function')
    const wrapped = (committed?: readonly Edge<Event>[]): void => listener(committed)
    this.#listeners.add(wrapped)
    if (this.#engine.listen && !this.#stopListening) {
      this.#stopListening = this.#engine.listen(() => notifyAll(this.#listeners)).catch((err: unknown) => {
        process.emitWarning(`holdfast: cannot LISTEN for other processes' commits: ${String(err)}`)
        return undefined
      })
    }
    return () => {
      if (!this.#listeners.delete(wrapped) || this.#listeners.size > 0) return
      void this.#unlisten()
    }
  }

  async #unlisten(): Promise<void> {
    const stopping = this.#stopListening
    this.#stopListening = undefined
    const stop = await stopping
    await stop?.()
  }

  /** Waits for queued writes to commit, then stops listening. */
  async close(): Promise<void> {
    await Promise.all([this.#commits.idle(), this.#acks.idle()])
    this.#listeners.clear()
    await this.#unlisten()
  }
}

/**
 * The events a group commit stored, as `read` returns them, when the appender reported every committed write's
 * positions; `undefined` otherwise (the listeners then read).
 */
function committedEdges(writes: CheckedWrite[], outcomes: (Error | undefined)[]): Edge<Event>[] | undefined {
  const edges: Edge<Event>[] = []
  let ordered = true
  for (let i = 0; i < writes.length; i++) {
    if (outcomes[i] !== undefined) continue
    const w = writes[i]!
    // A retry of a stored write, or an appender that does not report positions.
    if (!w.stored) return undefined
    const { positions, timestamp } = w.stored
    for (let j = 0; j < w.events.length; j++) {
      const e = w.events[j]!
      const position = positions[j]!
      if (edges.length > 0 && edges[edges.length - 1]!.node.position > position) ordered = false
      edges.push(
        new CommittedEdge({
          id: e.id,
          aggregatorType: e.aggregatorType,
          aggregatorId: e.aggregatorId,
          version: e.version,
          name: e.name,
          routingKey: e.routingKey,
          data: e.data,
          metadata: e.metadata,
          position,
          timestamp,
        }),
      )
    }
  }
  return ordered ? edges : edges.sort((a, b) => a.node.position - b.node.position)
}

/**
 * An edge whose cursor is made when asked: a follower wants the cursors of a few events (a batch's ends), and
 * encoding one per event of every commit cost writers with a listener ~10% of their throughput.
 */
class CommittedEdge implements Edge<Event> {
  #cursor: string | undefined
  constructor(readonly node: Event) {}
  get cursor(): string {
    return (this.#cursor ??= encodeCursor(this.node.position))
  }
}

function and(a: string, b: string): string {
  return a ? `${a} AND ${b}` : b
}
