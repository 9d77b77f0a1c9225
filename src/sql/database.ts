/**
 * The one seam between the stores and the database engines. Stores write their SQL once, with `?` placeholders,
 * against this interface; each engine (SQLite, PostgreSQL over `pg`, PGlite) implements it in its own file.
 */

/** Which SQL dialect a database speaks; the few differences are documented where they are used. */
export type Engine = 'sqlite' | 'postgres'

/** Runs statements. Parameters are positional `?`; engines translate as they need. */
export interface SqlExecutor {
  /** Runs a query and returns its rows. */
  all<R extends object>(sql: string, params?: readonly unknown[]): Promise<R[]>
  /** Runs a statement and returns how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>
}

/** A database the SQL stores run on. */
export interface SqlDatabase extends SqlExecutor {
  /** The dialect. */
  readonly engine: Engine
  /** Qualified table names: `holdfast_events` on SQLite, `"holdfast"."events"` on PostgreSQL. */
  table(name: string): string
  /** Runs `fn` in one transaction: committed if it resolves, rolled back if it throws. */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T>
  /** Releases the connections (not a PGlite instance the caller passed in). */
  close(): Promise<void>
}

/** A PostgreSQL database (server or PGlite): adds the channel used for cross-process wake-ups. */
export interface PostgresDatabase extends SqlDatabase {
  readonly engine: 'postgres'
  /** The schema holding every table. */
  readonly schema: string
  /**
   * Calls `fn` on each NOTIFY on `channel`; resolves to a function that stops listening. `hooks` run on the listening
   * connection: `start` after each LISTEN (the first and every one after a reconnect), `stop` before it closes.
   */
  listen(channel: string, fn: () => void, hooks?: ListenHooks): Promise<() => Promise<void>>
}

/** Statements a listener runs on its own connection (see {@link PostgresDatabase.listen}). */
export interface ListenHooks {
  /** After LISTEN, before any wake-up that follows it. */
  start(exec: SqlExecutor): Promise<void>
  /** Before the connection closes, when the listener stops. */
  stop(exec: SqlExecutor): Promise<void>
}

/** Quotes a PostgreSQL identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

/** Quotes a SQL string literal. */
export function quoteLiteral(value: string): string {
  return `'${value.replaceAll("'", "''")}'`
}

const placeholderCache = new Map<string, string>()

/** `?` → `$1, $2, …` for PostgreSQL, cached per statement text. Holdfast's SQL has no `?` inside literals. */
export function numberedPlaceholders(sql: string): string {
  let out = placeholderCache.get(sql)
  if (out === undefined) {
    let n = 0
    out = sql.replace(/\?/g, () => `$${++n}`)
    if (placeholderCache.size < 1000) placeholderCache.set(sql, out)
  }
  return out
}

/** 32-bit FNV-1a of a string, as 8 hex digits: short stable names for prepared statements and channels. */
export function fnv1a(text: string): string {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return (h >>> 0).toString(16).padStart(8, '0')
}

/** One forward-only schema step. Its place in `MIGRATIONS` (`src/schema.ts`) (1-based) is its version. */
export interface Migration {
  /** Short description, recorded with the version. */
  name: string
  /** Statements for SQLite, given the qualified-name function of the database. */
  sqlite: (table: (name: string) => string) => string[]
  /** Statements for PostgreSQL. */
  postgres: (table: (name: string) => string, schema: string) => string[]
}

