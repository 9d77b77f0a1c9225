import { resolve } from 'node:path'
import type BetterSqlite3 from 'better-sqlite3'
import { HoldfastError, InvalidArgumentError, StoreUnavailableError } from '../errors.js'
import type { SqlDatabase, SqlExecutor } from './database.js'
import { Mutex } from '../mutex.js'

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

/** What a SQLite result code means to a caller: a phrase for the message, and whether waiting can help. */
const SQLITE_CODES: Record<string, [string, boolean]> = {
  SQLITE_BUSY: ['is locked by another connection', true],
  SQLITE_LOCKED: ['is locked by another connection', true],
  SQLITE_FULL: ['cannot grow: the disk is full', true],
  SQLITE_IOERR: ['had an I/O error', true],
  SQLITE_NOMEM: ['ran out of memory', true],
  SQLITE_INTERRUPT: ['was interrupted', true],
  SQLITE_PROTOCOL: ['had a locking protocol error', true],
  SQLITE_CANTOPEN: ['cannot be opened (does its directory exist, and may this process create files in it?)', false],
  SQLITE_NOTADB: ['is not a SQLite database', false],
  SQLITE_CORRUPT: ['is corrupt', false],
  SQLITE_READONLY: ['is read-only', false],
  SQLITE_PERM: ['may not be accessed by this process', false],
  SQLITE_AUTH: ['refused the statement', false],
}

/** Whether `err` is SQLite's "another connection holds the lock": nothing was done, and waiting may help. */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/**
 * Maps a driver error to Holdfast's `STORE_UNAVAILABLE`, naming the file, with `retryable` from the result code
 * (a lock, a full disk, an I/O error: yes; not a database, corrupt, read-only, cannot be opened: no) and the driver's
 * error as `cause`. A SQLite failure leaves the transaction rolled back, so the outcome is always `'none'`.
 */
export function sqliteError(err: unknown, path: string): unknown {
  if (err instanceof HoldfastError) return err
  const code = (err as { code?: unknown } | null)?.code
  const message = err instanceof Error ? err.message : String(err)
  const primary = typeof code === 'string' ? /^SQLITE_[A-Z]+/.exec(code)?.[0] : undefined
  const known = primary === undefined ? undefined : SQLITE_CODES[primary]
  const what = known ? `${known[0]}: ${message}` : message
  return new StoreUnavailableError(`${name(path)} ${what}${typeof code === 'string' ? ` (${code})` : ''}`, { cause: err, retryable: known?.[1] ?? false })
}

function name(path: string): string {
  return path === ':memory:' ? 'the in-memory SQLite database' : `SQLite database ${JSON.stringify(path)}`
}

/** A failed attempt that found the database locked by another connection: try again later. */
const BUSY: unique symbol = Symbol('busy')

/** The first waits for a lock, in ms, doubling up to {@link MAX_BUSY_WAIT_MS}: a short lock is seen soon. */
const FIRST_BUSY_WAIT_MS = 1
/** The longest wait between two tries for a lock, in ms. */
const MAX_BUSY_WAIT_MS = 25

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * better-sqlite3, one connection per store. Its calls are synchronous, so hot paths ({@link SqliteDatabase.exclusive})
 * run whole transactions without yielding; the mutex keeps async transactions from sharing the connection.
 *
 * The driver waits for another connection's lock synchronously, which would freeze the event loop for as long as
 * the lock is held elsewhere (a 50 ms timer fired after a second). So the connection does not wait at all
 * (`timeout: 0`): work that finds the database locked is tried again from a timer, with waits from 1 ms doubling to
 * 25 ms, until `busyTimeoutMs` has passed; other work on this connection (reads) runs in between.
 */
export class SqliteDatabase implements SqlDatabase {
  readonly engine = 'sqlite' as const
  readonly #mutex = new Mutex()
  readonly #statements = new Map<string, Statement>()
  readonly #direct: SqlExecutor

  readonly #driver: typeof BetterSqlite3

  private constructor(
    driver: typeof BetterSqlite3,
    /** The better-sqlite3 handle; use only inside {@link SqliteDatabase.exclusive}. */
    readonly db: BetterSqlite3.Database,
    /** The durability the database was opened with. */
    readonly synchronous: 'full' | 'normal',
    /** The file (or `:memory:`), for messages. */
    readonly path: string,
    /** How long work may wait for another connection's lock. */
    readonly busyTimeoutMs: number,
  ) {
    this.#driver = driver
    this.#direct = {
      all: async <R extends object>(sql: string, params: readonly unknown[] = []) => this.statement(sql).all(...params) as R[],
      run: async (sql: string, params: readonly unknown[] = []) => this.statement(sql).run(...params).changes,
    }
  }

  /**
   * Opens (creating if needed) the file. Nothing is written to it here: {@link SqliteDatabase.configure} switches
   * it to WAL once the caller knows the file is one it may change (not a database of a newer schema).
   */
  static async open(config: SqliteConfig): Promise<SqliteDatabase> {
    if (config.path.includes('\0')) throw new InvalidArgumentError(`SQLite path ${JSON.stringify(config.path)} contains a NUL character`)
    let Database: typeof BetterSqlite3
    try {
      Database = await (driver ??= import('better-sqlite3').then((m) => m.default))
    } catch (err) {
      throw new StoreUnavailableError('the SQLite backend needs the better-sqlite3 package: npm install better-sqlite3', { cause: err, retryable: false })
    }
    let db: BetterSqlite3.Database | undefined
    try {
      db = new Database(config.path, { timeout: 0 })
      // 32 MiB of page cache instead of 2: a write to a million-event store touches index pages all over the file.
      db.pragma('cache_size = -32768')
      // The absolute path: the commit watcher opens the file again later, perhaps after the process changed directory.
      const path = config.path === ':memory:' || config.path === '' ? config.path : resolve(config.path)
      return new SqliteDatabase(Database, db, config.synchronous, path, config.busyTimeoutMs)
    } catch (err) {
      db?.close()
      throw sqliteError(err, config.path)
    }
  }

  /** Switches the file to WAL with the requested durability: the first change the store makes to a file. */
  async configure(): Promise<void> {
    await this.exclusive(() => {
      this.db.pragma('journal_mode = WAL')
      this.db.pragma(`synchronous = ${this.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    })
  }

  /**
   * Another connection to the same file, read-only and never waiting for a lock (`timeout: 0`): one that can never
   * hold the write lock, for work beside the store's (the commit watcher). Throws the driver's error.
   */
  readOnlyConnection(): BetterSqlite3.Database {
    return new this.#driver(this.path, { readonly: true, fileMustExist: true, timeout: 0 })
  }

  /** A driver error as Holdfast's, naming this database's file. */
  error(err: unknown): unknown {
    return sqliteError(err, this.path)
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

  /**
   * Runs synchronous work with the connection to itself. If it finds the database locked by another connection, it
   * runs again later, so `fn` must do all or nothing: one statement, or one transaction it opens itself.
   */
  exclusive<T>(fn: () => T): Promise<T> {
    const result = this.exclusiveNow(fn)
    return result instanceof Promise ? result : Promise.resolve(result)
  }

  /**
   * {@link exclusive} without a promise when the connection is free and the database is not locked elsewhere: runs
   * `fn` at once and returns its result (or throws); a promise otherwise. The group commits' lone-writer path.
   */
  exclusiveNow<T>(fn: () => T): T | Promise<T> {
    if (this.#mutex.locked) return this.#mutex.run(() => this.#attempt(fn)).then((r) => (r === BUSY ? this.#waitFor(fn) : r))
    const r = this.#attempt(fn)
    return r === BUSY ? this.#waitFor(fn) : r
  }

  /** One try of `fn`: its result, or {@link BUSY} when another connection holds the lock and `fn` did nothing. */
  #attempt<T>(fn: () => T): T | typeof BUSY {
    try {
      return fn()
    } catch (err) {
      if (isBusy(err) && !this.db.inTransaction) return BUSY
      throw this.error(err)
    }
  }

  /** Tries `fn` again from timers until it gets the lock or `busyTimeoutMs` has passed since the first try. */
  #waitFor<T>(fn: () => T): Promise<T> {
    return this.#retry(() => this.#mutex.run(() => this.#attempt(fn)))
  }

  async #retry<T>(attempt: () => Promise<T | typeof BUSY>): Promise<T> {
    const deadline = performance.now() + this.busyTimeoutMs
    for (let wait = FIRST_BUSY_WAIT_MS; ; wait = Math.min(wait * 2, MAX_BUSY_WAIT_MS)) {
      const left = deadline - performance.now()
      if (left <= 0)
        throw new StoreUnavailableError(
          `${name(this.path)} stayed locked by another connection for ${this.busyTimeoutMs} ms (busyTimeoutMs); nothing was written`,
          { retryable: true },
        )
      await sleep(Math.min(wait, left))
      const r = await attempt()
      if (r !== BUSY) return r
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
          this.#rollback()
          throw err
        }
      } finally {
        if (relax) this.db.pragma('synchronous = FULL')
      }
    })
  }

  /** Rolls back what is open; a rollback that fails (a full disk) leaves SQLite to roll back at the next statement. */
  #rollback(): void {
    try {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
    } catch {
      // SQLite rolls an interrupted transaction back itself; the original error is the one to report.
    }
  }

  all<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.exclusive(() => this.statement(sql).all(...params) as R[])
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.exclusive(() => this.statement(sql).run(...params).changes)
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const attempt = (): Promise<T | typeof BUSY> =>
      this.#mutex.run(async () => {
        if (this.#attempt(() => this.db.exec('BEGIN IMMEDIATE')) === BUSY) return BUSY
        try {
          const result = await fn(this.#direct)
          this.db.exec('COMMIT')
          return result
        } catch (err) {
          this.#rollback()
          throw this.error(err)
        }
      })
    const first = await attempt()
    return first === BUSY ? this.#retry(attempt) : first
  }

  async close(): Promise<void> {
    await this.#mutex.run(() => this.db.close())
  }
}
