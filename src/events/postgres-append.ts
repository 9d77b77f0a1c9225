import { InvalidArgumentError, InvalidOriginalVersionError } from '../errors.js'
import type { PostgresDatabase, SqlExecutor } from '../sql/database.js'
import { asBytes } from '../validate.js'
import { isStoredRetry, type StoredEvent } from './retry.js'
import type { AppendWithin, CheckedWrite } from './validate.js'

const base64 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64')

interface Outcome {
  o_write: number
  o_kind: 'version' | 'id' | 'base'
  o_type: string | null
  o_agg: string | null
  o_expected: number | string | null
  o_found: number | string | null
  o_id: string | null
}

/**
 * Appends a group commit on PostgreSQL in one round trip per call of the `append_batch` function (see
 * `schema.ts`). The function checks each write against what is stored, not against other writes of the same call,
 * so writes that touch the same aggregate or event id go into successive calls, in submission order.
 */
export function postgresAppender(db: PostgresDatabase, self: string | null = null): (writes: CheckedWrite[]) => Promise<(Error | undefined)[]> {
  const batch = appendBatch(db, self)
  const lone = `SELECT ${db.table('append_event')}(?, ?, ?, ?::bigint, ?, ?, ?::bytea, ?::bytea, ?::bigint, ?::bigint, ?::text) AS r`
  const call = async (writes: CheckedWrite[]): Promise<(Error | undefined)[]> =>
    writes.length === 1 && writes[0]!.events.length === 1 ? [await callLone(writes[0]!)] : batch(db, writes)

  /** One write of one event: scalar parameters (see `eventsWritePathSchema`). */
  const callLone = async (w: CheckedWrite): Promise<Error | undefined> => {
    const e = w.events[0]!
    const a = w.aggregates[0]!
    const now = Date.now()
    const [row] = await db.all<{ r: number | string | bigint | null }>(lone, [
      e.id, e.aggregatorType, e.aggregatorId, e.version, e.name, e.routingKey, e.data, e.metadata, a.expected, now, self,
    ])
    const r = row?.r ?? null
    if (r === null) return undefined
    const found = Number(r)
    // -1 - position: appended (see `appendPositionsSchema`).
    if (found <= -2) {
      w.stored = { positions: [-1 - found], timestamp: now }
      return undefined
    }
    return found < 0
      ? new InvalidArgumentError(`events[0].id ${JSON.stringify(e.id)} is already stored`)
      : new InvalidOriginalVersionError({ aggregatorType: a.aggregatorType, aggregatorId: a.aggregatorId, expectedVersion: a.expected, foundVersion: found })
  }

  const stored = storedRetries(db)
  const retries = async (writes: CheckedWrite[], outcomes: (Error | undefined)[]): Promise<(Error | undefined)[]> => {
    try {
      return await stored(db, writes, outcomes)
    } catch (err) {
      // Whether they are retries cannot be told now; the caller may retry again.
      return outcomes.map((o) => (o instanceof InvalidOriginalVersionError || o instanceof InvalidArgumentError ? (err as Error) : o))
    }
  }

  return async (writes) => {
    // A lone write (every sequential writer's) has nothing to split.
    if (writes.length === 1) {
      const outcomes = await call(writes).catch((err: unknown) => [err as Error])
      return outcomes[0] === undefined ? outcomes : retries(writes, outcomes)
    }
    const outcomes: (Error | undefined)[] = []
    let start = 0
    while (start < writes.length) {
      const seen = new Set<string>()
      let end = start
      for (; end < writes.length; end++) {
        const w = writes[end]!
        const keys = [...w.aggregates.map((a) => `a${a.key}`), ...w.events.map((e) => `i${e.id}`)]
        if (end > start && keys.some((k) => seen.has(k))) break
        for (const k of keys) seen.add(k)
      }
      const chunk = writes.slice(start, end)
      // Each call commits on its own: a failed call fails its writes only, never ones an earlier call committed.
      try {
        outcomes.push(...(await call(chunk)))
      } catch (err) {
        outcomes.push(...chunk.map(() => err as Error))
      }
      start = end
    }
    return outcomes.some((o) => o !== undefined) ? retries(writes, outcomes) : outcomes
  }
}

/** What runs a query: the database, or a transaction's executor. */
type Querier = Pick<SqlExecutor, 'all'>

/** One call of `append_batch` for `writes`, through `q`; one outcome per write. `self`: see `appendPositionsSchema`. */
function appendBatch(db: PostgresDatabase, self: string | null): (q: Querier, writes: CheckedWrite[]) => Promise<(Error | undefined)[]> {
  const sql = `SELECT * FROM ${db.table('append_batch')}(?::jsonb, ?::jsonb, ?::bigint, ?::text)`
  return async (q, writes) => {
    // The shapes `append_batch` reads (see `appendBatchFunction`); bytes in base64.
    const events: unknown[] = []
    const expect: unknown[] = []
    writes.forEach((w, i) => {
      for (const e of w.events)
        events.push({ w: i, o: events.length, i: e.id, t: e.aggregatorType, a: e.aggregatorId, v: e.version, n: e.name, r: e.routingKey, d: base64(e.data), m: base64(e.metadata) })
      for (const a of w.aggregates) expect.push({ w: i, o: expect.length, t: a.aggregatorType, a: a.aggregatorId, e: a.expected })
    })
    const now = Date.now()
    const rows = await q.all<Outcome>(sql, [JSON.stringify(events), JSON.stringify(expect), now, self])
    const outcomes: (Error | undefined)[] = writes.map(() => undefined)
    let base: number | undefined
    for (const r of rows) {
      if (r.o_kind === 'base') {
        base = Number(r.o_found)
        continue
      }
      if (outcomes[r.o_write]) continue
      outcomes[r.o_write] =
        r.o_kind === 'version'
          ? new InvalidOriginalVersionError({ aggregatorType: r.o_type!, aggregatorId: r.o_agg!, expectedVersion: Number(r.o_expected), foundVersion: Number(r.o_found) })
          : new InvalidArgumentError(`events[${writes[r.o_write]!.events.findIndex((e) => e.id === r.o_id)}].id ${JSON.stringify(r.o_id)} is already stored`)
    }
    // The appended events took the positions after `base`, in order, skipping the writes that failed.
    if (base !== undefined) {
      let position = base
      writes.forEach((w, i) => {
        if (outcomes[i] === undefined) w.stored = { positions: w.events.map(() => ++position), timestamp: now }
      })
    }
    return outcomes
  }
}

/**
 * Writes that conflicted but whose events are all stored as they are were committed before, by a call whose reply
 * was lost: they succeed (`undefined`). One query for all of them, and only when some write conflicted.
 */
function storedRetries(db: PostgresDatabase): (q: Querier, writes: CheckedWrite[], outcomes: (Error | undefined)[]) => Promise<(Error | undefined)[]> {
  const sql = `SELECT id, aggregator_type AS "aggregatorType", aggregator_id AS "aggregatorId", version, name,
    routing_key AS "routingKey", data, metadata FROM ${db.table('events')} WHERE id = ANY(?::text[])`
  return async (q, writes, outcomes) => {
    const suspects = writes.filter((_, i) => outcomes[i] instanceof InvalidOriginalVersionError || outcomes[i] instanceof InvalidArgumentError)
    if (suspects.length === 0) return outcomes
    const rows = await q.all<StoredEvent & { id: string }>(sql, [suspects.flatMap((w) => w.events.map((e) => e.id))])
    if (rows.length === 0) return outcomes
    const byId = new Map(rows.map((r) => [r.id, { ...r, data: asBytes(r.data), metadata: asBytes(r.metadata) }]))
    return outcomes.map((o, i) => (o !== undefined && isStoredRetry(writes[i]!, (id) => byId.get(id)) ? undefined : o))
  }
}

/**
 * PostgreSQL (server and PGlite): `append_batch` inside the caller's transaction. Its advisory lock is
 * transaction-scoped, so it is held until that transaction commits: positions stay gap-free and visible in order,
 * and its NOTIFY (sent only while someone listens) goes out at that commit.
 */
export function postgresAppendWithin(db: PostgresDatabase, self: string | null = null): AppendWithin {
  const batch = appendBatch(db, self)
  const stored = storedRetries(db)
  return async (tx, w) => {
    const [conflict] = await batch(tx, [w])
    if (!conflict) return undefined
    const [after] = await stored(tx, [w], [conflict])
    return after ?? 'stored'
  }
}
