import { randomUUID } from 'node:crypto'
import { MemoryChunkStores, SqlChunkStores } from './automerge/chunk-store.js'
import { MemoryAutomergeStore } from './automerge/memory-persister.js'
import { SqlAutomergeStore } from './automerge/sql-persister.js'
import type { AutomergePersister } from './automerge/types.js'
import { MemoryThreadStore } from './checkpoints/memory-thread-store.js'
import { MemoryCheckpointStore } from './checkpoints/memory-checkpoint-store.js'
import { jsonSerializer } from './checkpoints/serializer.js'
import { SqlThreadStore } from './checkpoints/sql-thread-store.js'
import { SqlCheckpointStore } from './checkpoints/sql-checkpoint-store.js'
import type { CheckpointSerializer } from './checkpoints/types.js'
import { diagnoseMemory, diagnoseSql } from './diagnostics.js'
import { InvalidArgumentError } from './errors.js'
import { MemoryEventStore } from './events/memory-event-store.js'
import { postgresAcknowledger, sqliteAcknowledger } from './events/acknowledge.js'
import { postgresAppender, postgresAppendWithin } from './events/postgres-append.js'
import { postgresListener } from './events/postgres-listen.js'
import { SqlEventStore } from './events/sql-event-store.js'
import { sqliteAppender, sqliteAppendWithin } from './events/sqlite-append.js'
import { sqliteWatcher } from './events/sqlite-watch.js'
import { Lifecycle, notifyAll } from './lifecycle.js'
import { MemoryPackageStore } from './packages/memory-package-store.js'
import { SqlPackageStore } from './packages/sql-package-store.js'
import { MemoryPoisonStore } from './poison/memory-poison-store.js'
import { SqlPoisonStore } from './poison/sql-poison-store.js'
import type { PostgresDatabase, SqlDatabase } from './sql/database.js'
import { MIGRATIONS } from './schema.js'
import { checkSchemaVersion, migrate } from './sql/migrations.js'
import { PGliteDatabase, type PGliteLike } from './sql/pglite.js'
import { PgDatabase } from './sql/postgres.js'
import { SqliteDatabase } from './sql/sqlite.js'
import type { Backend, Store } from './store.js'
import { assertInteger, assertKey, describe, readFields } from './validate.js'

/** Options for {@link openStore}. Give `url` or `pglite`. */
export interface OpenStoreOptions {
  /**
   * Where the data lives: a file path or `sqlite:<path>` (`sqlite::memory:` for an in-memory database),
   * `postgres://…` / `postgresql://…`, or `memory:`.
   */
  url?: string
  /** A PGlite instance to use as the PostgreSQL engine (it stays open when the store closes). */
  pglite?: PGliteLike
  /** PostgreSQL schema for Holdfast's tables; default `holdfast`. */
  schema?: string
  /** SQLite durability: `full` (default) survives power loss; `normal` survives a process crash only. */
  synchronous?: 'full' | 'normal'
  /** SQLite: how long to wait for another process's write lock, in ms; default 10,000. */
  busyTimeoutMs?: number
  /** PostgreSQL: most pooled connections; default 10. */
  poolSize?: number
  /** How checkpoint states become bytes; default JSON (`richSerializer` also round-trips bytes, dates, maps, sets, bigints). */
  checkpointSerializer?: CheckpointSerializer
  /** Told of each migration step before it runs (`version` 1.., `of` the newest): a progress bar for `holdfast migrate`. */
  onMigrate?: (step: { version: number; name: string; of: number }) => void
}

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/

interface Target {
  backend: Backend
  path?: string
  url?: string
}

/** Reads a URL into a backend. Anything without a known scheme is a file path. */
function parseUrl(url: string): Target {
  if (url === 'memory:') return { backend: 'memory' }
  if (/^postgres(ql)?:\/\//i.test(url)) return { backend: 'postgres', url }
  if (url.startsWith('sqlite:')) {
    let path = url.slice('sqlite:'.length)
    if (path.startsWith('//')) path = path.slice(2)
    if (path === '') throw new InvalidArgumentError(`url ${JSON.stringify(url)} names no SQLite file`)
    return { backend: 'sqlite', path }
  }
  // A scheme of two or more letters that is not ours is a mistake, not a file name (one letter is a Windows drive).
  if (/^[A-Za-z][A-Za-z0-9+.-]+:/.test(url)) throw new InvalidArgumentError(`url ${JSON.stringify(url)} has an unknown scheme; use a file path, sqlite:, postgres:// or memory:`)
  return { backend: 'sqlite', path: url }
}

/**
 * Opens a store: creates or migrates the schema and hands out the contracts.
 *
 * @example
 * const store = await openStore('./app.db')                      // SQLite file (the default backend)
 * const store = await openStore('postgres://user@host:5432/db')  // PostgreSQL
 * const store = await openStore('memory:')                        // in-memory reference backend
 */
export async function openStore(urlOrOptions: string | OpenStoreOptions): Promise<Store> {
  const options: OpenStoreOptions = typeof urlOrOptions === 'string' ? { url: urlOrOptions } : urlOrOptions
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError(`openStore takes a URL or an options object, got ${describe(urlOrOptions)}`)
  const schema = options.schema ?? 'holdfast'
  if (typeof schema !== 'string' || !SCHEMA_NAME.test(schema))
    throw new InvalidArgumentError(`schema must be a PostgreSQL identifier (letters, digits, _; at most 63), got ${describe(schema)}`)
  if (options.synchronous !== undefined && options.synchronous !== 'full' && options.synchronous !== 'normal')
    throw new InvalidArgumentError(`synchronous must be 'full' or 'normal', got ${describe(options.synchronous)}`)

  const serializer = options.checkpointSerializer ?? jsonSerializer
  if (typeof serializer.serialize !== 'function' || typeof serializer.deserialize !== 'function')
    throw new InvalidArgumentError('checkpointSerializer must have serialize and deserialize functions')
  const life = new Lifecycle()
  if (options.onMigrate !== undefined && typeof options.onMigrate !== 'function') throw new InvalidArgumentError(`onMigrate must be a function, got ${describe(options.onMigrate)}`)
  const onStep = options.onMigrate && ((version: number, name: string) => options.onMigrate!({ version, name, of: MIGRATIONS.length }))
  if (options.pglite) return sqlStore(life, new PGliteDatabase(options.pglite, schema), serializer, onStep)
  if (typeof options.url !== 'string' || options.url === '') throw new InvalidArgumentError(`openStore needs a url or a pglite instance, got ${describe(options.url)}`)
  const target = parseUrl(options.url)
  switch (target.backend) {
    case 'memory': {
      const events = new MemoryEventStore(life)
      const automerge = new MemoryAutomergeStore(life)
      const chunks = new MemoryChunkStores(life)
      const checkpoints = new MemoryCheckpointStore(life, serializer)
      return {
        backend: 'memory',
        events,
        checkpoints,
        threads: new MemoryThreadStore(life, checkpoints),
        packages: new MemoryPackageStore(life, events),
        poison: new MemoryPoisonStore(life),
        automerge: (documentId) => persister(life, documentId, (id) => automerge.persister(id)),
        automergeDocuments: async (args) => {
          const { after, limit } = checkDocumentArgs(args)
          return automerge.documents(after, limit)
        },
        chunks: (namespace = '') => {
          life.check()
          return chunks.open(namespace)
        },
        diagnose: async () => {
          life.check()
          return diagnoseMemory(MIGRATIONS)
        },
        metrics: () => life.metrics.snapshot(),
        close: async () => {
          if (life.close()) await events.close()
        },
      }
    }
    case 'sqlite':
      return sqlStore(
        life,
        await SqliteDatabase.open({ path: target.path!, synchronous: options.synchronous ?? 'full', busyTimeoutMs: options.busyTimeoutMs ?? 10_000 }),
        serializer,
        onStep,
      )
    case 'postgres':
      return sqlStore(life, await PgDatabase.open({ url: target.url!, schema, poolSize: options.poolSize ?? 10 }), serializer, onStep)
  }
}

async function sqlStore(life: Lifecycle, db: SqlDatabase, serializer: CheckpointSerializer, onStep?: (version: number, name: string) => void): Promise<Store> {
  let openedAt: number
  try {
    // A database of a newer schema is refused before anything is written to it, the switch to WAL included.
    openedAt = await checkSchemaVersion(db, MIGRATIONS)
    if (db instanceof SqliteDatabase) await db.configure()
    await migrate(db, MIGRATIONS, onStep)
  } catch (err) {
    await db.close().catch(() => {})
    throw err
  }
  // Events a route change appends commit outside the event store's group commit; its listeners hear of them here.
  const local = new Set<() => void>()
  // This store's listener token on PostgreSQL: its own appends NOTIFY only other stores (see appendPositionsSchema).
  const self = randomUUID()
  const events =
    db.engine === 'sqlite'
      ? new SqlEventStore(db, life, {
          append: sqliteAppender(db as SqliteDatabase),
          acknowledge: sqliteAcknowledger(db as SqliteDatabase),
          listen: alsoLocal(local, sqliteWatcher(db as SqliteDatabase)),
        })
      : new SqlEventStore(db, life, {
          append: postgresAppender(db as PostgresDatabase, self),
          acknowledge: postgresAcknowledger(db as PostgresDatabase),
          listen: alsoLocal(local, postgresListener(db as PostgresDatabase, self)),
        })
  const packageEvents = {
    append: db.engine === 'sqlite' ? sqliteAppendWithin(db as SqliteDatabase) : postgresAppendWithin(db as PostgresDatabase, self),
    committed: () => notifyAll(local),
  }
  const automerge = new SqlAutomergeStore(db, life)
  const checkpoints = new SqlCheckpointStore(db, life, serializer)
  const chunks = new SqlChunkStores(db, life, automerge)
  const threads = new SqlThreadStore(db, life, checkpoints, serializer)
  let closing: Promise<void> | undefined
  return {
    backend: db.engine,
    events,
    checkpoints,
    threads,
    packages: new SqlPackageStore(db, life, packageEvents),
    poison: new SqlPoisonStore(db, life),
    automerge: (documentId) => persister(life, documentId, (id) => automerge.persister(id)),
    automergeDocuments: async (args) => {
      const { after, limit } = checkDocumentArgs(args)
      return automerge.documents(after, limit)
    },
    chunks: (namespace = '') => {
      life.check()
      return chunks.open(namespace)
    },
    diagnose: async () => {
      life.check()
      return diagnoseSql(db, MIGRATIONS, openedAt)
    },
    metrics: () => life.metrics.snapshot(),
    close: () => {
      if (!closing) {
        life.close()
        closing = Promise.all([events.close(), automerge.close(), checkpoints.close(), threads.close()]).finally(() => db.close()).then(() => {})
      }
      return closing
    },
  }
}

/** An event store's `listen` that also hears this process's other committers (a route change's events) through `local`. */
function alsoLocal(local: Set<() => void>, listen: (fn: () => void) => Promise<() => Promise<void>>): (fn: () => void) => Promise<() => Promise<void>> {
  return async (fn) => {
    local.add(fn)
    try {
      const stop = await listen(fn)
      return async () => {
        local.delete(fn)
        await stop()
      }
    } catch (err) {
      local.delete(fn)
      throw err
    }
  }
}

/** `automergeDocuments`' arguments, each read once; `after` defaults to `''`, below every key. */
function checkDocumentArgs(args: unknown): { after: string; limit: number } {
  if (args === undefined || args === null) return { after: '', limit: 100 }
  const { limit = 100, after } = readFields('args', args, ['limit', 'after'])
  assertInteger('args.limit', limit, 1, 10_000)
  if (after !== undefined) assertKey('args.after', after)
  return { after: after ?? '', limit }
}

function persister(life: Lifecycle, documentId: string, open: (id: string) => AutomergePersister): AutomergePersister {
  life.check()
  assertKey('documentId', documentId)
  return open(documentId)
}
