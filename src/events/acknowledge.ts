import type { PostgresDatabase } from '../sql/database.js'
import type { SqliteDatabase } from '../sql/sqlite.js'

/** One acknowledgement, checked: the fence fields are `null` where the caller gave none. */
export interface CheckedAck {
  key: string
  cursor: string
  lag: number
  at: number
  workerId: string | null
  generation: number | null
}

/** Commits a batch of acknowledgements; for each, whether its fence matched (and so it moved the cursor). */
export type Acknowledger = (acks: CheckedAck[]) => Promise<boolean[]>

/**
 * SQLite: one `BEGIN IMMEDIATE … COMMIT` for the batch, committed without an fsync of its own (`relaxed`). An
 * acknowledgement survives a process crash at once and a power loss from the next durable commit on; one lost to a
 * power loss is a redelivery, which at-least-once delivery allows. Sixteen subscriptions acknowledging in one
 * transaction instead of sixteen is what keeps writers' throughput while they follow (see bench/subscriptions.ts).
 */
export function sqliteAcknowledger(db: SqliteDatabase): Acknowledger {
  const sql = `UPDATE ${db.table('subscribers')} SET cursor = ?, lag = ?, acknowledged_at = ?
    WHERE key = ? AND (? IS NULL OR worker_id = ?) AND (? IS NULL OR generation = ?)`
  return (acks) =>
    db.immediate(() => {
      const update = db.statement(sql)
      return acks.map((a) => update.run(a.cursor, a.lag, a.at, a.key, a.workerId, a.workerId, a.generation, a.generation).changes > 0)
    }, true)
}

/**
 * PostgreSQL: one `UPDATE … FROM (VALUES …)` per batch, one round trip. A row is updated once per statement, so two
 * acknowledgements of one key (two workers, one of them fenced out) go into successive statements, in order.
 */
export function postgresAcknowledger(db: PostgresDatabase): Acknowledger {
  const t = db.table('subscribers')
  return async (acks) => {
    const matched = acks.map(() => false)
    let rest = acks.map((a, i) => ({ a, i }))
    while (rest.length > 0) {
      const seen = new Set<string>()
      const now: typeof rest = []
      const later: typeof rest = []
      for (const r of rest) {
        ;(seen.has(r.a.key) ? later : now).push(r)
        seen.add(r.a.key)
      }
      const values = now.map(() => '(?::text, ?::text, ?::bigint, ?::bigint, ?::text, ?::bigint)').join(', ')
      const rows = await db.all<{ key: string }>(
        `UPDATE ${t} AS s SET cursor = v.cursor, lag = v.lag, acknowledged_at = v.at
         FROM (VALUES ${values}) AS v (key, cursor, lag, at, worker_id, generation)
         WHERE s.key = v.key AND (v.worker_id IS NULL OR s.worker_id = v.worker_id) AND (v.generation IS NULL OR s.generation = v.generation)
         RETURNING s.key`,
        now.flatMap(({ a }) => [a.key, a.cursor, a.lag, a.at, a.workerId, a.generation]),
      )
      const moved = new Set(rows.map((r) => r.key))
      for (const { a, i } of now) matched[i] = moved.has(a.key)
      rest = later
    }
    return matched
  }
}
