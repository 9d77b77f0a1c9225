import { randomUUID } from 'node:crypto'
import type { PostgresDatabase } from '../sql/database.js'
import { APPEND_LOCK, eventsChannel } from './schema.js'

/**
 * Listens for other stores' commits on PostgreSQL. Appends NOTIFY only while a listener is registered in
 * `event_listeners` (a NOTIFY serialises commits database-wide), so a listener registers its connection, then waits
 * out the appends in flight, then wakes once: an append that checked the table before the row was there holds the
 * append lock until it commits, so once the lock is free its events are readable, and every later append sees the row.
 * Rows whose connection is gone (a crashed process) are removed by the next registration. `token` is the store's:
 * its own appends pass it, and NOTIFY only when another store listens (its own listeners hear of them in-process).
 */
export function postgresListener(db: PostgresDatabase, token: string = randomUUID()): (fn: () => void) => Promise<() => Promise<void>> {
  const table = db.table('event_listeners')
  return async (fn) => {
    const stop = await db.listen(eventsChannel(db.schema), fn, {
      async start(exec) {
        // Only where this server shows our own connection in pg_stat_activity (PGlite shows none) can it tell the dead.
        await exec.run(
          `DELETE FROM ${table} l WHERE EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = pg_backend_pid())
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = l.pid)`,
        )
        await exec.run(
          `INSERT INTO ${table} (token, pid) VALUES (?, pg_backend_pid()) ON CONFLICT (token) DO UPDATE SET pid = excluded.pid`,
          [token],
        )
        await exec.all(`SELECT 1 AS x FROM pg_advisory_xact_lock(?::int, hashtext(?))`, [APPEND_LOCK, db.schema])
      },
      async stop(exec) {
        await exec.run(`DELETE FROM ${table} WHERE token = ?`, [token])
      },
    })
    // Commits that did not NOTIFY (before the row was there) are readable now: wake once for them.
    fn()
    return stop
  }
}
