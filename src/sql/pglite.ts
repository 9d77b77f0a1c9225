import { numberedPlaceholders, quoteIdent, type ListenHooks, type PostgresDatabase, type SqlExecutor } from './database.js'
import { postgresError } from './postgres-errors.js'

/** The part of a PGlite instance (`@electric-sql/pglite`) Holdfast uses; any instance of it fits. */
export interface PGliteLike {
  /** Runs a parameterised query. */
  query<T>(sql: string, params?: unknown[]): Promise<{ rows: T[]; affectedRows?: number }>
  /** Runs `fn` in a transaction. */
  transaction<T>(fn: (tx: { query<R>(sql: string, params?: unknown[]): Promise<{ rows: R[]; affectedRows?: number }> }) => Promise<T>): Promise<T>
  /** Subscribes to a NOTIFY channel. */
  listen(channel: string, callback: (payload: string) => void): Promise<() => Promise<void>>
  /** Resolves when the instance can take queries. */
  waitReady?: Promise<void>
}

type Queryable = Pick<PGliteLike, 'query'>

function executor(db: Queryable): SqlExecutor {
  return {
    async all<R extends object>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await db.query<R>(numberedPlaceholders(sql), params as unknown[])).rows
      } catch (err) {
        throw postgresError(err, 'PGlite')
      }
    },
    async run(sql: string, params: readonly unknown[] = []) {
      try {
        return (await db.query(numberedPlaceholders(sql), params as unknown[])).affectedRows ?? 0
      } catch (err) {
        throw postgresError(err, 'PGlite')
      }
    },
  }
}

/** PostgreSQL compiled to WebAssembly, in this process. The instance belongs to the caller: close() leaves it open. */
export class PGliteDatabase implements PostgresDatabase {
  readonly engine = 'postgres' as const
  readonly #db: PGliteLike
  readonly #exec: SqlExecutor

  /** @param db - a PGlite instance; @param schema - the schema for Holdfast's tables */
  constructor(db: PGliteLike, readonly schema: string) {
    this.#db = db
    this.#exec = executor(db)
  }

  table(name: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(name)}`
  }

  all<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]> {
    return this.#exec.all<R>(sql, params)
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.#exec.run(sql, params)
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    try {
      return await this.#db.transaction((tx) => fn(executor(tx)))
    } catch (err) {
      throw postgresError(err, 'PGlite')
    }
  }

  async listen(channel: string, fn: () => void, hooks?: ListenHooks): Promise<() => Promise<void>> {
    let unlisten: () => Promise<void>
    try {
      unlisten = await this.#db.listen(channel, () => fn())
    } catch (err) {
      throw postgresError(err, 'PGlite')
    }
    try {
      await hooks?.start(this.#exec)
    } catch (err) {
      await unlisten().catch(() => {})
      throw err
    }
    return async () => {
      await hooks?.stop(this.#exec).catch(() => {})
      await unlisten()
    }
  }

  async close(): Promise<void> {}
}
