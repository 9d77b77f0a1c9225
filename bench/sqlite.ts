// SQLite workloads: raw better-sqlite3, Holdfast, Emmett-SQLite. All durable: WAL + synchronous=FULL.
import Database from 'better-sqlite3'
import { BIG_AGGREGATE, byAggregate, DATASET_SIZE, readDataset, versionPages } from './dataset.js'
import { loadHoldfast, pageReader, singleEventWriter, toNewEvent, type HfStore } from './holdfast.js'
import {
  compare,
  CONCURRENCY,
  JSON_PAYLOAD,
  PAGE_SIZE,
  quietly,
  rawRow,
  removeDb,
  retry,
  tempDbPath,
  type BenchOptions,
  type Contender,
  type LoopSpec,
  type RawRow,
} from './lib.js'
import { emmettEvent, loadEmmettSqlite, type EmmettEventStore } from './peers.js'
import type { Report } from './report.js'
import { runScale } from './scale.js'

const SCHEMA = `
  CREATE TABLE events (
    position        INTEGER PRIMARY KEY,
    id              TEXT    NOT NULL,
    aggregator_type TEXT    NOT NULL,
    aggregator_id   TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    name            TEXT    NOT NULL,
    routing_key     TEXT,
    data            BLOB    NOT NULL,
    metadata        BLOB    NOT NULL,
    timestamp       INTEGER NOT NULL,
    UNIQUE (aggregator_type, aggregator_id, version)
  )`
/** Only the read table gets this: the index a by-aggregate keyset on position needs. */
const READ_INDEX = 'CREATE INDEX events_aggregate_position ON events (aggregator_type, aggregator_id, position)'
const COLUMNS = 'position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, timestamp'
const INSERT = `INSERT INTO events (id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, timestamp)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

function openRaw(path: string): Database.Database {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(SCHEMA)
  return db
}
const rowParams = (r: RawRow): unknown[] => [r.id, r.aggregatorType, r.aggregatorId, r.version, r.name, r.routingKey, r.data, r.metadata, r.timestamp]

export function sqliteVersion(): string {
  const db = new Database(':memory:')
  const { v } = db.prepare('SELECT sqlite_version() AS v').get() as { v: string }
  db.close()
  return v
}

/** A Holdfast store on a fresh file, prepared by `load`, timed by the op that `op` returns. */
function holdfast(
  name: string,
  op: (store: HfStore) => LoopSpec['op'],
  load?: (store: HfStore) => Promise<void>,
): Contender['open'] {
  return async () => {
    const openStore = await loadHoldfast()
    const path = tempDbPath(name)
    const store = await openStore(path)
    await load?.(store)
    return { op: op(store), close: async () => (await store.close(), removeDb(path)) }
  }
}

/** A raw better-sqlite3 connection on a fresh file with the same table. */
function raw(name: string, op: (db: Database.Database) => LoopSpec['op'], setup?: (db: Database.Database) => void): Contender['open'] {
  return () => {
    const path = tempDbPath(name)
    const db = openRaw(path)
    setup?.(db)
    return Promise.resolve({ op: op(db), close: () => Promise.resolve((db.close(), removeDb(path))) })
  }
}

/** Emmett-SQLite on a fresh file (it opens and closes a connection per call: nothing stays open between calls). */
function emmett(name: string, op: (store: EmmettEventStore) => LoopSpec['op'], load?: (store: EmmettEventStore) => Promise<void>): Contender['open'] {
  return async () => {
    const mod = await loadEmmettSqlite()
    if (!mod) return null
    const path = tempDbPath(name)
    const store = mod.getSQLiteEventStore({ fileName: path })
    await store.appendToStream('order-warmup', [emmettEvent(JSON_PAYLOAD)]) // creates the schema, alone
    await load?.(store)
    return { op: op(store), close: () => Promise.resolve(removeDb(path)) }
  }
}

/** Emmett-SQLite appends, one event per call, each writer to its own stream. */
const emmettAppender = (store: EmmettEventStore, prefix: string) => async (worker: number) => {
  await store.appendToStream(`order-${prefix}${worker}`, [emmettEvent(JSON_PAYLOAD)])
}

export async function sqliteWrites(report: Report, opts: BenchOptions): Promise<void> {
  const rawInsert = (db: Database.Database): LoopSpec['op'] => {
    const insert = db.prepare(INSERT)
    let version = 0
    return () => void insert.run(...rowParams(rawRow('raw', ++version)))
  }
  // quietly: Emmett-SQLite console.logs every failed transaction (it sometimes fails a lone append with SQLITE_BUSY).
  await quietly(() => compare(report, opts, [
    { id: 'sqlite.write.raw', label: 'sqlite raw better-sqlite3, 1 insert per transaction', warmupOps: 10, open: raw('raw', rawInsert) },
    { id: 'sqlite.write.holdfast-seq', label: 'sqlite Holdfast write, 1 event, sequential', warmupOps: 10, open: holdfast('hf-seq', (s) => singleEventWriter(s, 'seq')) },
    {
      id: 'sqlite.write.holdfast-32',
      label: 'sqlite Holdfast write, 1 event, 32 concurrent writers',
      concurrency: CONCURRENCY,
      warmupOps: 1,
      open: holdfast('hf-32', (s) => singleEventWriter(s, 'c')),
    },
    { id: 'sqlite.write.emmett-seq', label: 'sqlite Emmett appendToStream, 1 event, sequential', warmupOps: 5, open: emmett('emmett-seq', (s) => emmettAppender(s, 'seq')) },
  ]))
  // Emmett-SQLite shares one connection between concurrent calls and closes it when any call ends: concurrent appends
  // fail with SQLITE_MISUSE or wait out busy timeouts. Measured alone, once; failures are counted (and its
  // console.log of each failed transaction silenced), including any that escape as uncaught errors.
  let escaped = 0
  const onUncaught = (): void => void escaped++
  process.on('uncaughtException', onUncaught)
  try {
    await quietly(() =>
      compare(report, opts, [
        {
          id: 'sqlite.write.emmett-32',
          label: 'sqlite Emmett appendToStream, 1 event, 32 concurrent',
          concurrency: CONCURRENCY,
          note: 'Emmett-SQLite shares one connection across concurrent calls; failures counted in errors',
          open: emmett('emmett-32', (s) => emmettAppender(s, 'c')),
        },
      ], { rounds: 1 }),
    )
  } finally {
    process.off('uncaughtException', onUncaught)
  }
  const e32 = report.workloads.get('sqlite.write.emmett-32')
  if (e32 && escaped) e32.errors += escaped

  report.ratio('sqlite.write.hf32-vs-raw', 'sqlite Holdfast 32 concurrent / raw sequential', 'sqlite.write.holdfast-32', 'sqlite.write.raw', { op: '>=', value: 5 })
  report.ratio('sqlite.write.hfseq-vs-raw', 'sqlite Holdfast sequential / raw sequential', 'sqlite.write.holdfast-seq', 'sqlite.write.raw', { op: '>=', value: 0.7 })
  report.ratio('sqlite.write.hf32-vs-emmett', 'sqlite Holdfast 32 concurrent / Emmett sequential', 'sqlite.write.holdfast-32', 'sqlite.write.emmett-seq')
  report.ratio('sqlite.write.hfseq-vs-emmett', 'sqlite Holdfast sequential / Emmett sequential', 'sqlite.write.holdfast-seq', 'sqlite.write.emmett-seq')
}

export async function sqliteReads(report: Report, opts: BenchOptions): Promise<void> {
  const dataset = readDataset()
  const all = `read all ${DATASET_SIZE / 1000}k by position, pages of 1,000`
  const agg = 'read 1 aggregate (10k), pages of 1,000'
  const bigAggregate = [{ aggregatorType: 'bench/Order', aggregatorId: BIG_AGGREGATE }]
  const rawPager = (db: Database.Database, sql: string, key: unknown[]): LoopSpec['op'] => {
    const stmt = db.prepare(sql)
    let after = 0
    return () => {
      const rows = stmt.all(...key, after) as { position: number }[]
      after = rows.length > PAGE_SIZE ? rows[PAGE_SIZE - 1]!.position : 0
      return Math.min(rows.length, PAGE_SIZE)
    }
  }
  const rawLoad = (db: Database.Database): void => {
    db.exec(READ_INDEX)
    const insert = db.prepare(INSERT)
    const load = db.transaction((rows: RawRow[]) => rows.forEach((r) => insert.run(...rowParams(r))))
    dataset.forEach((batch) => load(batch))
  }
  const hfLoad = async (store: HfStore): Promise<void> => {
    for (const batch of dataset) await store.events.write(batch.map(toNewEvent))
  }
  const emmettLoad = async (store: EmmettEventStore): Promise<void> => {
    for (const batch of dataset) {
      for (const [aggregate, rows] of byAggregate(batch)) {
        // Emmett-SQLite sometimes fails a lone append with SQLITE_BUSY ("SQL statements in progress"): retry it.
        await retry(() => store.appendToStream(`order-${aggregate}`, rows.map(() => emmettEvent(JSON_PAYLOAD))))
      }
    }
  }
  const emmettRead = (store: EmmettEventStore): LoopSpec['op'] => {
    const pages = versionPages(PAGE_SIZE)
    return async () => (await store.readStream(`order-${BIG_AGGREGATE}`, pages.next().value)).events.length
  }
  const selectAll = `SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ${PAGE_SIZE + 1}`
  const selectAgg = `SELECT ${COLUMNS} FROM events WHERE aggregator_type = ? AND aggregator_id = ? AND position > ? ORDER BY position LIMIT ${PAGE_SIZE + 1}`
  const r = { unit: 'rows/s' as const, warmupOps: 5 }
  await quietly(() =>
    compare(
      report,
      opts,
      [
        { ...r, id: 'sqlite.read.raw-all', label: `sqlite raw: ${all}`, open: raw('raw-all', (db) => rawPager(db, selectAll, []), rawLoad) },
        { ...r, id: 'sqlite.read.holdfast-all', label: `sqlite Holdfast: ${all}`, open: holdfast('hf-all', (s) => pageReader(s, null), hfLoad) },
        {
          ...r,
          id: 'sqlite.read.raw-agg',
          label: `sqlite raw: ${agg}`,
          open: raw('raw-agg', (db) => rawPager(db, selectAgg, ['bench/Order', BIG_AGGREGATE]), rawLoad),
        },
        { ...r, id: 'sqlite.read.holdfast-agg', label: `sqlite Holdfast: ${agg}`, open: holdfast('hf-agg', (s) => pageReader(s, bigAggregate), hfLoad) },
        {
          ...r,
          id: 'sqlite.read.emmett-agg',
          label: `sqlite Emmett readStream: ${agg}`,
          note: 'Emmett-SQLite opens a connection per call',
          open: emmett('emmett-read', emmettRead, emmettLoad),
        },
      ],
      { minOps: opts.readMinPages },
    ),
  )

  report.ratio('sqlite.read.all-vs-raw', 'sqlite Holdfast / raw, read by position', 'sqlite.read.holdfast-all', 'sqlite.read.raw-all', { op: '>=', value: 0.7 })
  report.ratio('sqlite.read.agg-vs-raw', 'sqlite Holdfast / raw, read by aggregate', 'sqlite.read.holdfast-agg', 'sqlite.read.raw-agg', { op: '>=', value: 0.7 })
  report.ratio('sqlite.read.agg-vs-emmett', 'sqlite Holdfast / Emmett readStream, by aggregate', 'sqlite.read.holdfast-agg', 'sqlite.read.emmett-agg')
}

export async function sqliteScale(report: Report, opts: BenchOptions): Promise<void> {
  const openStore = await loadHoldfast()
  const path = tempDbPath('scale')
  try {
    await runScale(report, opts, 'sqlite', () => openStore(path), path)
  } finally {
    removeDb(path)
  }
}
