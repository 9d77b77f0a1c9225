import { statSync } from 'node:fs'
import type { PostgresDatabase, SqlDatabase } from './sql/database.js'
import { checkSchemaVersion, type Migration } from './sql/migrations.js'
import { SqliteDatabase } from './sql/sqlite.js'
import type { Backend } from './store.js'
import { messageOf } from './validate.js'

/** What {@link Store.diagnose} reports: the database's own health, for `holdfast doctor` and `holdfast migrate`. */
export interface StoreDiagnostics {
  /** The engine. */
  backend: Backend
  /** Where the data lives: the SQLite file, the PostgreSQL schema, or `null` in memory. */
  location: string | null
  /** The schema version now (migrations applied); the memory store reports the supported version. */
  schemaVersion: number
  /** The newest schema version this build knows. */
  supportedSchemaVersion: number
  /** The version found when this store opened: lower than `schemaVersion` when opening migrated it. */
  openedAtSchemaVersion: number
  /**
   * The engine's own consistency check: SQLite's `PRAGMA quick_check` (`checked: true`); PostgreSQL checks its pages
   * itself (with data checksums on), so there only the connection is tested (`checked: false`).
   */
  integrity: { checked: boolean; ok: boolean; problems: string[] }
  /** Bytes of SQLite's write-ahead log file (0 when absent); `null` elsewhere. */
  walBytes: number | null
  /** Bytes of the database: SQLite pages in use, or PostgreSQL's tables and indexes in the schema; `null` in memory. */
  databaseBytes: number | null
}

const toNumber = (v: unknown): number => Number(v ?? 0)

/** Diagnoses a SQL store's database; `openedAt` is the version the open found. */
export async function diagnoseSql(db: SqlDatabase, migrations: readonly Migration[], openedAt: number): Promise<StoreDiagnostics> {
  const schemaVersion = await checkSchemaVersion(db, migrations)
  const base = { schemaVersion, supportedSchemaVersion: migrations.length, openedAtSchemaVersion: openedAt }
  if (db instanceof SqliteDatabase) {
    const rows = await db.all<{ quick_check: string }>('PRAGMA quick_check')
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok')
    const [size] = await db.all<{ n: number }>('SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()')
    let walBytes = 0
    try {
      walBytes = db.path === ':memory:' || db.path === '' ? 0 : statSync(`${db.path}-wal`).size
    } catch {
      // No log file: checkpointed and removed, or never written.
    }
    return { backend: 'sqlite', location: db.path, ...base, integrity: { checked: true, ok: problems.length === 0, problems }, walBytes, databaseBytes: toNumber(size?.n) }
  }
  const { schema } = db as PostgresDatabase
  let databaseBytes: number | null = null
  const problems: string[] = []
  try {
    const [row] = await db.all<{ n: string | number | null }>(
      `SELECT sum(pg_total_relation_size(c.oid)) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relkind = 'r'`,
      [schema],
    )
    databaseBytes = toNumber(row?.n)
  } catch (err) {
    problems.push(`sizes unavailable: ${messageOf(err)}`)
  }
  return { backend: 'postgres', location: `schema ${schema}`, ...base, integrity: { checked: false, ok: problems.length === 0, problems }, walBytes: null, databaseBytes }
}

/** The memory store's diagnosis: always current, nothing on disk. */
export function diagnoseMemory(migrations: readonly Migration[]): StoreDiagnostics {
  const v = migrations.length
  return {
    backend: 'memory',
    location: null,
    schemaVersion: v,
    supportedSchemaVersion: v,
    openedAtSchemaVersion: v,
    integrity: { checked: false, ok: true, problems: [] },
    walBytes: null,
    databaseBytes: null,
  }
}
