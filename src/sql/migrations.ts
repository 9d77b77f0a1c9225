import { SchemaVersionError } from '../errors.js'
import { quoteIdent, type Migration, type PostgresDatabase, type SqlDatabase } from './database.js'

export type { Migration } from './database.js'

/** Advisory-lock class for migrations, so concurrent openers take turns (`hf` + `mg`). */
const MIGRATION_LOCK = 0x6866_6d67

/**
 * The database's schema version (0 when it has none yet), read without writing anything; a version newer than
 * `migrations` knows is refused with `SCHEMA_VERSION`, before the caller changes the file in any way.
 */
export async function checkSchemaVersion(db: SqlDatabase, migrations: readonly Migration[]): Promise<number> {
  let current = 0
  try {
    const [row] = await db.all<{ v: number | string | null }>(`SELECT max(version) AS v FROM ${db.table('migrations')}`)
    current = Number(row?.v ?? 0)
  } catch {
    // No migrations table yet (or a file that is no database, which the first write reports): version 0.
    return 0
  }
  if (current > migrations.length) throw new SchemaVersionError(current, migrations.length)
  return current
}

/**
 * Creates or migrates the schema, each step once, in one transaction that concurrent openers serialise on (SQLite's
 * write lock, a PostgreSQL advisory lock). A database newer than this build is refused untouched. `migrations` is
 * the ordered list (`MIGRATIONS` in `schema.ts`, or a prefix of it for tests that build an older schema); `onStep` is told
 * of each step before it runs (a progress bar).
 */
export async function migrate(db: SqlDatabase, migrations: readonly Migration[], onStep?: (version: number, name: string) => void): Promise<void> {
  // The usual open finds the schema current: one read, no write lock (that would queue behind other writers).
  if ((await checkSchemaVersion(db, migrations)) === migrations.length) return
  const log = db.table('migrations')
  await db.transaction(async (tx) => {
    if (db.engine === 'postgres') {
      const { schema } = db as PostgresDatabase
      await tx.all('SELECT pg_advisory_xact_lock(?, hashtext(?))', [MIGRATION_LOCK, schema])
      await tx.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`)
    }
    await tx.run(`CREATE TABLE IF NOT EXISTS ${log} (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)`)
    const [row] = await tx.all<{ v: number | string | null }>(`SELECT max(version) AS v FROM ${log}`)
    const current = Number(row?.v ?? 0)
    if (current > migrations.length) throw new SchemaVersionError(current, migrations.length)
    for (let version = current + 1; version <= migrations.length; version++) {
      const m = migrations[version - 1]!
      onStep?.(version, m.name)
      const statements = db.engine === 'postgres' ? m.postgres((n) => db.table(n), (db as PostgresDatabase).schema) : m.sqlite((n) => db.table(n))
      for (const statement of statements) await tx.run(statement)
      await tx.run(`INSERT INTO ${log} (version, name, applied_at) VALUES (?, ?, ?)`, [version, m.name, Date.now()])
    }
  })
}
