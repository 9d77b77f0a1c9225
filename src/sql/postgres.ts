import type pg from 'pg'
import { HoldfastError, StoreUnavailableError } from '../errors.js'
import { fnv1a, numberedPlaceholders, quoteIdent, type ListenHooks, type PostgresDatabase, type SqlExecutor } from './database.js'
import { isConnectionError, postgresError } from './postgres-errors.js'

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

interface Named {
  name: string
  text: string
  /** Whether, run outside a transaction, the statement may commit a change (see {@link mayCommit}). */
  commits: boolean
}

const names = new Map<string, Named>()

/**
 * Holdfast's reads are plain `SELECT`s; its writes are `INSERT`/`UPDATE`/`DELETE`, or a `SELECT` of an append
 * function. A connection lost during a read changed nothing; during a write, the outcome is unknown.
 */
function mayCommit(text: string): boolean {
  return !/^\s*SELECT\b/i.test(text) || text.includes('append_')
}

function named(sql: string): Named {
  let n = names.get(sql)
  if (!n) {
    const text = numberedPlaceholders(sql)
    n = { name: `hf_${fnv1a(text)}_${text.length}`, text, commits: mayCommit(text) }
    if (names.size < 1000) names.set(sql, n)
  }
  return n
}

/** Named statements are parsed and planned once per connection, not on every call; the name is computed once per text. */
function prepared(n: Named, params: readonly unknown[]): pg.QueryConfig<unknown[]> {
  // Not `{ ...named, values }`: a spread followed by more properties costs ~1 µs in V8 here, an explicit literal 0.1.
  return { name: n.name, text: n.text, values: params as unknown[] }
}

/**
 * A checked-out client emits `'error'` when its connection drops, and pg-pool listens only while the client is
 * idle: with no listener of ours the process would die of an uncaught exception. The query that was running
 * rejects on its own, so the listener has nothing to do. A broken client keeps it, since it may emit again.
 */
const heard = (): void => {}

/** The error beneath a Holdfast error, for telling a lost connection from a refused statement. */
function driverError(err: unknown): unknown {
  return err instanceof HoldfastError ? err.cause : err
}

/** Statements on a client of a transaction: none of them commits, so a lost connection means nothing was done. */
function executor(client: pg.ClientBase, where: string): SqlExecutor {
  return {
    async all<R extends object>(sql: string, params: readonly unknown[] = []) {
      try {
        return (await client.query(prepared(named(sql), params))).rows as R[]
      } catch (err) {
        throw postgresError(err, where)
      }
    },
    async run(sql: string, params: readonly unknown[] = []) {
      try {
        return (await client.query(prepared(named(sql), params))).rowCount ?? 0
      } catch (err) {
        throw postgresError(err, where)
      }
    },
  }
}

/** A PostgreSQL server through a `pg` pool; LISTEN runs on a connection of its own. */
export class PgDatabase implements PostgresDatabase {
  readonly engine = 'postgres' as const
  readonly #pool: pg.Pool
  readonly #pg: typeof pg
  readonly #url: string
  /** The server, for messages: `PostgreSQL at host:port/database`, never the password. */
  readonly #where: string

  private constructor(pgModule: typeof pg, pool: pg.Pool, url: string, readonly schema: string) {
    this.#pg = pgModule
    this.#pool = pool
    this.#url = url
    this.#where = `PostgreSQL at ${server(url)}`
  }

  /** Creates the pool and checks that the server answers. */
  static async open(config: PostgresConfig): Promise<PgDatabase> {
    let pgModule: typeof pg
    try {
      pgModule = await (driver ??= import('pg').then((m) => m.default))
    } catch (err) {
      throw new StoreUnavailableError('the PostgreSQL backend needs the pg package: npm install pg', { cause: err, retryable: false })
    }
    const pool = new pgModule.Pool({ connectionString: config.url, max: config.poolSize })
    // An idle client that loses its server must not crash the process; the next query reports it.
    pool.on('error', () => {})
    const db = new PgDatabase(pgModule, pool, config.url, config.schema)
    try {
      await pool.query('SELECT 1')
    } catch (err) {
      await pool.end().catch(() => {})
      throw postgresError(err, `cannot reach ${db.#where}`)
    }
    return db
  }

  table(name: string): string {
    return `${quoteIdent(this.schema)}.${quoteIdent(name)}`
  }

  all<R extends object>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    return this.#query(sql, params).then((r) => r.rows as R[])
  }

  run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return this.#query(sql, params).then((r) => r.rowCount ?? 0)
  }

  /** One statement on a pooled client, outside any transaction: it commits on its own. */
  async #query(sql: string, params: readonly unknown[]): Promise<pg.QueryResult> {
    const n = named(sql)
    const client = await this.#checkout()
    try {
      const result = await client.query(prepared(n, params))
      client.off('error', heard)
      client.release()
      return result
    } catch (err) {
      const lost = isConnectionError(err)
      if (!lost) client.off('error', heard)
      client.release(lost ? (err as Error) : undefined)
      throw postgresError(err, this.#where, n.commits)
    }
  }

  /** A pooled client, listened to while it is out of the pool (see {@link heard}). Nothing was sent if this fails. */
  async #checkout(): Promise<pg.PoolClient> {
    let client: pg.PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw postgresError(err, this.#where)
    }
    client.on('error', heard)
    return client
  }

  async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.#checkout()
    let broken = false
    let committing = false
    try {
      await client.query('BEGIN')
      const result = await fn(executor(client, this.#where))
      committing = true
      await client.query('COMMIT')
      return result
    } catch (err) {
      broken = isConnectionError(driverError(err))
      if (!broken && !committing) {
        try {
          await client.query('ROLLBACK')
        } catch {
          broken = true
        }
      }
      throw postgresError(err, this.#where, committing)
    } finally {
      if (!broken) client.off('error', heard)
      client.release(broken)
    }
  }

  async listen(channel: string, fn: () => void, hooks?: ListenHooks): Promise<() => Promise<void>> {
    let client: pg.Client | undefined
    let stopped = false
    let retry: NodeJS.Timeout | undefined
    let wait = RELISTEN_FIRST_MS
    const open = async (): Promise<void> => {
      const c = new this.#pg.Client({ connectionString: this.#url })
      client = c
      c.on('notification', (msg) => {
        if (client === c && msg.channel === channel) fn()
      })
      c.on('error', () => drop(c))
      c.on('end', () => drop(c))
      try {
        await c.connect()
        await c.query(`LISTEN ${quoteIdent(channel)}`)
        await hooks?.start(executor(c, this.#where))
      } catch (err) {
        drop(c)
        throw err
      }
      if (client !== c) await c.end().catch(() => {})
    }
    // A dropped LISTEN connection is made again, waiting longer each time it fails; once it is back, the listener
    // is woken, in case a commit fell into the gap.
    const drop = (c: pg.Client): void => {
      if (client !== c) return
      client = undefined
      c.end().catch(() => {})
      if (stopped || retry) return
      retry = setTimeout(() => {
        retry = undefined
        open().then(
          () => {
            wait = RELISTEN_FIRST_MS
            fn()
          },
          () => {},
        )
      }, wait)
      retry.unref()
      wait = Math.min(wait * 2, RELISTEN_MAX_MS)
    }
    try {
      await open()
    } catch (err) {
      // The server is away for now: keep trying in the background. Anything else (a refused login) is the caller's.
      if (!isConnectionError(driverError(err))) {
        stopped = true
        if (retry) clearTimeout(retry)
        throw postgresError(err, this.#where)
      }
    }
    return async () => {
      stopped = true
      if (retry) clearTimeout(retry)
      const c = client
      client = undefined
      if (c) {
        await hooks?.stop(executor(c, this.#where)).catch(() => {})
        await c.end().catch(() => {})
      }
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}

/** The first wait before a lost LISTEN connection is made again, in ms; it doubles up to {@link RELISTEN_MAX_MS}. */
const RELISTEN_FIRST_MS = 100
/** The longest wait between two tries to make a LISTEN connection again, in ms. */
const RELISTEN_MAX_MS = 2000

/** `host:port/database` of a connection string, for messages (never its password). */
function server(url: string): string {
  try {
    const u = new URL(url)
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`
  } catch {
    return redact(url)
  }
}

/** A connection string without its password, for messages. */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')
}
