import { InvalidArgumentError, InvalidOriginalVersionError } from '../errors.js'
import type { SqliteDatabase } from '../sql/sqlite.js'
import { isStoredRetry, type StoredEvent } from './retry.js'
import type { AppendWithin, CheckedWrite } from './validate.js'

/**
 * Appends a group commit on SQLite: one `BEGIN IMMEDIATE … COMMIT` (one fsync) for the whole batch. Each write is
 * checked against the stored versions and ids plus the writes before it in the batch, and skipped with its own
 * error if it fails, so one caller's conflict never fails the others. Positions are SQLite rowids, assigned in
 * commit order because the write lock serialises every writer, in every process.
 */
export function sqliteAppender(db: SqliteDatabase): (writes: CheckedWrite[]) => Promise<(Error | undefined)[]> {
  const append = sqliteAppendRows(db)
  return (writes) => db.immediate(() => append(writes).map((o) => (o === 'stored' ? undefined : o)))
}

/**
 * The checks and inserts of {@link sqliteAppender}, for a caller that holds the write lock in a transaction of its
 * own (a route change with its events): one outcome per write, `'stored'` for a retry of a write already committed.
 */
export function sqliteAppendRows(db: SqliteDatabase): (writes: CheckedWrite[]) => (Error | 'stored' | undefined)[] {
  const events = db.table('events')
  const versionOf = `SELECT version FROM ${events} WHERE aggregator_type = ? AND aggregator_id = ? ORDER BY position DESC LIMIT 1`
  const idExists = `SELECT 1 AS x FROM ${events} WHERE id = ?`
  const storedById = `SELECT aggregator_type AS aggregatorType, aggregator_id AS aggregatorId, version, name,
    routing_key AS routingKey, data, metadata FROM ${events} WHERE id = ?`
  const insert = `INSERT INTO ${events} (id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

  return (writes) => {
    const version = db.statement(versionOf).pluck()
    const exists = db.statement(idExists).pluck()
    const ins = db.statement(insert)
    const now = Date.now()
    const versions = new Map<string, number>()
    const ids = new Set<string>()
    const check = (w: CheckedWrite): Error | undefined => {
      for (const a of w.aggregates) {
        let found = versions.get(a.key)
        if (found === undefined) found = Number((version.get(a.aggregatorType, a.aggregatorId) as number | null) ?? 0)
        if (found !== a.expected)
          return new InvalidOriginalVersionError({ aggregatorType: a.aggregatorType, aggregatorId: a.aggregatorId, expectedVersion: a.expected, foundVersion: found })
      }
      for (let i = 0; i < w.events.length; i++) {
        const id = w.events[i]!.id
        if (ids.has(id) || exists.get(id) !== undefined) return new InvalidArgumentError(`events[${i}].id ${JSON.stringify(id)} is already stored`)
      }
      return undefined
    }
    const stored = (id: string): StoredEvent | undefined => db.statement(storedById).get(id) as StoredEvent | undefined
    return writes.map((w) => {
      const err = check(w)
      // A retry of a write that committed (its reply lost) succeeds, and writes nothing again.
      if (err) return isStoredRetry(w, stored) ? 'stored' : err
      const positions: number[] = []
      for (const e of w.events) {
        positions.push(Number(ins.run(e.id, e.aggregatorType, e.aggregatorId, e.version, e.name, e.routingKey, e.data, e.metadata, now).lastInsertRowid))
        ids.add(e.id)
      }
      w.stored = { positions, timestamp: now }
      for (const a of w.aggregates) versions.set(a.key, a.last)
      return undefined
    })
  }
}

/** {@link AppendWithin} on SQLite: the caller's transaction is `BEGIN IMMEDIATE` on this connection, so it holds the lock. */
export function sqliteAppendWithin(db: SqliteDatabase): AppendWithin {
  const append = sqliteAppendRows(db)
  return (_tx, w) => Promise.resolve(append([w])[0])
}
