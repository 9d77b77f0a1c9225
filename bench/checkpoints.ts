// Checkpoints: Holdfast's checkpoint store against LangGraph's savers (SqliteSaver, PostgresSaver) doing the same
// work: `saveWithTrace` ≈ `put`, `loadLatest` ≈ `getTuple` without a checkpoint id, `list` + `load` ≈ `list`.
// Both sides get the same ~200-byte state, 20 traces (thread ids) written round-robin, one await at a time (and, for
// the put targets, a writer per trace all at once), and parent links; LangGraph's checkpoints are built the way its
// loop builds them (one channel holding the state).
//
// Durability: SqliteSaver runs at better-sqlite3's WAL default, synchronous=NORMAL (no fsync per commit), Holdfast at
// FULL. The put target compares like with like (SqliteSaver set to FULL); NORMAL against NORMAL and Holdfast's
// default against SqliteSaver's are reported too. PostgreSQL: both at the server's synchronous_commit=on.
import { loadHoldfast, type HfStore } from './holdfast.js'
import { compare, removeDb, tempDbPath, ulid, type BenchOptions, type Contender, type LoopSpec } from './lib.js'
import {
  loadLangGraphPostgres,
  loadLangGraphSqlite,
  type LgCheckpointLib,
  type LgConfig,
  type LgPostgresSaver,
  type LgSaver,
  type LgSqliteSaver,
} from './peers.js'
import { freshDatabase } from './postgres.js'
import { out, type Report } from './report.js'

const TRACES = 20
/** Checkpoints per trace before the read workloads: a trace that ran a while, so latest is not the only row. */
const READ_DEPTH = 50

const traceId = (i: number): string => `trace-${i}`

/** A fresh ~200-byte state (JSON) per save, so neither side can rely on identity or caching. */
function state(step: number): Record<string, unknown> {
  return {
    step,
    messages: [
      { role: 'user', content: 'Plan three days in Lisbon for under 900 euros.' },
      { role: 'assistant', content: 'Day 1: Alfama and the castle. Day 2: Belem. Day 3: Sintra by train.' },
    ],
    done: false,
  }
}
const metadata = (step: number): Record<string, unknown> => ({ source: 'loop', step, parents: {} })

/** Where each trace is: its next step and its newest checkpoint (the next one's parent). */
interface Trace {
  id: string
  step: number
  last: string | null
}
type Save = (t: Trace) => Promise<void>

/**
 * The timed op for a writer: sequential runs go round-robin over the traces; concurrent runs give each worker its
 * own trace (so one trace never has two writers, as in LangGraph where a thread runs one step at a time).
 */
function writer(save: Save, concurrent: boolean): LoopSpec['op'] {
  const traces: Trace[] = Array.from({ length: TRACES }, (_, i) => ({ id: traceId(i), step: 0, last: null }))
  let next = 0
  return async (worker) => {
    const t = traces[concurrent ? worker % TRACES : next++ % TRACES]!
    await save(t)
  }
}

/** Writes `READ_DEPTH` checkpoints to each trace, round-robin, and returns each trace's newest id. */
async function loadTraces(save: Save): Promise<string[]> {
  const traces: Trace[] = Array.from({ length: TRACES }, (_, i) => ({ id: traceId(i), step: 0, last: null }))
  for (let n = 0; n < READ_DEPTH; n++) for (const t of traces) await save(t)
  return traces.map((t) => t.last!)
}

/** A round-robin trace picker for the read workloads. */
function roundRobin(): () => number {
  let next = 0
  return () => next++ % TRACES
}

// ---------------------------------------------------------------------------------------------------------------
// Holdfast

const hfSave =
  (store: HfStore): Save =>
  async (t) => {
    const id = ulid()
    await store.checkpoints.saveWithTrace(t.id, { id, state: state(t.step), metadata: metadata(t.step), parentId: t.last })
    t.last = id
    t.step++
  }

const hfLatest = (store: HfStore, expected: string[]): LoopSpec['op'] => {
  const pick = roundRobin()
  return async () => {
    const i = pick()
    const c = await store.checkpoints.loadLatest(traceId(i))
    if (c?.id !== expected[i]) throw new Error(`loadLatest(${traceId(i)}) returned ${c?.id}, not ${expected[i]}`)
  }
}

/** `list` gives ids only: the whole trace takes `list` and a `load` per id, one at a time. */
const hfListLoad = (store: HfStore): LoopSpec['op'] => {
  const pick = roundRobin()
  return async () => {
    const ids = await store.checkpoints.list(traceId(pick()))
    for (const id of ids) if (!(await store.checkpoints.load(id))) throw new Error(`load(${id}) returned null`)
    return ids.length
  }
}

/** The same, with the loads in flight together (PostgreSQL spreads them over the pool; SQLite has one connection). */
const hfListLoadParallel = (store: HfStore): LoopSpec['op'] => {
  const pick = roundRobin()
  return async () => {
    const ids = await store.checkpoints.list(traceId(pick()))
    const loaded = await Promise.all(ids.map((id) => store.checkpoints.load(id)))
    if (loaded.some((c) => !c)) throw new Error('load returned null')
    return ids.length
  }
}

type HfOpen = () => Promise<{ store: HfStore; close: () => Promise<void> }>

function holdfast(openStore: HfOpen, op: (store: HfStore, latest: string[]) => LoopSpec['op'], preload: boolean): Contender['open'] {
  return async () => {
    const { store, close } = await openStore()
    const latest = preload ? await loadTraces(hfSave(store)) : []
    return { op: op(store, latest), close }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// LangGraph

let checkpointFormat: number | undefined
/** The checkpoint format version the installed LangGraph writes (`emptyCheckpoint().v`). */
const formatVersion = (lib: LgCheckpointLib): number => (checkpointFormat ??= lib.emptyCheckpoint().v)

/** One LangGraph step's `put`: a new checkpoint whose only channel (the state) got a new version. */
const lgSave =
  (saver: LgSaver, lib: LgCheckpointLib): Save =>
  async (t) => {
    const version = t.step + 1
    // As LangGraph's createCheckpoint: a time-ordered uuid6 with the step as clock sequence, an ISO timestamp.
    const checkpoint = {
      v: formatVersion(lib),
      id: lib.uuid6(t.step),
      ts: new Date().toISOString(),
      channel_values: { state: state(t.step) },
      channel_versions: { state: version },
      versions_seen: { agent: { state: t.step } },
    }
    const config: LgConfig = { configurable: { thread_id: t.id, checkpoint_ns: '', ...(t.last ? { checkpoint_id: t.last } : {}) } }
    const next = await saver.put(config, checkpoint, metadata(t.step), { state: version })
    t.last = next.configurable.checkpoint_id ?? null
    t.step++
  }

const lgLatest = (saver: LgSaver, expected: string[]): LoopSpec['op'] => {
  const pick = roundRobin()
  return async () => {
    const i = pick()
    const tuple = await saver.getTuple({ configurable: { thread_id: traceId(i) } })
    if (tuple?.checkpoint.id !== expected[i]) throw new Error(`getTuple(${traceId(i)}) returned ${tuple?.checkpoint.id}, not ${expected[i]}`)
  }
}

const lgList = (saver: LgSaver): LoopSpec['op'] => {
  const pick = roundRobin()
  return async () => {
    let n = 0
    for await (const tuple of saver.list({ configurable: { thread_id: traceId(pick()), checkpoint_ns: '' } })) {
      if (!tuple.checkpoint.channel_values.state) throw new Error('list returned a checkpoint without its state')
      n++
    }
    return n
  }
}

type LgOp = (saver: LgSaver, lib: LgCheckpointLib, latest: string[]) => LoopSpec['op']
const lgPut = (concurrent: boolean): LgOp => (saver, lib) => writer(lgSave(saver, lib), concurrent)
const lgRead = (read: (saver: LgSaver, latest: string[]) => LoopSpec['op']): LgOp => (saver, _lib, latest) => read(saver, latest)

/** SqliteSaver on a fresh file, at its defaults or with synchronous=FULL set on its connection. */
function sqliteSaver(name: string, synchronous: 'default' | 'full', op: LgOp, preload = false): Contender['open'] {
  return async () => {
    const mod = await loadLangGraphSqlite()
    if (!mod) return null
    const path = tempDbPath(name)
    const saver = mod.SqliteSaver.fromConnString(path)
    saver.setup()
    if (synchronous === 'full') saver.db.pragma('synchronous = FULL')
    const latest = preload ? await loadTraces(lgSave(saver, mod.lib)) : []
    return { op: op(saver, mod.lib, latest), close: () => Promise.resolve((saver.db.close(), removeDb(path))) }
  }
}

/** What SqliteSaver runs with when nobody configures it: read from its connection after a first `put`. */
async function sqliteSaverDefaults(): Promise<string | null> {
  const mod = await loadLangGraphSqlite()
  if (!mod) return null
  const path = tempDbPath('lg-defaults')
  const saver: LgSqliteSaver = mod.SqliteSaver.fromConnString(path)
  try {
    await lgSave(saver, mod.lib)({ id: 'probe', step: 0, last: null })
    const journal = String(saver.db.pragma('journal_mode', { simple: true }))
    const sync = Number(saver.db.pragma('synchronous', { simple: true }))
    return `journal_mode=${journal.toUpperCase()}, synchronous=${['OFF', 'NORMAL', 'FULL', 'EXTRA'][sync] ?? sync}`
  } finally {
    saver.db.close()
    removeDb(path)
  }
}

/** PostgresSaver on a fresh database, with its own pool (pg's default of 10, as Holdfast's default poolSize). */
function postgresSaver(opts: BenchOptions, name: string, op: LgOp, preload = false): Contender['open'] {
  return async () => {
    const mod = await loadLangGraphPostgres()
    if (!mod) return null
    const saver: LgPostgresSaver = mod.PostgresSaver.fromConnString(await freshDatabase(opts, name))
    saver.pool.on('error', () => {}) // an idle connection killed by a later DROP DATABASE … WITH (FORCE)
    await saver.setup()
    const latest = preload ? await loadTraces(lgSave(saver, mod.lib)) : []
    return { op: op(saver, mod.lib, latest), close: () => saver.end() }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Groups

const hfPut = (concurrent: boolean) => (store: HfStore) => writer(hfSave(store), concurrent)
const c20 = { concurrency: TRACES, warmupOps: 1 }
const seq = { warmupOps: 20 }
const reads = { unit: 'reads/s' as const, warmupOps: 20 }
const lists = { unit: 'rows/s' as const, warmupOps: 2, note: 'rows = checkpoints read, whole traces' }
const LIST = `traces of ${READ_DEPTH}`

export async function sqliteCheckpoints(report: Report, opts: BenchOptions): Promise<void> {
  const openStore = await loadHoldfast()
  const hfSqlite =
    (name: string, synchronous: 'full' | 'normal' = 'full'): HfOpen =>
    async () => {
      const path = tempDbPath(name)
      const store = await openStore({ url: path, synchronous })
      return { store, close: async () => (await store.close(), removeDb(path)) }
    }
  const defaults = await sqliteSaverDefaults()
  if (defaults) {
    out(`  SqliteSaver defaults: ${defaults} (better-sqlite3 is built with SQLITE_DEFAULT_WAL_SYNCHRONOUS=1)`)
    out('  Holdfast: journal_mode=WAL, synchronous=FULL unless noted')
    report.fact('sqlite.checkpoints SqliteSaver defaults', defaults)
  }
  const lgNote = `SqliteSaver defaults: ${defaults ?? 'unknown'}`

  await compare(report, opts, [
    { ...seq, id: 'sqlite.checkpoints.put.holdfast', label: 'sqlite Holdfast saveWithTrace, sequential (FULL)', open: holdfast(hfSqlite('cp-put'), hfPut(false), false) },
    {
      ...seq,
      id: 'sqlite.checkpoints.put.langgraph-full',
      label: 'sqlite SqliteSaver put, sequential (FULL)',
      note: 'synchronous=FULL set on the saver connection, as Holdfast',
      open: sqliteSaver('lg-put-full', 'full', lgPut(false)),
    },
    {
      ...seq,
      id: 'sqlite.checkpoints.put.holdfast-normal',
      label: 'sqlite Holdfast saveWithTrace, sequential (NORMAL)',
      open: holdfast(hfSqlite('cp-put-normal', 'normal'), hfPut(false), false),
    },
    {
      ...seq,
      id: 'sqlite.checkpoints.put.langgraph',
      label: 'sqlite SqliteSaver put, sequential (its default, NORMAL)',
      note: lgNote,
      open: sqliteSaver('lg-put', 'default', lgPut(false)),
    },
  ])
  await compare(
    report,
    opts,
    [
      { ...reads, id: 'sqlite.checkpoints.latest.holdfast', label: 'sqlite Holdfast loadLatest, sequential', open: holdfast(hfSqlite('cp-latest'), hfLatest, true) },
      {
        ...reads,
        id: 'sqlite.checkpoints.latest.langgraph',
        label: 'sqlite SqliteSaver getTuple (latest), sequential',
        note: lgNote,
        open: sqliteSaver('lg-latest', 'default', lgRead(lgLatest), true),
      },
      { ...lists, id: 'sqlite.checkpoints.list.holdfast', label: `sqlite Holdfast list + load each, ${LIST}`, open: holdfast(hfSqlite('cp-list'), hfListLoad, true) },
      { ...lists, id: 'sqlite.checkpoints.list.langgraph', label: `sqlite SqliteSaver list, ${LIST}`, open: sqliteSaver('lg-list', 'default', lgRead(lgList), true) },
    ],
    { minOps: opts.readMinPages },
  )
  // The put target: 20 traces each with its own writer, all at once, as 20 graph runs in one service write. Holdfast
  // shares one commit among concurrent saves; SqliteSaver commits each on its own. Sequential puts above are bounded
  // by one fsync each on both sides, and reported without a target.
  await compare(report, opts, [
    { ...c20, id: 'sqlite.checkpoints.put20.holdfast', label: 'sqlite Holdfast saveWithTrace, 20 traces in parallel (FULL)', open: holdfast(hfSqlite('cp-put20'), hfPut(true), false) },
    {
      ...c20,
      id: 'sqlite.checkpoints.put20.langgraph-full',
      label: 'sqlite SqliteSaver put, 20 traces in parallel (FULL)',
      open: sqliteSaver('lg-put20', 'full', lgPut(true)),
    },
    {
      ...c20,
      id: 'sqlite.checkpoints.put20.langgraph',
      label: 'sqlite SqliteSaver put, 20 traces in parallel (its default)',
      open: sqliteSaver('lg-put20d', 'default', lgPut(true)),
    },
  ])

  const ratio = (id: string, label: string, hf: string, lg: string, target?: number): void =>
    report.ratio(`sqlite.checkpoints.${id}`, `sqlite checkpoint ${label}`, `sqlite.checkpoints.${hf}`, `sqlite.checkpoints.${lg}`, target === undefined ? undefined : { op: '>=', value: target })
  ratio('put-vs-langgraph', 'put, both FULL: Holdfast / SqliteSaver', 'put.holdfast', 'put.langgraph-full')
  ratio('put-normal-vs-langgraph', 'put, both NORMAL: Holdfast / SqliteSaver', 'put.holdfast-normal', 'put.langgraph')
  ratio('put-full-vs-langgraph-default', 'put: Holdfast FULL / SqliteSaver default', 'put.holdfast', 'put.langgraph')
  ratio('latest-vs-langgraph', 'latest: Holdfast / SqliteSaver', 'latest.holdfast', 'latest.langgraph', 1.5)
  ratio('list-vs-langgraph', 'list: Holdfast list+load / SqliteSaver', 'list.holdfast', 'list.langgraph')
  ratio('put20-vs-langgraph', 'put, 20 traces at once, both FULL: Holdfast / SqliteSaver', 'put20.holdfast', 'put20.langgraph-full', 2)
  // Report-only: SqliteSaver's default does not fsync its commits, so this compares unlike durability.
  ratio('put20-vs-langgraph-default', 'put, 20 traces at once: Holdfast FULL / SqliteSaver default', 'put20.holdfast', 'put20.langgraph')
}

export async function postgresCheckpoints(report: Report, opts: BenchOptions): Promise<void> {
  const openStore = await loadHoldfast()
  const hfPg =
    (name: string): HfOpen =>
    async () => {
      const store = await openStore(await freshDatabase(opts, name))
      return { store, close: () => store.close() }
    }
  out('  both: server defaults (synchronous_commit=on), pools of 10 connections')

  await compare(report, opts, [
    { ...seq, id: 'postgres.checkpoints.put.holdfast', label: 'postgres Holdfast saveWithTrace, sequential', open: holdfast(hfPg('cp_put'), hfPut(false), false) },
    { ...seq, id: 'postgres.checkpoints.put.langgraph', label: 'postgres PostgresSaver put, sequential', open: postgresSaver(opts, 'lg_put', lgPut(false)) },
  ])
  await compare(
    report,
    opts,
    [
      { ...reads, id: 'postgres.checkpoints.latest.holdfast', label: 'postgres Holdfast loadLatest, sequential', open: holdfast(hfPg('cp_latest'), hfLatest, true) },
      {
        ...reads,
        id: 'postgres.checkpoints.latest.langgraph',
        label: 'postgres PostgresSaver getTuple (latest), sequential',
        open: postgresSaver(opts, 'lg_latest', lgRead(lgLatest), true),
      },
      { ...lists, id: 'postgres.checkpoints.list.holdfast', label: `postgres Holdfast list + load each, ${LIST}`, open: holdfast(hfPg('cp_list'), hfListLoad, true) },
      {
        ...lists,
        id: 'postgres.checkpoints.list.holdfast-parallel',
        label: `postgres Holdfast list + load all at once, ${LIST}`,
        open: holdfast(hfPg('cp_list_par'), hfListLoadParallel, true),
      },
      { ...lists, id: 'postgres.checkpoints.list.langgraph', label: `postgres PostgresSaver list, ${LIST}`, open: postgresSaver(opts, 'lg_list', lgRead(lgList), true) },
    ],
    { minOps: opts.readMinPages },
  )
  await compare(report, opts, [
    { ...c20, id: 'postgres.checkpoints.put20.holdfast', label: 'postgres Holdfast saveWithTrace, 20 traces in parallel', open: holdfast(hfPg('cp_put20'), hfPut(true), false) },
    { ...c20, id: 'postgres.checkpoints.put20.langgraph', label: 'postgres PostgresSaver put, 20 traces in parallel', open: postgresSaver(opts, 'lg_put20', lgPut(true)) },
  ])

  const ratio = (id: string, label: string, hf: string, lg: string, target?: number): void =>
    report.ratio(`postgres.checkpoints.${id}`, `postgres checkpoint ${label}`, `postgres.checkpoints.${hf}`, `postgres.checkpoints.${lg}`, target === undefined ? undefined : { op: '>=', value: target })
  ratio('put-vs-langgraph', 'put, sequential: Holdfast / PostgresSaver', 'put.holdfast', 'put.langgraph')
  ratio('latest-vs-langgraph', 'latest: Holdfast / PostgresSaver', 'latest.holdfast', 'latest.langgraph', 3)
  ratio('list-vs-langgraph', 'list: Holdfast list+load / PostgresSaver', 'list.holdfast', 'list.langgraph')
  ratio('list-parallel-vs-langgraph', 'list: Holdfast, loads at once / PostgresSaver', 'list.holdfast-parallel', 'list.langgraph')
  ratio('put20-vs-langgraph', 'put, 20 traces at once: Holdfast / PostgresSaver', 'put20.holdfast', 'put20.langgraph', 3)
}
