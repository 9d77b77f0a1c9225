import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { isBusy, type SqliteDatabase } from '../sql/sqlite.js'

/** Tuning for {@link sqliteWatcher}; the defaults are what stores use, the rest is for tests. */
export interface SqliteWatchOptions {
  /** Watch the file's directory for writes (default true); false leaves only the fallback poll. */
  watch?: boolean
  /** Read `data_version` on a read-only connection of the watcher's own (default true); false uses the store's. */
  dedicated?: boolean
  /** How often `data_version` is read when nothing has been seen to change, in ms; default 500. */
  fallbackMs?: number
}

/**
 * The least time between two wake-ups, in ms. Each wake-up costs a subscriber a read of the events table, so a burst
 * of commits by another process wakes the listeners at most every 5 ms, each time for all commits since; the last
 * change is always delivered, at most 5 ms late. A lone write, long after the last wake-up, is not delayed.
 * (Unthrottled, 3,000 back-to-back commits in another process gave 955 wake-ups in 1.7 s.)
 */
const WAKE_GAP_MS = 5

/**
 * After a write is seen, or a change, `data_version` is read again after these waits (ms), each counted from the
 * read before. A commit's last write to the WAL comes before the commit is visible (the fsync and the WAL-index
 * update follow it), so the read a write event prompts can come too early; measured on ext4 with
 * `synchronous = FULL`, ~97% of the first reads (1 ms after the event) already saw the commit and the rest the
 * second or third. A read is ~2 µs, so reading every millisecond through a burst costs little. The reads stop after
 * ~0.5 s, which outlasts any fsync that does not also stall the writer.
 */
const SETTLE_MS = [1, 1, 2, 4, 8, 16, 32, 64, 128, 256]

const DEFAULT_FALLBACK_MS = 500

/**
 * While the store itself commits, the watch fires for its own writes too: one event per write to the WAL, thousands a
 * second under load, which cost 32 writers 17% of their throughput (a JS callback each). So after a commit of the
 * store's own, the watcher closes the watch and reads `data_version` every {@link BUSY_POLL_MS} (~2 µs a read) until
 * the store has been quiet for {@link QUIET_MS}, then watches again.
 */
const BUSY_POLL_MS = 2
const QUIET_MS = 250

/** Where `data_version` comes from: a connection of the watcher's own (synchronous), or the store's. */
interface VersionSource {
  read(): number | Promise<number>
  close(): void
}

/**
 * Wakes `fn` when another connection — another store object or another process — commits to the same SQLite file.
 * Same shape as `postgresListener`: `SqlEventStore` starts it with its first `onCommitted` listener and stops it
 * after its last.
 *
 * How it knows, without reading the events table: `PRAGMA data_version` on a read-only connection of its own
 * changes whenever any other connection has committed (in WAL mode it compares the WAL-index header in shared memory;
 * ~2 µs, no page read). When to ask: `fs.watch` on the file's directory reports each write to the `-wal` file (or
 * to the file itself, in a rollback journal or a checkpoint); then `data_version` is read again a few times over
 * the next half second, since the write event precedes the commit's becoming visible. Measured between two
 * processes, 120 writes 20 ms apart: `fn` ran 0.4 ms (p50) and 2.5 ms (p99) after the writer's `write` resolved.
 * The directory is watched rather than the two files because the `-wal` may not exist yet, and the last connection
 * to close deletes it; a watch on the directory sees it come and go without re-arming. A connection of its own,
 * rather than the store's: a read there is synchronous and never queues behind the store's transactions.
 * A read every `fallbackMs` covers what the watch misses (a filesystem without inotify, a lost event), so an idle
 * listener costs two `data_version` reads a second and nothing else (~0.4 ms of CPU in 10 s). The store's own
 * commits (its events, which wake its listeners in-process, and its acknowledgements) change the watcher's
 * `data_version` too, so a change seen there is confirmed on the store's connection, where only other connections'
 * commits change it: a store that writes and acknowledges busily does not wake its own subscriptions for nothing.
 *
 * It never throws into the process: if its own connection cannot be opened it reads `data_version` on the store's
 * connection; if that fails too it warns once and watches nothing (in-process wake-ups go on). `:memory:` and
 * temporary databases have no other connections, so there it does nothing.
 */
export function sqliteWatcher(db: SqliteDatabase, options: SqliteWatchOptions = {}): (fn: () => void) => Promise<() => Promise<void>> {
  const fallbackMs = options.fallbackMs ?? DEFAULT_FALLBACK_MS
  return async (fn) => {
    if (db.path === ':memory:' || db.path === '' || db.path.startsWith('file::memory:')) return async () => {}
    const warn = once((message: string) => process.emitWarning(`holdfast: ${message}`))
    const dedicated = options.dedicated ?? true ? dedicatedSource(db) : undefined
    const source = dedicated ?? storeSource(db)
    const own = dedicated ? storeSource(db) : undefined
    let version: number
    let ownVersion = 0
    try {
      version = await source.read()
      if (own) ownVersion = await own.read()
    } catch (err) {
      source.close()
      warn(`cannot watch SQLite database ${JSON.stringify(db.path)} for other processes' commits: ${String(err)}`)
      return async () => {}
    }

    let stopped = false
    let timer: NodeJS.Timeout | undefined
    let timerDue = 0
    let step = SETTLE_MS.length
    let lastRead = 0
    let lastWake = -Infinity
    let owed = false
    let reading = false
    let failing = false
    let ownBusyUntil = 0
    let watcher: FSWatcher | undefined

    const wake = (): void => {
      try {
        fn()
      } catch (err) {
        warn(`an onCommitted wake-up threw: ${String(err)}`)
      }
    }

    /** Reads in `delay` ms, unless a read is due sooner. */
    const arm = (delay: number): void => {
      const due = performance.now() + delay
      if (timer !== undefined && timerDue <= due) return
      clearTimeout(timer)
      timerDue = due
      timer = setTimeout(() => void check(), delay)
      timer.unref()
    }

    const check = async (): Promise<void> => {
      timer = undefined
      if (stopped) return
      // Only the store's connection reads asynchronously; a read in flight answers for this one too.
      if (reading) {
        arm(1)
        return
      }
      reading = true
      lastRead = performance.now()
      let changed = false
      let ownOnly = false
      try {
        const now = await source.read()
        changed = now !== version
        version = now
        if (changed && own) {
          const o = await own.read()
          ownOnly = o === ownVersion
          changed = !ownOnly
          ownVersion = o
        }
        failing = false
      } catch (err) {
        // A lock held through a WAL recovery, or a rollback-journal writer: try again soon. Anything else might hide
        // a commit, so wake once for it, but not at every read while it lasts.
        if (!isBusy(err)) {
          warn(`cannot read SQLite database ${JSON.stringify(db.path)}'s data_version: ${String(err)}`)
          changed = !failing
          failing = true
        }
      } finally {
        reading = false
      }
      if (stopped) return
      if (changed) {
        // More commits may follow (a burst): keep reading closely, however far the settling had gone.
        step = 0
        owed = true
      }
      if (owed) {
        const wait = lastWake + WAKE_GAP_MS - performance.now()
        if (wait <= 0) {
          owed = false
          lastWake = performance.now()
          wake()
        } else arm(wait)
      }
      if (ownOnly) {
        ownBusyUntil = performance.now() + QUIET_MS
        watcher?.close()
        watcher = undefined
      }
      const busy = performance.now() < ownBusyUntil
      if (options.watch !== false && !watcher && !busy) startWatch()
      arm(busy ? BUSY_POLL_MS : step < SETTLE_MS.length ? SETTLE_MS[step++]! : fallbackMs)
    }

    /** Something wrote to the file or its WAL: read now (at most once a millisecond), and a few times after. */
    const poke = (): void => {
      if (stopped) return
      step = 0
      arm(Math.max(0, lastRead + 1 - performance.now()))
    }

    const file = basename(db.path)
    const names = new Set([file, `${file}-wal`])
    const startWatch = (): void => {
      try {
        const w = watch(dirname(db.path), { persistent: false }, (_event, name) => {
          if (name === null || names.has(name)) poke()
        })
        // The directory went away or the watch broke: drop it; the fallback read re-arms it.
        w.on('error', () => {
          w.close()
          if (watcher === w) watcher = undefined
        })
        watcher = w
        // Writes between the failed watch and this one were not seen.
        poke()
      } catch (err) {
        warn(`cannot watch ${JSON.stringify(dirname(db.path))} for writes (${String(err)}); other processes' commits are seen every ${fallbackMs} ms`)
      }
    }

    if (options.watch !== false) startWatch()
    arm(fallbackMs)
    // Commits between the listener's registration and the first read of data_version were not seen: wake once.
    wake()

    return async () => {
      if (stopped) return
      stopped = true
      clearTimeout(timer)
      watcher?.close()
      source.close()
    }
  }
}

/** A read-only connection of the watcher's own, or undefined where one cannot be opened. */
function dedicatedSource(db: SqliteDatabase): VersionSource | undefined {
  let conn: BetterSqlite3.Database | undefined
  try {
    // Read-only, so it can never hold a write lock; timeout 0, so a read never blocks the event loop on a lock.
    conn = db.readOnlyConnection()
    const stmt = conn.prepare('PRAGMA data_version').pluck()
    const c = conn
    return {
      read: () => stmt.get() as number,
      close: () => {
        try {
          c.close()
        } catch {
          // Closing a connection with no statement running cannot fail in a way that matters here.
        }
      },
    }
  } catch {
    conn?.close()
    return undefined
  }
}

/**
 * The store's own connection: `data_version` there changes with every other connection's commit too, at the cost
 * of a turn in the connection's queue per read.
 */
function storeSource(db: SqliteDatabase): VersionSource {
  return {
    read: () => db.exclusive(() => db.statement('PRAGMA data_version').pluck().get() as number),
    close: () => {},
  }
}

function once<A extends unknown[]>(f: (...args: A) => void): (...args: A) => void {
  let done = false
  return (...args) => {
    if (done) return
    done = true
    f(...args)
  }
}
