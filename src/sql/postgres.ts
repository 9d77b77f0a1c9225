import type pg from 'pg'
import { StoreUnavailableError } from '../errors.js'
import { fnv1a, numberedPlaceholders, quoteIdent, type ListenHooks, type PostgresDatabase, type SqlExecutor } from './database.js'
import { postgresError } from './postgres-errors.js'

/** How to reach a PostgreSQL server. */
export interface PostgresConfig {
  /** `postgres://` or `postgresql://` connection string. */
  url: string
  /** Schema holding Holdfast's tables. */
  schema: string
  /** Most connections in the pool. */
  poolSize: number
}

/** The driver, imported once per process rather than once per open (see `sqlite.ts`). */
let driver: Promise<typeof pg> | undefined

const names = new Map<string, { name: string; text: string }>()

/** Named statements are parsed and planned once per connection, not on every call; the name is computed once per text. */
function prepared(sql: string, params: readonly unknown[]): pg.QueryConfig<unknown[]> {
  let named = names.get(sql)
  if (!named) {
    const text = numberedPlaceholders(sql)
    named = { name: `hf_${fnv1a(text)}_${text.length}`, text }
    if (names.size < 1000) names.set(sql, named)
  }
  // Not `{ ...named, values }`: a spread followed by more properties costs ~1 µs in V8 here, an explicit literal 0.1.
  return { name: named.name, text: named.text, values: params as unknown[] }
}

function executor(client: pg.Pool | pg.ClientBase): SqlExecutor {
  return {
    async all<R extends object>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await client.query(prepared(sql, params))).rows as R[]
      } catch (err) {
        throw postgresError(err)
      }
    },
    async run(sql: string, params: readonly unknown[] = []) {
      try {
        return (await client.query(prepared(sql, params))).rowCount ?? 0
      } catch (err) {
        throw postgresError(err)
      }
    },
  }
}

/** A PostgreSQL server through a `pg` pool; LISTEN runs on a connection of its own. */
export class PgDatabase implements PostgresDatabase {
  readonly engine = 'postgres' as const
  readonly #pool: pg.Pool
  readonly #exec: SqlExecutor
  readonly #pg: typeof pg
  readonly #url: string

  private constructor(pgModule: typeof pg, pool: pg.Pool, url: string, readonly schema: string) {
    this.#pg = pgModule
    this.#pool = pool
    this.#url = url
    this.#exec = executor(pool)
  }

  /** Creates the pool and checks that the server answers. */
  static async open(config: PostgresConfig): Promise<PgDatabase> {
    let pgModule: typeof pg
    try {
      pgModule = await (driver ??= import('pg').then((m) => m.default))
    } catch (err) {
      throw new StoreUnavailableError('the PostgreSQL backend needs the pg package: npm install pg', { cause: err })
    }
    const pool = new pgModule.Pool({ connectionString: config.url, max: config.poolSize })
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => {})
    const db = new PgDatabase(pgModule, pool, config.url, config.schema)
    try {
      await pool.query('SELECT 1')
    } catch (err) {
      await pool.end().catch(() => {})
      throw new StoreUnavailableError(`cannot reach PostgreSQL at ${redact(config.url)}: ${(err as Error).message}`, { cause: err })
    }
    return db
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
    let client: pg.PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw postgresError(err)
    }
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await fn(executor(client))
      await client.query('COMMIT')
      return result
    } catch (err) {
      try {
        await client.query('ROLLBACK')
      } catch {
        broken = true
      }
      throw postgresError(err)
    } finally {
      client.release(broken)
    }
  }

  async listen(channel: string, fn: () => void, hooks?: ListenHooks): Promise<() => Promise<void>> {
    let client: pg.Client | undefined
    let stopped = false
    let retry: NodeJS.Timeout | undefined
    const connect = async (): Promise<void> => {
      const c = new this.#pg.Client({ connectionString: this.#url })
      c.on('notification', (msg) => {
        if (msg.channel === channel) fn()
      })
      c.on('error', () => reconnect())
      c.on('end', () => reconnect())
      await c.connect()
      await c.query(`LISTEN ${quoteIdent(channel)}`)
      await hooks?.start(executor(c))
      if (stopped) await c.end()
      else client = c
    }
    // A dropped LISTEN connection is re-made; wake the listener once in case a commit fell into the gap.
    const reconnect = (): void => {
      if (stopped || retry) return
      client = undefined
      retry = setTimeout(() => {
        retry = undefined
        connect().then(fn, () => reconnect())
      }, 500)
      retry.unref()
    }
    try {
      await connect()
    } catch (err) {
      throw postgresError(err)
    }
    return async () => {
      stopped = true
      if (retry) clearTimeout(retry)
      const c = client
      client = undefined
      if (c) {
        c.removeAllListeners('end')
        await hooks?.stop(executor(c)).catch(() => {})
        await c.end().catch(() => {})
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

/** A connection string without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
}
