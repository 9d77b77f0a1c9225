import { SchemaVersionError } from '../errors.js'
import { automergeChunksSchema, automergeSchema } from '../automerge/schema.js'
import { checkpointsSchema, checkpointThreadsSchema } from '../checkpoints/schema.js'
import { eventsSchema, eventsWritePathSchema, subscriberLeasesSchema } from '../events/schema.js'
import { packagesSchema } from '../packages/schema.js'
import { poisonSchema } from '../poison/schema.js'
import { quoteIdent, type PostgresDatabase, type SqlDatabase } from './database.js'

/** One forward-only schema step. Its place in {@link MIGRATIONS} (1-based) is its version. */
export interface Migration {
  /** Short description, recorded with the version. */
  name: string
  /** Statements for SQLite, given the qualified-name function of the database. */
  sqlite: (table: (name: string) => string) => string[]
  /** Statements for PostgreSQL. */
  postgres: (table: (name: string) => string, schema: string) => string[]
}

/** Every migration, oldest first. Append only: never edit or reorder a released entry. */
export const MIGRATIONS: readonly Migration[] = [eventsSchema, poisonSchema, packagesSchema, checkpointsSchema, automergeSchema, automergeChunksSchema, checkpointThreadsSchema, eventsWritePathSchema, subscriberLeasesSchema]

/** Advisory-lock class for migrations, so concurrent openers take turns (`hf` + `mg`). */
const MIGRATION_LOCK = 0x6866_6d67

/**
 * The database's schema version (0 when it has none yet), read without writing anything; a version newer than
 * `migrations` knows is refused with `SCHEMA_VERSION`, before the caller changes the file in any way.
 */
export async function checkSchemaVersion(db: SqlDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<number> {
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
 * for tests that build an older schema.
 */
export async function migrate(db: SqlDatabase, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
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
      const statements = db.engine === 'postgres' ? m.postgres((n) => db.table(n), (db as PostgresDatabase).schema) : m.sqlite((n) => db.table(n))
      for (const statement of statements) await tx.run(statement)
      await tx.run(`INSERT INTO ${log} (version, name, applied_at) VALUES (?, ?, ?)`, [version, m.name, Date.now()])
    }
  })
}
