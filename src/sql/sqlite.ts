import type BetterSqlite3 from 'better-sqlite3'
import { HoldfastError, StoreUnavailableError } from '../errors.js'
import type { SqlDatabase, SqlExecutor } from './database.js'
import { Mutex } from './mutex.js'

/** The driver, imported once: an import per open cost ~25 µs, and ~1 ms under a loader hook such as tsx's. */
let driver: Promise<typeof BetterSqlite3> | undefined

/** How to open a SQLite database. */
export interface SqliteConfig {
  /** File path, or `:memory:`. */
  path: string
  /** `full` (default): a resolved write survives power loss. `normal`: survives a process crash only. */
  synchronous: 'full' | 'normal'
  /** How long to wait for another process's lock before `STORE_UNAVAILABLE`. */
  busyTimeoutMs: number
}

type Statement = BetterSqlite3.Statement<unknown[], unknown>

/** Maps a driver error to Holdfast's: busy, locked, I/O and every other driver failure mean "did not happen". */
export function sqliteError(err: unknown): unknown {
  if (err instanceof HoldfastError) return err
  const code = (err as { code?: unknown }).code
  const message = err instanceof Error ? err.message : String(err)
  return new StoreUnavailableError(`sqlite${typeof code === 'string' ? ` ${code}` : ''}: ${message}`, { cause: err })
}

/**
 * better-sqlite3, one connection per store. Its calls are synchronous, so hot paths ({@link SqliteDatabase.exclusive})
 * run whole transactions without yielding; the mutex keeps async transactions from sharing the connection.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly engine = 'sqlite' as const
  readonly #mutex = new Mutex()
  readonly #statements = new Map<string, Statement>()
  readonly #direct: SqlExecutor

  private constructor(
    /** The better-sqlite3 handle; use only inside {@link SqliteDatabase.exclusive}. */
    readonly db: BetterSqlite3.Database,
    /** The durability the database was opened with. */
    readonly synchronous: 'full' | 'normal',
  ) {
    this.#direct = {
      all: async <R extends object>(sql: string, params: readonly unknown[] = []) => this.statement(sql).all(...params) as R[],
      run: async (sql: string, params: readonly unknown[] = []) => this.statement(sql).run(...params).changes,
    }
  }

  /** Opens (creating if needed) the file in WAL mode with the requested durability. */
  static async open(config: SqliteConfig): Promise<SqliteDatabase> {
    let Database: typeof BetterSqlite3
    try {
      Database = await (driver ??= import('better-sqlite3').then((m) => m.default))
    } catch (err) {
      throw new StoreUnavailableError('the SQLite backend needs the better-sqlite3 package: npm install better-sqlite3', { cause: err })
    }
    let db: BetterSqlite3.Database | undefined
    try {
      db = new Database(config.path, { timeout: config.busyTimeoutMs })
      db.pragma('journal_mode = WAL')
      db.pragma(`synchronous = ${config.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
      // 32 MiB of page cache instead of 2: a write to a million-event store touches index pages all over the file.
      db.pragma('cache_size = -32768')
      return new SqliteDatabase(db, config.synchronous)
    } catch (err) {
      db?.close()
      throw sqliteError(err)
    }
  }

  /** A cached prepared statement. Reads build their text from the filters, so the cache is bounded. */
  statement(sql: string): Statement {
    let stmt = this.#statements.get(sql)
    if (!stmt) {
      stmt = this.db.prepare(sql)
      if (this.#statements.size < 1000) this.#statements.set(sql, stmt)
    }
    return stmt
  }

  table(name: string): string {
    return `holdfast_${name}`
  }

  /** Runs synchronous work with the connection to itself. */
  exclusive<T>(fn: () => T): Promise<T> {
    return this.#mutex.runSync(() => this.#guarded(fn))
  }

  /**
   * {@link exclusive} without a promise when the connection is free: runs `fn` at once and returns its result (or
   * throws); a promise only when an async transaction holds the connection. The group commits' lone-writer path.
   */
  exclusiveNow<T>(fn: () => T): T | Promise<T> {
    return this.#mutex.locked ? this.exclusive(fn) : this.#guarded(fn)
  }

  #guarded<T>(fn: () => T): T {
    try {
      return fn()
    } catch (err) {
      throw sqliteError(err)
    }
  }

  /**
   * Runs synchronous work as one `BEGIN IMMEDIATE … COMMIT` (rolled back if it throws): the group commits' path. With
   * `relaxed`, a database opened `synchronous: 'full'` commits this one transaction without an fsync; it survives a
   * process crash at once and a power loss from the next durable commit on (the log is written in order).
   */
  immediate<T>(fn: () => T, relaxed = false): Promise<T> {
    return this.exclusive(() => {
      const relax = relaxed && this.synchronous === 'full'
      if (relax) this.db.pragma('synchronous = NORMAL')
      try {
        this.statement('BEGIN IMMEDIATE').run()
        try {
          const result = fn()
          this.statement('COMMIT').run()
          return result
        } catch (err) {
          if (this.db.inTransaction) this.statement('ROLLBACK').run()
          throw err
        }
      } finally {
        if (relax) this.db.pragma('synchronous = FULL')
      }
    })
  }

  all<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.exclusive(() => this.statement(sql).all(...params) as R[])
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.exclusive(() => this.statement(sql).run(...params).changes)
  }

  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.#mutex.run(async () => {
      try {
        this.db.exec('BEGIN IMMEDIATE')
      } catch (err) {
        throw sqliteError(err)
      }
      try {
        const result = await fn(this.#direct)
        this.db.exec('COMMIT')
        return result
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK')
        throw sqliteError(err)
      }
    })
  }

  async close(): Promise<void> {
    await this.#mutex.run(() => this.db.close())
  }
}
