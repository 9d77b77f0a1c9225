// LangGraph: Holdfast's checkpointer (HoldfastSaver, holdfast/langgraph) against LangGraph's stock SqliteSaver and
// PostgresSaver, each side making the same BaseCheckpointSaver calls: `put`, `putWrites`, `getTuple` (latest and by
// checkpoint id) and `list` with a limit.
//
// Checkpoints are built as LangGraph's loop builds them (createCheckpoint, _putCheckpoint): format
// `emptyCheckpoint().v`, a uuid6 id with the step as clock sequence, an ISO timestamp, three channels (`messages`, a
// fresh user/assistant pair each step; `step`; `context`, ~150 bytes written at the first step and never again),
// versions from the saver's own `getNextVersion`, `newVersions` holding only the channels that changed, metadata
// `{ source, step, parents }`, and the parent's config (as returned by the previous `put`). Pending writes are 2 per
// task (`messages`, `step`), with a LangGraph-style task id (uuid5 of the task, in the checkpoint's namespace) and path,
// attached to the thread's newest checkpoint. Puts go round-robin over 20 threads one await at a time, and with a
// writer per thread all at once; reads run on 20 threads 50 checkpoints deep where every checkpoint but the newest
// carries its task's writes (as after a finished run), and `list` reads the newest 10 of one thread.
//
// The graph rows run LangGraph's own loop (`@langchain/langgraph`, the project's version, on either saver): a
// StateGraph whose one node updates `messages` and `step` (as above, `context` set by the input), looping for 10
// supersteps per `invoke`, each invoke on a new thread, one at a time. Per invoke that is a `getTuple`, 11 `put`s and 10
// `putWrites`, made as LangGraph makes them: with durability `async` (its default) the loop goes on while they are
// saved and `invoke` resolves once all are; with `sync` each superstep waits for its saves.
//
// Durability: Holdfast at its default, synchronous=FULL. SqliteSaver's connection is set to FULL for every target
// row (better-sqlite3's WAL default is NORMAL: no fsync per commit); its default is reported beside the write rows,
// without a target. PostgreSQL: both at the server's synchronous_commit=on, pools of 10.
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint'
import { removeDb, tempDbPath, compare, type BenchOptions, type Contender, type LoopSpec } from './lib.js'
import {
  loadLangGraphPostgres,
  loadLangGraphSqlite,
  type LgCheckpoint,
  type LgConfig,
  type LgPendingWrite,
  type LgSaver,
  type LgVersion,
} from './peers.js'
import { freshDatabase } from './postgres.js'
import { out, type Report } from './report.js'

const THREADS = 20
/** Supersteps per `invoke` of the graph rows. */
const STEPS = 10
/** Checkpoints per thread before the reads: a thread that ran a while, so the newest is not the only one. */
const DEPTH = 50
const LIST_LIMIT = 10
const CONTEXT = { user: 'u-1042', locale: 'en-GB', tools: ['search', 'calendar', 'maps'], budget: { amount: 900, currency: 'EUR' } }
const TASK_PATH = '~__pregel_pull, agent' // taskPathStr([PULL, 'agent'])

/** What the bench builds checkpoints with: `@langchain/langgraph-checkpoint`, the same version on every side. */
interface Lib {
  emptyCheckpoint(): LgCheckpoint
  uuid6(clockseq: number): string
  uuid5(name: string, namespace: string): string
}

/** A thread as LangGraph's loop sees it: its next step, newest checkpoint, and the config `put` returned for it. */
interface Thread {
  id: string
  step: number
  config: LgConfig
  checkpoint: LgCheckpoint
  /** Its checkpoint ids, oldest first. */
  ids: string[]
  tasks: number
}

const newThreads = (lib: Lib): Thread[] =>
  Array.from({ length: THREADS }, (_, i) => {
    const id = `thread-${i}`
    return { id, step: 0, config: { configurable: { thread_id: id, checkpoint_ns: '' } }, checkpoint: lib.emptyCheckpoint(), ids: [], tasks: 0 }
  })

const messages = (step: number): unknown[] => [
  { type: 'human', content: `Step ${step}: plan three days in Lisbon for under 900 euros.` },
  { type: 'ai', content: 'Day 1: Alfama and the castle. Day 2: Belem. Day 3: Sintra by train.', tool_calls: [] },
]

/** One superstep's checkpoint, `put` with the changed channels' new versions, chained to the thread's newest. */
async function put(saver: LgSaver, lib: Lib, t: Thread): Promise<void> {
  const prev = t.checkpoint
  const values: Record<string, unknown> = { messages: messages(t.step), step: t.step, context: CONTEXT }
  const versions = { ...prev.channel_versions }
  const newVersions: Record<string, LgVersion> = {}
  for (const c of t.step === 0 ? ['context', 'messages', 'step'] : ['messages', 'step']) newVersions[c] = versions[c] = saver.getNextVersion(prev.channel_versions[c])
  const checkpoint: LgCheckpoint = {
    v: prev.v,
    id: lib.uuid6(t.step),
    ts: new Date().toISOString(),
    channel_values: values,
    channel_versions: versions,
    versions_seen: { agent: { ...prev.channel_versions } },
  }
  const metadata = { source: t.step === 0 ? 'input' : 'loop', step: t.step - 1, parents: {} }
  t.config = await saver.put(t.config, checkpoint, metadata, newVersions)
  t.checkpoint = checkpoint
  t.ids.push(checkpoint.id)
  t.step++
}

/** One task's 2 writes on the thread's newest checkpoint; each call is a new task. */
async function putWrites(saver: LgSaver, lib: Lib, t: Thread): Promise<void> {
  const taskId = lib.uuid5(JSON.stringify(['', t.step, 'agent', '__pregel_pull', 'agent', t.tasks++]), t.checkpoint.id)
  const writes: LgPendingWrite[] = [
    ['messages', [{ type: 'ai', content: `Booked: Sintra train, step ${t.step}.`, tool_calls: [] }]],
    ['step', t.step],
  ]
  await saver.putWrites(t.config, writes, taskId, TASK_PATH)
}

/** Sequential runs go round-robin over the threads; concurrent ones give each worker its own thread. */
function writer(saver: LgSaver, lib: Lib, concurrent: boolean, write: typeof put): LoopSpec['op'] {
  const threads = newThreads(lib)
  let next = 0
  return (worker) => write(saver, lib, threads[concurrent ? worker % THREADS : next++ % THREADS]!)
}

/** `putWrites` runs on threads that already have a checkpoint. */
function writesWriter(saver: LgSaver, lib: Lib): Promise<LoopSpec['op']> {
  const threads = newThreads(lib)
  let next = 0
  return Promise.all(threads.map((t) => put(saver, lib, t))).then(() => () => putWrites(saver, lib, threads[next++ % THREADS]!))
}

/** LangGraph's loop on `saver`: one `invoke` of {@link STEPS} supersteps on a new thread; moves STEPS rows. */
async function graphRunner(saver: LgSaver, durability: 'async' | 'sync'): Promise<LoopSpec['op']> {
  const { Annotation, END, START, StateGraph } = await import('@langchain/langgraph')
  const State = Annotation.Root({
    messages: Annotation<unknown[]>,
    step: Annotation<number>,
    context: Annotation<typeof CONTEXT>,
  })
  const graph = new StateGraph(State)
    .addNode('agent', (s) => ({ messages: messages(s.step), step: s.step + 1 }))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', (s) => (s.step < STEPS ? 'agent' : END))
    // Either saver, seen through the structural LgSaver; LangGraph calls only BaseCheckpointSaver's methods.
    .compile({ checkpointer: saver as unknown as BaseCheckpointSaver })
  let next = 0
  return async () => {
    const thread_id = `graph-${next++}`
    const state = await graph.invoke({ messages: [], step: 0, context: CONTEXT }, { configurable: { thread_id }, durability })
    check(state.step === STEPS, `invoke(${thread_id}) ended at step ${state.step}, not ${STEPS}`)
    return STEPS
  }
}

/** 50 supersteps per thread, the threads loaded side by side: each step's task writes, then the next checkpoint. */
async function loadThreads(saver: LgSaver, lib: Lib): Promise<Thread[]> {
  const threads = newThreads(lib)
  await Promise.all(
    threads.map(async (t) => {
      for (let n = 0; n < DEPTH; n++) {
        if (n > 0) await putWrites(saver, lib, t)
        await put(saver, lib, t)
      }
    }),
  )
  return threads
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what)
}
const complete = (c: LgCheckpoint): boolean => ['messages', 'step', 'context'].every((k) => c.channel_values[k] !== undefined)

const latest = (saver: LgSaver, threads: Thread[]): LoopSpec['op'] => {
  let next = 0
  return async () => {
    const t = threads[next++ % THREADS]!
    const tuple = await saver.getTuple({ configurable: { thread_id: t.id, checkpoint_ns: '' } })
    check(tuple?.checkpoint.id === t.checkpoint.id && complete(tuple.checkpoint), `getTuple(${t.id}) returned ${tuple?.checkpoint.id}, not ${t.checkpoint.id}`)
  }
}

/** Every checkpoint of every thread in turn, threads interleaved. */
const byId = (saver: LgSaver, threads: Thread[]): LoopSpec['op'] => {
  let next = 0
  return async () => {
    const n = next++ % (THREADS * DEPTH)
    const t = threads[n % THREADS]!
    const depth = Math.floor(n / THREADS)
    const id = t.ids[depth]!
    const tuple = await saver.getTuple({ configurable: { thread_id: t.id, checkpoint_ns: '', checkpoint_id: id } })
    const writes = depth === DEPTH - 1 ? 0 : 2
    check(tuple?.checkpoint.id === id && complete(tuple.checkpoint), `getTuple(${t.id}, ${id}) returned ${tuple?.checkpoint.id}`)
    check(tuple!.pendingWrites?.length === writes, `getTuple(${t.id}, ${id}) returned ${tuple!.pendingWrites?.length} writes, not ${writes}`)
  }
}

const list = (saver: LgSaver, threads: Thread[]): LoopSpec['op'] => {
  const t = threads[0]!
  return async () => {
    let n = 0
    for await (const tuple of saver.list({ configurable: { thread_id: t.id, checkpoint_ns: '' } }, { limit: LIST_LIMIT })) {
      check(tuple.checkpoint.id === t.ids[DEPTH - 1 - n] && complete(tuple.checkpoint), `list(${t.id}) returned ${tuple.checkpoint.id} at ${n}`)
      n++
    }
    check(n === LIST_LIMIT, `list(${t.id}) returned ${n} checkpoints, not ${LIST_LIMIT}`)
    return n
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Sides

type Opened = { saver: LgSaver; close: () => Promise<void> }
type OpenSaver = () => Promise<Opened | null>

const contender =
  (openSaver: OpenSaver, op: (saver: LgSaver) => LoopSpec['op'] | Promise<LoopSpec['op']>): Contender['open'] =>
  async () => {
    const o = await openSaver()
    if (!o) return null
    try {
      return { op: await op(o.saver), close: o.close }
    } catch (error) {
      await o.close()
      throw error
    }
  }

/** One loaded saver for a side's read rows: opened and loaded by the first, closed by the last (one `compare`). */
function sharedThreads(openSaver: OpenSaver, lib: Lib): (op: (saver: LgSaver, threads: Thread[]) => LoopSpec['op']) => Contender['open'] {
  let loading: Promise<(Opened & { threads: Thread[] }) | null> | undefined
  let users = 0
  const load = async (): Promise<(Opened & { threads: Thread[] }) | null> => {
    const o = await openSaver()
    if (!o) return null
    try {
      return { ...o, threads: await loadThreads(o.saver, lib) }
    } catch (error) {
      await o.close()
      throw error
    }
  }
  return (op) => async () => {
    const o = await (loading ??= load())
    if (!o) return null
    users++
    return { op: op(o.saver, o.threads), close: async () => void (--users === 0 && (await o.close())) }
  }
}

/** The Holdfast side: the real store and saver, loaded when the group runs so that a broken saver fails it alone. */
async function loadHoldfastSaver(): Promise<{ lib: Lib; open: (url: string) => Promise<Opened> }> {
  const [{ openStore, HoldfastSaver }, lib] = await Promise.all([import('./target.js'), import('@langchain/langgraph-checkpoint')])
  return {
    lib,
    open: async (url) => {
      const store = await openStore(url)
      // Seen through the same structural LgSaver as the peers (its own signatures use LangChain's looser RunnableConfig).
      return { saver: new HoldfastSaver(store) as unknown as LgSaver, close: () => store.close() }
    },
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Groups

const seq = { warmupOps: 20 }
const graphs = { unit: 'steps/s' as const, warmupOps: 3, note: `${STEPS} supersteps per invoke, a new thread each` }
const c20 = { concurrency: THREADS, warmupOps: 1 }
const reads = { unit: 'reads/s' as const, warmupOps: 20, note: `${THREADS} threads of ${DEPTH} checkpoints` }
const lists = { unit: 'rows/s' as const, warmupOps: 5, note: `rows = checkpoints returned, ${LIST_LIMIT} per call` }

/** The write workloads: how each is timed, its label, and its op on a fresh saver. */
const WRITES = [
  { key: 'put', spec: seq, label: 'put, sequential', op: (s: LgSaver, lib: Lib) => writer(s, lib, false, put) },
  { key: 'put20', spec: c20, label: `put, ${THREADS} threads at once`, op: (s: LgSaver, lib: Lib) => writer(s, lib, true, put) },
  { key: 'writes', spec: seq, label: 'putWrites, sequential', op: writesWriter },
  { key: 'graph-async', spec: graphs, label: 'StateGraph invoke, durability async', op: (s: LgSaver) => graphRunner(s, 'async') },
  { key: 'graph-sync', spec: graphs, label: 'StateGraph invoke, durability sync', op: (s: LgSaver) => graphRunner(s, 'sync') },
] as const
/** The read workloads, on one loaded saver per side. */
const READS = [
  { key: 'latest', spec: reads, label: 'getTuple, latest', op: latest },
  { key: 'by-id', spec: reads, label: 'getTuple, by checkpoint_id', op: byId },
  { key: 'list', spec: lists, label: `list, limit ${LIST_LIMIT}`, op: list },
] as const

/** A side of the comparison: its id suffix, its name in labels, how to open a fresh saver. */
interface Side {
  suffix: string
  name: string
  open: (name: string) => OpenSaver
  note?: string
  /** After the name in labels, e.g. a durability setting. */
  tag?: string
  /** Measured on the write workloads only. */
  writesOnly?: boolean
}

/** Writes, then reads: each workload on every side, in one `compare` (rounds alternate between the sides). */
async function runGroup(report: Report, opts: BenchOptions, engine: string, lib: Lib, sides: Side[]): Promise<void> {
  const id = (key: string, side: Side): string => `${engine}.langgraph.${key}.${side.suffix}`
  const label = (what: string, side: Side): string => `${engine} ${side.name} ${what}${side.tag ?? ''}`
  for (const w of WRITES) {
    const open = (side: Side): Contender['open'] => contender(side.open(`lg-${w.key}-${side.suffix}`), (s) => w.op(s, lib))
    await compare(
      report,
      opts,
      sides.map((side) => ({ ...w.spec, id: id(w.key, side), label: label(w.label, side), note: side.note, open: open(side) })),
    )
  }
  const readers = sides.filter((side) => !side.writesOnly)
  const loaded = readers.map((side) => sharedThreads(side.open(`lg-reads-${side.suffix}`), lib))
  await compare(
    report,
    opts,
    READS.flatMap((r) => readers.map((side, i) => ({ ...r.spec, id: id(r.key, side), label: label(r.label, side), open: loaded[i]!(r.op) }))),
    { minOps: opts.readMinPages },
  )
}

/** HoldfastSaver / peer for every workload, with a target of ≥ 1×, or none for `reportOnly`. */
function ratios(report: Report, engine: string, peer: Side, reportOnly = false): void {
  for (const { key, label } of reportOnly ? WRITES : [...WRITES, ...READS]) {
    const [num, den] = [`${engine}.langgraph.${key}.holdfast`, `${engine}.langgraph.${key}.${peer.suffix}`]
    const what = `${engine} ${label}: HoldfastSaver / ${peer.name}${peer.tag ?? ''}`
    report.ratio(`${engine}.langgraph.${key}-vs-${peer.suffix}`, what, num, den, reportOnly ? undefined : { op: '>=', value: 1 })
  }
}

export async function sqliteLangGraph(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await loadHoldfastSaver()
  const mod = await loadLangGraphSqlite()
  const file =
    (open: (path: string) => Promise<Opened | null>): Side['open'] =>
    (name) =>
    async () => {
      const path = tempDbPath(name)
      const o = await open(path)
      if (!o) return null
      return { saver: o.saver, close: async () => (await o.close(), removeDb(path)) }
    }
  const sqliteSaver = (synchronous: 'default' | 'full'): Side['open'] =>
    file(async (path) => {
      if (!mod) return null
      const saver = mod.SqliteSaver.fromConnString(path)
      saver.setup()
      if (synchronous === 'full') saver.db.pragma('synchronous = FULL')
      return { saver, close: async () => saver.db.close() }
    })
  const holdfast: Side = { suffix: 'holdfast', name: 'HoldfastSaver', open: file(hf.open) }
  const full: Side = { suffix: 'sqlitesaver-full', name: 'SqliteSaver', open: sqliteSaver('full'), tag: ' (FULL)', note: 'synchronous=FULL set on its connection, as Holdfast' }
  // SqliteSaver as it comes, on the writes only (reads do not depend on synchronous).
  const dflt: Side = {
    suffix: 'sqlitesaver',
    name: 'SqliteSaver',
    open: sqliteSaver('default'),
    tag: ' (its default)',
    note: 'its default: synchronous=NORMAL, no fsync per commit',
    writesOnly: true,
  }
  out('  HoldfastSaver: WAL, synchronous=FULL (its default); SqliteSaver: WAL, synchronous=FULL set on its connection')
  out('  (the rows marked "its default" leave it at synchronous=NORMAL)')

  await runGroup(report, opts, 'sqlite', hf.lib, [holdfast, full, dflt])
  ratios(report, 'sqlite', full)
  // Report-only: SqliteSaver's default does not fsync its commits, so these compare unlike durability.
  ratios(report, 'sqlite', dflt, true)
}

export async function postgresLangGraph(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await loadHoldfastSaver()
  const mod = await loadLangGraphPostgres()
  const holdfast: Side = { suffix: 'holdfast', name: 'HoldfastSaver', open: (name) => async () => hf.open(await freshDatabase(opts, name)) }
  const peer: Side = {
    suffix: 'postgressaver',
    name: 'PostgresSaver',
    open: (name) => async () => {
      if (!mod) return null
      const saver = mod.PostgresSaver.fromConnString(await freshDatabase(opts, name))
      saver.pool.on('error', () => {}) // an idle connection killed by a later DROP DATABASE … WITH (FORCE)
      await saver.setup()
      return { saver, close: () => saver.end() }
    },
  }
  out('  both: server defaults (synchronous_commit=on), pools of 10 connections')

  await runGroup(report, opts, 'postgres', hf.lib, [holdfast, peer])
  ratios(report, 'postgres', peer)
}
