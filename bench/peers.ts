// Peers live in their own folders (bench/peers/<name>, installed by bench/setup.sh) because they pin different
// @event-driven-io/emmett versions and native drivers of their own. They are loaded from there with createRequire,
// and declared structurally here.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { BENCH_DIR } from './lib.js'
import { out } from './report.js'

/** The Emmett event shape: JSON data. */
export interface EmmettEvent {
  type: string
  data: Record<string, unknown>
}
interface EmmettReadResult {
  currentStreamVersion: bigint
  events: unknown[]
  streamExists: boolean
}
interface EmmettAppendOptions {
  expectedStreamVersion?: bigint
}
interface EmmettReadOptions {
  from?: bigint
  to?: bigint
}
/** What appendToStream resolves to (both stores). */
export interface EmmettAppendResult {
  nextExpectedStreamVersion: bigint
  lastEventGlobalPosition: bigint
}
export interface EmmettEventStore {
  appendToStream(streamName: string, events: EmmettEvent[], options?: EmmettAppendOptions): Promise<EmmettAppendResult>
  readStream(streamName: string, options?: EmmettReadOptions): Promise<EmmettReadResult>
}

/** A message as Emmett's consumers hand it to a processor. */
export interface EmmettRecordedMessage {
  type: string
  data: unknown
  metadata: { globalPosition: bigint; streamName: string }
}
/** Emmett's consumer: one puller (polls every `pullingFrequencyInMs`, 50 by default) feeding its processors. */
export interface EmmettConsumer {
  start(): Promise<void>
  stop(): Promise<void>
  close(): Promise<void>
}
export interface EmmettConsumerConfig {
  pulling?: { batchSize?: number; pullingFrequencyInMs?: number }
}
/** Emmett-SQLite 0.38's consumer: generic processors, each checkpointing per message (no canHandle filter). */
export interface EmmettSqliteConsumer extends EmmettConsumer {
  processor(options: { processorId: string; eachMessage: (message: EmmettRecordedMessage) => Promise<void> | void }): unknown
}
/** Emmett-PostgreSQL 0.42's consumer: reactors with an event-type filter (`canHandle`), checkpointed per message. */
export interface EmmettPgConsumer extends EmmettConsumer {
  reactor(options: { processorId: string; canHandle?: string[]; eachMessage: (message: EmmettRecordedMessage) => Promise<void> | void }): unknown
}
export interface EmmettSqliteEventStore extends EmmettEventStore {
  consumer(options?: EmmettConsumerConfig): EmmettSqliteConsumer
}
export interface EmmettPgEventStore extends EmmettEventStore {
  close(): Promise<void>
  consumer(options?: EmmettConsumerConfig): EmmettPgConsumer
}

export interface EmmettSqliteModule {
  getSQLiteEventStore(options: { fileName: string }): EmmettSqliteEventStore
}
/** The `pg` the Emmett-PG peer resolves (its own copy, so dumbo's global type parsers stay out of Holdfast's pg). */
export interface PeerPgPool {
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
}
export interface EmmettPgModule {
  getPostgreSQLEventStore(connectionString: string, options?: { connectionOptions?: { pool: PeerPgPool } }): EmmettPgEventStore
  createPool(connectionString: string, max: number): PeerPgPool
}

export type PeerName = 'emmett-sqlite' | 'emmett-postgresql' | 'langgraph-sqlite' | 'langgraph-postgres'

const warned = new Set<PeerName>()
function peerRequire(name: PeerName): NodeJS.Require | null {
  const folder = join(BENCH_DIR, 'peers', name)
  if (!existsSync(join(folder, 'node_modules'))) {
    if (!warned.has(name)) out(`  ! peer ${name} is not installed (run \`npm run bench:setup\`); skipping it`)
    warned.add(name)
    return null
  }
  return createRequire(join(folder, 'package.json'))
}

/** Imports `pkg` as resolved from the peer's folder (ESM entry, via a file URL). */
async function importFrom<T>(req: NodeJS.Require, pkg: string): Promise<T> {
  // resolve() follows the package's "require" condition; Emmett and LangGraph ship both, so map the .cjs entry to its
  // .js twin.
  const resolved = req.resolve(pkg).replace(/\.cjs$/, '.js')
  return (await import(pathToFileURL(resolved).href)) as T
}

export async function loadEmmettSqlite(): Promise<EmmettSqliteModule | null> {
  const req = peerRequire('emmett-sqlite')
  if (!req) return null
  return importFrom<EmmettSqliteModule>(req, '@event-driven-io/emmett-sqlite')
}

export async function loadEmmettPg(): Promise<EmmettPgModule | null> {
  const req = peerRequire('emmett-postgresql')
  if (!req) return null
  const mod = await importFrom<Omit<EmmettPgModule, 'createPool'>>(req, '@event-driven-io/emmett-postgresql')
  const pg = req('pg') as { Pool: new (config: { connectionString: string; max: number }) => PeerPgPool }
  return {
    getPostgreSQLEventStore: mod.getPostgreSQLEventStore,
    createPool: (connectionString, max) => {
      const pool = new pg.Pool({ connectionString, max })
      pool.on('error', () => {}) // an idle connection killed by the next DROP DATABASE … WITH (FORCE)
      return pool
    },
  }
}

export const emmettEvent = (data: Record<string, unknown>): EmmettEvent => ({ type: 'OrderPlaced', data })

// ---------------------------------------------------------------------------------------------------------------
// LangGraph checkpoint savers (the subset of @langchain/langgraph-checkpoint's BaseCheckpointSaver the bench calls)

export type LgVersion = number | string
export interface LgCheckpoint {
  v: number
  id: string
  ts: string
  channel_values: Record<string, unknown>
  channel_versions: Record<string, LgVersion>
  versions_seen: Record<string, Record<string, LgVersion>>
}
export interface LgConfig {
  configurable: { thread_id: string; checkpoint_ns?: string; checkpoint_id?: string }
}
/** A task's write: (channel, value). */
export type LgPendingWrite = [string, unknown]
export interface LgTuple {
  config: LgConfig
  checkpoint: LgCheckpoint
  metadata?: Record<string, unknown>
  parentConfig?: LgConfig
  /** (task id, channel, value) */
  pendingWrites?: [string, string, unknown][]
}
export interface LgSaver {
  put(config: LgConfig, checkpoint: LgCheckpoint, metadata: Record<string, unknown>, newVersions: Record<string, LgVersion>): Promise<LgConfig>
  putWrites(config: LgConfig, writes: LgPendingWrite[], taskId: string, taskPath?: string): Promise<void>
  getTuple(config: LgConfig): Promise<LgTuple | undefined>
  list(config: LgConfig, options?: { limit?: number }): AsyncGenerator<LgTuple>
  /** The version after `current` for a channel (what LangGraph's loop asks the checkpointer for). */
  getNextVersion(current: LgVersion | undefined): LgVersion
}
/** The parts of @langchain/langgraph-checkpoint that build checkpoints the way LangGraph's loop does. */
export interface LgCheckpointLib {
  emptyCheckpoint(): LgCheckpoint
  uuid6(clockseq: number): string
}
export interface LgSqliteSaver extends LgSaver {
  /** Synchronous: WAL and the tables, once. */
  setup(): void
  /** The saver's own better-sqlite3 handle. */
  db: { pragma(source: string, options?: { simple: boolean }): unknown; close(): void }
}
export interface LgPostgresSaver extends LgSaver {
  setup(): Promise<void>
  end(): Promise<void>
  pool: PeerPgPool
}
export interface LangGraphSqliteModule {
  lib: LgCheckpointLib
  SqliteSaver: { fromConnString(path: string): LgSqliteSaver }
}
export interface LangGraphPostgresModule {
  lib: LgCheckpointLib
  PostgresSaver: { fromConnString(url: string, options?: { schema?: string }): LgPostgresSaver }
}

export async function loadLangGraphSqlite(): Promise<LangGraphSqliteModule | null> {
  const req = peerRequire('langgraph-sqlite')
  if (!req) return null
  const [lib, mod] = await Promise.all([
    importFrom<LgCheckpointLib>(req, '@langchain/langgraph-checkpoint'),
    importFrom<Pick<LangGraphSqliteModule, 'SqliteSaver'>>(req, '@langchain/langgraph-checkpoint-sqlite'),
  ])
  return { lib, SqliteSaver: mod.SqliteSaver }
}

export async function loadLangGraphPostgres(): Promise<LangGraphPostgresModule | null> {
  const req = peerRequire('langgraph-postgres')
  if (!req) return null
  const [lib, mod] = await Promise.all([
    importFrom<LgCheckpointLib>(req, '@langchain/langgraph-checkpoint'),
    importFrom<Pick<LangGraphPostgresModule, 'PostgresSaver'>>(req, '@langchain/langgraph-checkpoint-postgres'),
  ])
  return { lib, PostgresSaver: mod.PostgresSaver }
}
