// SQLite workloads: raw better-sqlite3, Holdfast, Emmett-SQLite. All durable: WAL + synchronous=FULL.
import Database from 'better-sqlite3'
import { BIG_AGGREGATE, byAggregate, DATASET_SIZE, readDataset, versionPages } from './dataset.js'
import { loadHoldfast, pageReader, singleEventWriter, toNewEvent, type HfStore } from './holdfast.js'
import {
  CONCURRENCY,
  JSON_PAYLOAD,
  PAGE_SIZE,
  quietly,
  rawRow,
  removeDb,
  runLoop,
  tempDbPath,
  type BenchOptions,
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

async function withHoldfast<T>(name: string, fn: (store: HfStore) => Promise<T>): Promise<T> {
  const openStore = await loadHoldfast()
  const path = tempDbPath(name)
  const store = await openStore(path)
  try {
    return await fn(store)
  } finally {
    await store.close()
    removeDb(path)
  }
}

async function withEmmett<T>(name: string, fn: (store: EmmettEventStore) => Promise<T>): Promise<T | null> {
  const emmett = await loadEmmettSqlite()
  if (!emmett) return null
  const path = tempDbPath(name)
  try {
    return await fn(emmett.getSQLiteEventStore({ fileName: path }))
  } finally {
    removeDb(path) // Emmett-SQLite opens and closes a connection per call: nothing stays open
  }
}

/** Emmett-SQLite appends, one event per call, each writer to its own stream. */
function emmettAppender(store: EmmettEventStore, prefix: string): (worker: number) => Promise<void> {
  return async (worker) => {
    await store.appendToStream(`order-${prefix}${worker}`, [emmettEvent(JSON_PAYLOAD)])
  }
}

export async function sqliteWrites(report: Report, opts: BenchOptions): Promise<void> {
  const { durationMs } = opts
  {
    const path = tempDbPath('raw')
    const db = openRaw(path)
    const insert = db.prepare(INSERT)
    let version = 0
    const m = await runLoop({ durationMs, warmupOps: 10, op: () => void insert.run(...rowParams(rawRow('raw', ++version))) })
    report.add('sqlite.write.raw', 'sqlite raw better-sqlite3, 1 insert per transaction', m)
    db.close()
    removeDb(path)
  }
  await withHoldfast('hf-seq', async (store) => {
    const m = await runLoop({ durationMs, warmupOps: 10, op: singleEventWriter(store, 'seq') })
    report.add('sqlite.write.holdfast-seq', 'sqlite Holdfast write, 1 event, sequential', m)
  })
  await withHoldfast('hf-32', async (store) => {
    const m = await runLoop({ durationMs, concurrency: CONCURRENCY, warmupOps: 1, op: singleEventWriter(store, 'c') })
    report.add('sqlite.write.holdfast-32', 'sqlite Holdfast write, 1 event, 32 concurrent writers', m)
  })
  const seq = await withEmmett('emmett-seq', async (store) => {
    const m = await runLoop({ durationMs, warmupOps: 5, op: emmettAppender(store, 'seq') })
    report.add('sqlite.write.emmett-seq', 'sqlite Emmett appendToStream, 1 event, sequential', m)
  })
  if (seq === null) report.skip('sqlite.write.emmett', 'peer emmett-sqlite not installed')
  await withEmmett('emmett-32', async (store) => {
    // Emmett-SQLite shares one connection between calls and closes it when any call ends: concurrent appends fail
    // (SQLITE_MISUSE). Count the failures; also catch what escapes as uncaught errors from sqlite3 callbacks.
    let escaped = 0
    const onUncaught = (): void => void escaped++
    process.on('uncaughtException', onUncaught)
    try {
      await store.appendToStream('order-warmup', [emmettEvent(JSON_PAYLOAD)]) // schema creation, alone
      const m = await quietly(() => runLoop({ durationMs, concurrency: CONCURRENCY, op: emmettAppender(store, 'c') }))
      m.errors += escaped
      report.add('sqlite.write.emmett-32', 'sqlite Emmett appendToStream, 1 event, 32 concurrent', m)
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })

  report.ratio('sqlite.write.hf32-vs-raw', 'sqlite Holdfast 32 concurrent / raw sequential', 'sqlite.write.holdfast-32', 'sqlite.write.raw', { op: '>=', value: 5 })
  report.ratio('sqlite.write.hfseq-vs-raw', 'sqlite Holdfast sequential / raw sequential', 'sqlite.write.holdfast-seq', 'sqlite.write.raw', { op: '>=', value: 0.7 })
  report.ratio('sqlite.write.hf32-vs-emmett', 'sqlite Holdfast 32 concurrent / Emmett sequential', 'sqlite.write.holdfast-32', 'sqlite.write.emmett-seq')
  report.ratio('sqlite.write.hfseq-vs-emmett', 'sqlite Holdfast sequential / Emmett sequential', 'sqlite.write.holdfast-seq', 'sqlite.write.emmett-seq')
}

export async function sqliteReads(report: Report, opts: BenchOptions): Promise<void> {
  const dataset = readDataset()
  const loop = { durationMs: opts.durationMs, minOps: opts.readMinPages, warmupOps: 5 }
  const label = (who: string, what: 'all' | 'agg'): string =>
    what === 'all'
      ? `sqlite ${who} read by position, ${DATASET_SIZE.toLocaleString('en-US')} events, pages of 1,000`
      : `sqlite ${who} read one aggregate (10,000 of them), pages of 1,000`
  {
    const path = tempDbPath('raw-read')
    const db = openRaw(path)
    db.exec(READ_INDEX)
    const insert = db.prepare(INSERT)
    const load = db.transaction((rows: RawRow[]) => rows.forEach((r) => insert.run(...rowParams(r))))
    dataset.forEach((batch) => load(batch))
    const all = db.prepare(`SELECT ${COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ${PAGE_SIZE + 1}`)
    const agg = db.prepare(
      `SELECT ${COLUMNS} FROM events WHERE aggregator_type = ? AND aggregator_id = ? AND position > ? ORDER BY position LIMIT ${PAGE_SIZE + 1}`,
    )
    const pager = (page: (after: number) => unknown[]): (() => number) => {
      let after = 0
      return () => {
        const rows = page(after) as { position: number }[]
        const n = Math.min(rows.length, PAGE_SIZE)
        after = rows.length > PAGE_SIZE ? rows[PAGE_SIZE - 1]!.position : 0
        return n
      }
    }
    report.add('sqlite.read.raw-all', label('raw', 'all'), await runLoop({ ...loop, op: pager((a) => all.all(a)) }), 'rows/s')
    const aggPage = pager((a) => agg.all('bench/Order', BIG_AGGREGATE, a))
    report.add('sqlite.read.raw-agg', label('raw', 'agg'), await runLoop({ ...loop, op: aggPage }), 'rows/s')
    db.close()
    removeDb(path)
  }
  await withHoldfast('hf-read', async (store) => {
    for (const batch of dataset) await store.events.write(batch.map(toNewEvent))
    report.add('sqlite.read.holdfast-all', label('Holdfast', 'all'), await runLoop({ ...loop, op: pageReader(store, null) }), 'rows/s')
    const agg = pageReader(store, [{ aggregatorType: 'bench/Order', aggregatorId: BIG_AGGREGATE }])
    report.add('sqlite.read.holdfast-agg', label('Holdfast', 'agg'), await runLoop({ ...loop, op: agg }), 'rows/s')
  })
  await withEmmett('emmett-read', async (store) => {
    for (const batch of dataset) {
      for (const [aggregate, rows] of byAggregate(batch)) {
        await store.appendToStream(`order-${aggregate}`, rows.map(() => emmettEvent(JSON_PAYLOAD)))
      }
    }
    const pages = versionPages(PAGE_SIZE)
    const m = await runLoop({ ...loop, op: async () => (await store.readStream(`order-${BIG_AGGREGATE}`, pages.next().value)).events.length })
    report.add('sqlite.read.emmett-agg', label('Emmett readStream', 'agg'), m, 'rows/s', 'Emmett-SQLite opens a connection per call')
  })

  report.ratio('sqlite.read.all-vs-raw', 'sqlite Holdfast / raw, read by position', 'sqlite.read.holdfast-all', 'sqlite.read.raw-all', { op: '>=', value: 0.7 })
  report.ratio('sqlite.read.agg-vs-raw', 'sqlite Holdfast / raw, read by aggregate', 'sqlite.read.holdfast-agg', 'sqlite.read.raw-agg', { op: '>=', value: 0.7 })
  report.ratio('sqlite.read.agg-vs-emmett', 'sqlite Holdfast / Emmett readStream, by aggregate', 'sqlite.read.holdfast-agg', 'sqlite.read.emmett-agg')
}

export async function sqliteScale(report: Report, opts: BenchOptions): Promise<void> {
  const openStore = await loadHoldfast()
  const path = tempDbPath('scale')
  try {
    await runScale(report, opts, 'sqlite', () => openStore(path))
  } finally {
    removeDb(path)
  }
}
