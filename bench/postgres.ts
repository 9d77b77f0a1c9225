// PostgreSQL workloads: raw pg, Holdfast, Emmett-PostgreSQL. Server defaults (synchronous_commit = on).
import pg from 'pg'
import { BIG_AGGREGATE, byAggregate, DATASET_SIZE, readDataset, versionPages } from './dataset.js'
import { loadHoldfast, pageReader, singleEventWriter, toNewEvent, type HfStore } from './holdfast.js'
import { compare, CONCURRENCY, JSON_PAYLOAD, PAGE_SIZE, rawRow, type BenchOptions, type Contender, type LoopSpec, type RawRow } from './lib.js'
import { emmettEvent, loadEmmettPg, type EmmettPgEventStore } from './peers.js'
import type { Report } from './report.js'
import { runScale } from './scale.js'

const DB_PREFIX = 'holdfast_bench_'

const SCHEMA = `
  CREATE TABLE events (
    position        bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              text    COLLATE "C" NOT NULL,
    aggregator_type text    COLLATE "C" NOT NULL,
    aggregator_id   text    COLLATE "C" NOT NULL,
    version         integer NOT NULL,
    name            text    COLLATE "C" NOT NULL,
    routing_key     text    COLLATE "C",
    data            bytea   NOT NULL,
    metadata        bytea   NOT NULL,
    timestamp       bigint  NOT NULL,
    UNIQUE (aggregator_type, aggregator_id, version)
  )`
const READ_INDEX = 'CREATE INDEX events_aggregate_position ON events (aggregator_type, aggregator_id, position)'
const COLUMNS = 'position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, timestamp'
const INSERT = `INSERT INTO events (id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, timestamp)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
const rowParams = (r: RawRow): unknown[] => [r.id, r.aggregatorType, r.aggregatorId, r.version, r.name, r.routingKey, r.data, r.metadata, r.timestamp]

const dbUrl = (opts: BenchOptions, db: string): string => `${opts.pgUrl.replace(/\/+$/, '')}/${db}`

/** Drops and recreates database `holdfast_bench_<name>`; returns its URL. */
export async function freshDatabase(opts: BenchOptions, name: string): Promise<string> {
  const db = `${DB_PREFIX}${name.replace(/[^a-z0-9]/g, '_')}`
  const admin = new pg.Client({ connectionString: dbUrl(opts, 'postgres') })
  await admin.connect()
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)
    await admin.query(`CREATE DATABASE ${db}`)
  } finally {
    await admin.end()
  }
  return dbUrl(opts, db)
}

export async function postgresReachable(opts: BenchOptions): Promise<string | null> {
  const client = new pg.Client({ connectionString: dbUrl(opts, 'postgres'), connectionTimeoutMillis: 3000 })
  try {
    await client.connect()
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    return rows[0]?.v ?? 'unknown'
  } catch {
    return null
  } finally {
    await client.end().catch(() => {})
  }
}

/** Raw pg: a fresh database with the same table, and `connections` connections checked out of a pool. */
function raw(
  opts: BenchOptions,
  name: string,
  connections: number,
  op: (clients: pg.PoolClient[]) => LoopSpec['op'],
  load?: (pool: pg.Pool) => Promise<void>,
): Contender['open'] {
  return async () => {
    const pool = new pg.Pool({ connectionString: await freshDatabase(opts, name), max: CONCURRENCY })
    pool.on('error', () => {}) // an idle connection killed by a later DROP DATABASE … WITH (FORCE)
    await pool.query(SCHEMA)
    await load?.(pool)
    const clients = await Promise.all(Array.from({ length: connections }, () => pool.connect()))
    return { op: op(clients), close: async () => (clients.forEach((c) => c.release()), await pool.end()) }
  }
}

function holdfast(opts: BenchOptions, name: string, op: (store: HfStore) => LoopSpec['op'], load?: (store: HfStore) => Promise<void>): Contender['open'] {
  return async () => {
    const openStore = await loadHoldfast()
    const store = await openStore(await freshDatabase(opts, name))
    await load?.(store)
    return { op: op(store), close: () => store.close() }
  }
}

/** Emmett-PG with a 32-connection pool (its default pool has pg's 10), so it gets the same connections as raw. */
function emmett(
  opts: BenchOptions,
  name: string,
  op: (store: EmmettPgEventStore) => LoopSpec['op'],
  load?: (store: EmmettPgEventStore) => Promise<void>,
): Contender['open'] {
  return async () => {
    const mod = await loadEmmettPg()
    if (!mod) return null
    const url = await freshDatabase(opts, name)
    const pool = mod.createPool(url, CONCURRENCY)
    const store = mod.getPostgreSQLEventStore(url, { connectionOptions: { pool } })
    await store.appendToStream('order-warmup', [emmettEvent(JSON_PAYLOAD)]) // runs the schema migration
    await load?.(store)
    return { op: op(store), close: async () => (await store.close(), await pool.end()) }
  }
}

const emmettAppender = (store: EmmettPgEventStore, prefix: string) => async (worker: number) => {
  await store.appendToStream(`order-${prefix}${worker}`, [emmettEvent(JSON_PAYLOAD)])
}

export async function postgresWrites(report: Report, opts: BenchOptions): Promise<void> {
  const rawInsert = (clients: pg.PoolClient[]): LoopSpec['op'] => {
    const versions = new Map<number, number>()
    return async (w) => {
      const version = (versions.get(w) ?? 0) + 1
      versions.set(w, version)
      await clients[w]!.query({ name: 'insert', text: INSERT, values: rowParams(rawRow(`raw-${w}`, version)) })
    }
  }
  const c32 = { concurrency: CONCURRENCY, warmupOps: 1 }
  await compare(report, opts, [
    { id: 'postgres.write.raw-seq', label: 'postgres raw pg, 1 insert per commit, sequential', warmupOps: 10, open: raw(opts, 'raw_seq', 1, rawInsert) },
    { ...c32, id: 'postgres.write.raw-32', label: 'postgres raw pg, 1 insert per commit, 32 connections', open: raw(opts, 'raw_32', CONCURRENCY, rawInsert) },
    {
      id: 'postgres.write.holdfast-seq',
      label: 'postgres Holdfast write, 1 event, sequential',
      warmupOps: 10,
      open: holdfast(opts, 'hf_seq', (s) => singleEventWriter(s, 'seq')),
    },
    {
      ...c32,
      id: 'postgres.write.holdfast-32',
      label: 'postgres Holdfast write, 1 event, 32 concurrent writers',
      open: holdfast(opts, 'hf_32', (s) => singleEventWriter(s, 'c')),
    },
    {
      id: 'postgres.write.emmett-seq',
      label: 'postgres Emmett appendToStream, 1 event, sequential',
      warmupOps: 5,
      open: emmett(opts, 'emmett_seq', (s) => emmettAppender(s, 'seq')),
    },
    {
      ...c32,
      id: 'postgres.write.emmett-32',
      label: 'postgres Emmett appendToStream, 1 event, 32 concurrent',
      note: 'pool of 32 connections',
      open: emmett(opts, 'emmett_32', (s) => emmettAppender(s, 'c')),
    },
  ])

  report.ratio('postgres.write.hf32-vs-raw32', 'postgres Holdfast 32 / raw 32 connections', 'postgres.write.holdfast-32', 'postgres.write.raw-32', { op: '>=', value: 3 })
  report.ratio('postgres.write.hf32-vs-emmett32', 'postgres Holdfast 32 / Emmett 32', 'postgres.write.holdfast-32', 'postgres.write.emmett-32', { op: '>=', value: 4 })
  report.ratio('postgres.write.hfseq-vs-rawseq', 'postgres Holdfast sequential / raw sequential', 'postgres.write.holdfast-seq', 'postgres.write.raw-seq', { op: '>=', value: 0.7 })
  report.ratio('postgres.write.hfseq-vs-emmettseq', 'postgres Holdfast sequential / Emmett sequential', 'postgres.write.holdfast-seq', 'postgres.write.emmett-seq')
}

export async function postgresReads(report: Report, opts: BenchOptions): Promise<void> {
  const dataset = readDataset()
  const all = `read all ${DATASET_SIZE / 1000}k by position, pages of 1,000`
  const agg = 'read 1 aggregate (10k), pages of 1,000'
  const rawLoad = async (pool: pg.Pool): Promise<void> => {
    await pool.query(READ_INDEX)
    for (const batch of dataset) {
      // one multi-row INSERT per batch, in position order
      const values = batch.map((_, i) => `(${Array.from({ length: 9 }, (_, c) => `$${i * 9 + c + 1}`).join(', ')})`).join(', ')
      await pool.query(`${INSERT.slice(0, INSERT.indexOf('VALUES'))} VALUES ${values}`, batch.flatMap(rowParams))
    }
    await pool.query('ANALYZE events')
  }
  // Named statements: prepared once per connection, so PostgreSQL moves to a generic plan after five runs.
  const rawPager = (name: string, text: string, key: unknown[]) => (clients: pg.PoolClient[]): LoopSpec['op'] => {
    let after = '0'
    return async () => {
      const { rows } = await clients[0]!.query<{ position: string }>({ name, text, values: [...key, after] })
      after = rows.length > PAGE_SIZE ? rows[PAGE_SIZE - 1]!.position : '0'
      return Math.min(rows.length, PAGE_SIZE)
    }
  }
  const hfLoad = async (store: HfStore): Promise<void> => {
    for (const batch of dataset) await store.events.write(batch.map(toNewEvent))
  }
  const emmettLoad = async (store: EmmettPgEventStore): Promise<void> => {
    for (const batch of dataset) {
      for (const [aggregate, rows] of byAggregate(batch)) {
        await store.appendToStream(`order-${aggregate}`, rows.map(() => emmettEvent(JSON_PAYLOAD)))
      }
    }
  }
  const emmettRead = (store: EmmettPgEventStore): LoopSpec['op'] => {
    const pages = versionPages(PAGE_SIZE)
    return async () => (await store.readStream(`order-${BIG_AGGREGATE}`, pages.next().value)).events.length
  }
  const selectAll = `SELECT ${COLUMNS} FROM events WHERE position > $1 ORDER BY position LIMIT ${PAGE_SIZE + 1}`
  const selectAgg = `SELECT ${COLUMNS} FROM events WHERE aggregator_type = $1 AND aggregator_id = $2 AND position > $3 ORDER BY position LIMIT ${PAGE_SIZE + 1}`
  const bigAggregate = [{ aggregatorType: 'bench/Order', aggregatorId: BIG_AGGREGATE }]
  const r = { unit: 'rows/s' as const, warmupOps: 5 }
  await compare(
    report,
    opts,
    [
      { ...r, id: 'postgres.read.raw-all', label: `postgres raw: ${all}`, open: raw(opts, 'raw_all', 1, rawPager('page_all', selectAll, []), rawLoad) },
      { ...r, id: 'postgres.read.holdfast-all', label: `postgres Holdfast: ${all}`, open: holdfast(opts, 'hf_all', (s) => pageReader(s, null), hfLoad) },
      {
        ...r,
        id: 'postgres.read.raw-agg',
        label: `postgres raw: ${agg}`,
        open: raw(opts, 'raw_agg', 1, rawPager('page_agg', selectAgg, ['bench/Order', BIG_AGGREGATE]), rawLoad),
      },
      {
        ...r,
        id: 'postgres.read.holdfast-agg',
        label: `postgres Holdfast: ${agg}`,
        open: holdfast(opts, 'hf_agg', (s) => pageReader(s, bigAggregate), hfLoad),
      },
      { ...r, id: 'postgres.read.emmett-agg', label: `postgres Emmett readStream: ${agg}`, open: emmett(opts, 'emmett_read', emmettRead, emmettLoad) },
    ],
    { minOps: opts.readMinPages },
  )

  report.ratio('postgres.read.all-vs-raw', 'postgres Holdfast / raw, read by position', 'postgres.read.holdfast-all', 'postgres.read.raw-all', { op: '>=', value: 0.7 })
  report.ratio('postgres.read.agg-vs-raw', 'postgres Holdfast / raw, read by aggregate', 'postgres.read.holdfast-agg', 'postgres.read.raw-agg', { op: '>=', value: 0.7 })
  report.ratio('postgres.read.agg-vs-emmett', 'postgres Holdfast / Emmett readStream, by aggregate', 'postgres.read.holdfast-agg', 'postgres.read.emmett-agg')
}

export async function postgresScale(report: Report, opts: BenchOptions): Promise<void> {
  const openStore = await loadHoldfast()
  const url = await freshDatabase(opts, 'scale')
  await runScale(report, opts, 'postgres', () => openStore(url), url, () => settleAfterLoad(opts, url))
}

/**
 * After a load: the autovacuum a real server runs on the new rows (visibility map, statistics) is done now, before
 * the timed work, not during it; then the dirty buffers are flushed.
 */
export async function settleAfterLoad(opts: BenchOptions, url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url })
  await c.connect()
  try {
    await c.query('VACUUM (ANALYZE)')
  } finally {
    await c.end()
  }
  await postgresCheckpoint(opts)
}

/** Flushes the server's dirty buffers now rather than in the middle of the next measurement. */
export async function postgresCheckpoint(opts: BenchOptions): Promise<void> {
  const admin = new pg.Client({ connectionString: dbUrl(opts, 'postgres') })
  await admin.connect()
  try {
    await admin.query('CHECKPOINT')
  } finally {
    await admin.end()
  }
}

/** Leaves no bench database behind. */
export async function dropBenchDatabases(opts: BenchOptions): Promise<void> {
  const admin = new pg.Client({ connectionString: dbUrl(opts, 'postgres') })
  await admin.connect()
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [DB_PREFIX])
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
  } finally {
    await admin.end()
  }
}
