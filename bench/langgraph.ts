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
// Durability: Holdfast at its default, synchronous=FULL. SqliteSaver's connection is set to FULL for every target
// row (better-sqlite3's WAL default is NORMAL: no fsync per commit); its default is reported beside the write rows,
// without a target. PostgreSQL: both at the server's synchronous_commit=on, pools of 10.
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
  const [{ openStore }, { HoldfastSaver }, lib] = await Promise.all([
    import('../src/index.js'),
    import('../src/langgraph/index.js'),
    import('@langchain/langgraph-checkpoint'),
  ])
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
const c20 = { concurrency: THREADS, warmupOps: 1 }
const reads = { unit: 'reads/s' as const, warmupOps: 20 }
const lists = { unit: 'rows/s' as const, warmupOps: 5, note: `rows = checkpoints returned, ${LIST_LIMIT} per call` }
const READS = `${THREADS} threads of ${DEPTH}`

type Ratio = (id: string, label: string, hf: string, peer: string, target?: number) => void
const ratios = (report: Report, engine: string, peer: string): Ratio => (id, label, hf, lg, target) =>
  report.ratio(`${engine}.langgraph.${id}`, `${engine} LangGraph ${label}: Holdfast / ${peer}`, `${engine}.langgraph.${hf}`, `${engine}.langgraph.${lg}`, target === undefined ? undefined : { op: '>=', value: target })

export async function sqliteLangGraph(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await loadHoldfastSaver()
  const mod = await loadLangGraphSqlite()
  const { lib } = hf
  const holdfast =
    (name: string): OpenSaver =>
    async () => {
      const path = tempDbPath(name)
      const o = await hf.open(path)
      return { saver: o.saver, close: async () => (await o.close(), removeDb(path)) }
    }
  const sqliteSaver =
    (name: string, synchronous: 'default' | 'full'): OpenSaver =>
    async () => {
      if (!mod) return null
      const path = tempDbPath(name)
      const saver = mod.SqliteSaver.fromConnString(path)
      saver.setup()
      if (synchronous === 'full') saver.db.pragma('synchronous = FULL')
      return { saver, close: () => Promise.resolve((saver.db.close(), removeDb(path))) }
    }
  out('  Holdfast: WAL, synchronous=FULL (its default); SqliteSaver: WAL, synchronous=FULL set on its connection unless noted')
  const dflt = { note: "SqliteSaver's default: synchronous=NORMAL, no fsync per commit" }

  await compare(report, opts, [
    { ...seq, id: 'sqlite.langgraph.put.holdfast', label: 'sqlite HoldfastSaver put, sequential', open: contender(holdfast('lg-hf-put'), (s) => writer(s, lib, false, put)) },
    { ...seq, id: 'sqlite.langgraph.put.sqlitesaver-full', label: 'sqlite SqliteSaver put, sequential (FULL)', open: contender(sqliteSaver('lg-put-full', 'full'), (s) => writer(s, lib, false, put)) },
    { ...seq, ...dflt, id: 'sqlite.langgraph.put.sqlitesaver', label: 'sqlite SqliteSaver put, sequential (its default)', open: contender(sqliteSaver('lg-put', 'default'), (s) => writer(s, lib, false, put)) },
  ])
  await compare(report, opts, [
    { ...c20, id: 'sqlite.langgraph.put20.holdfast', label: 'sqlite HoldfastSaver put, 20 threads at once', open: contender(holdfast('lg-hf-put20'), (s) => writer(s, lib, true, put)) },
    { ...c20, id: 'sqlite.langgraph.put20.sqlitesaver-full', label: 'sqlite SqliteSaver put, 20 threads at once (FULL)', open: contender(sqliteSaver('lg-put20-full', 'full'), (s) => writer(s, lib, true, put)) },
    { ...c20, ...dflt, id: 'sqlite.langgraph.put20.sqlitesaver', label: 'sqlite SqliteSaver put, 20 threads at once (its default)', open: contender(sqliteSaver('lg-put20', 'default'), (s) => writer(s, lib, true, put)) },
  ])
  await compare(report, opts, [
    { ...seq, id: 'sqlite.langgraph.writes.holdfast', label: 'sqlite HoldfastSaver putWrites (2 writes), sequential', open: contender(holdfast('lg-hf-writes'), (s) => writesWriter(s, lib)) },
    { ...seq, id: 'sqlite.langgraph.writes.sqlitesaver-full', label: 'sqlite SqliteSaver putWrites (2 writes), sequential (FULL)', open: contender(sqliteSaver('lg-writes-full', 'full'), (s) => writesWriter(s, lib)) },
    { ...seq, ...dflt, id: 'sqlite.langgraph.writes.sqlitesaver', label: 'sqlite SqliteSaver putWrites (2 writes), seq. (its default)', open: contender(sqliteSaver('lg-writes', 'default'), (s) => writesWriter(s, lib)) },
  ])
  const hfRead = sharedThreads(holdfast('lg-hf-reads'), lib)
  const lgRead = sharedThreads(sqliteSaver('lg-reads', 'full'), lib)
  await compare(
    report,
    opts,
    [
      { ...reads, id: 'sqlite.langgraph.latest.holdfast', label: `sqlite HoldfastSaver getTuple latest, ${READS}`, open: hfRead(latest) },
      { ...reads, id: 'sqlite.langgraph.latest.sqlitesaver', label: `sqlite SqliteSaver getTuple latest, ${READS}`, open: lgRead(latest) },
      { ...reads, id: 'sqlite.langgraph.by-id.holdfast', label: `sqlite HoldfastSaver getTuple by checkpoint_id, ${READS}`, open: hfRead(byId) },
      { ...reads, id: 'sqlite.langgraph.by-id.sqlitesaver', label: `sqlite SqliteSaver getTuple by checkpoint_id, ${READS}`, open: lgRead(byId) },
      { ...lists, id: 'sqlite.langgraph.list.holdfast', label: `sqlite HoldfastSaver list, limit ${LIST_LIMIT}`, open: hfRead(list) },
      { ...lists, id: 'sqlite.langgraph.list.sqlitesaver', label: `sqlite SqliteSaver list, limit ${LIST_LIMIT}`, open: lgRead(list) },
    ],
    { minOps: opts.readMinPages },
  )

  const ratio = ratios(report, 'sqlite', 'SqliteSaver')
  ratio('put-vs-sqlitesaver', 'put, sequential, both FULL', 'put.holdfast', 'put.sqlitesaver-full', 1)
  ratio('put20-vs-sqlitesaver', 'put, 20 threads at once, both FULL', 'put20.holdfast', 'put20.sqlitesaver-full', 1)
  ratio('writes-vs-sqlitesaver', 'putWrites, both FULL', 'writes.holdfast', 'writes.sqlitesaver-full', 1)
  ratio('latest-vs-sqlitesaver', 'getTuple latest', 'latest.holdfast', 'latest.sqlitesaver', 1)
  ratio('by-id-vs-sqlitesaver', 'getTuple by id', 'by-id.holdfast', 'by-id.sqlitesaver', 1)
  ratio('list-vs-sqlitesaver', `list limit ${LIST_LIMIT}`, 'list.holdfast', 'list.sqlitesaver', 1)
  // Report-only: SqliteSaver's default does not fsync its commits, so these compare unlike durability.
  ratio('put-vs-sqlitesaver-default', 'put, seq., FULL vs its default', 'put.holdfast', 'put.sqlitesaver')
  ratio('put20-vs-sqlitesaver-default', 'put, 20 at once, FULL vs its default', 'put20.holdfast', 'put20.sqlitesaver')
  ratio('writes-vs-sqlitesaver-default', 'putWrites, FULL vs its default', 'writes.holdfast', 'writes.sqlitesaver')
}

export async function postgresLangGraph(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await loadHoldfastSaver()
  const mod = await loadLangGraphPostgres()
  const { lib } = hf
  const holdfast =
    (name: string): OpenSaver =>
    async () =>
      hf.open(await freshDatabase(opts, name))
  const postgresSaver =
    (name: string): OpenSaver =>
    async () => {
      if (!mod) return null
      const saver = mod.PostgresSaver.fromConnString(await freshDatabase(opts, name))
      saver.pool.on('error', () => {}) // an idle connection killed by a later DROP DATABASE … WITH (FORCE)
      await saver.setup()
      return { saver, close: () => saver.end() }
    }
  out('  both: server defaults (synchronous_commit=on), pools of 10 connections')

  await compare(report, opts, [
    { ...seq, id: 'postgres.langgraph.put.holdfast', label: 'postgres HoldfastSaver put, sequential', open: contender(holdfast('lg_hf_put'), (s) => writer(s, lib, false, put)) },
    { ...seq, id: 'postgres.langgraph.put.postgressaver', label: 'postgres PostgresSaver put, sequential', open: contender(postgresSaver('lg_put'), (s) => writer(s, lib, false, put)) },
  ])
  await compare(report, opts, [
    { ...c20, id: 'postgres.langgraph.put20.holdfast', label: 'postgres HoldfastSaver put, 20 threads at once', open: contender(holdfast('lg_hf_put20'), (s) => writer(s, lib, true, put)) },
    { ...c20, id: 'postgres.langgraph.put20.postgressaver', label: 'postgres PostgresSaver put, 20 threads at once', open: contender(postgresSaver('lg_put20'), (s) => writer(s, lib, true, put)) },
  ])
  await compare(report, opts, [
    { ...seq, id: 'postgres.langgraph.writes.holdfast', label: 'postgres HoldfastSaver putWrites (2 writes), sequential', open: contender(holdfast('lg_hf_writes'), (s) => writesWriter(s, lib)) },
    { ...seq, id: 'postgres.langgraph.writes.postgressaver', label: 'postgres PostgresSaver putWrites (2 writes), sequential', open: contender(postgresSaver('lg_writes'), (s) => writesWriter(s, lib)) },
  ])
  const hfRead = sharedThreads(holdfast('lg_hf_reads'), lib)
  const lgRead = sharedThreads(postgresSaver('lg_reads'), lib)
  await compare(
    report,
    opts,
    [
      { ...reads, id: 'postgres.langgraph.latest.holdfast', label: `postgres HoldfastSaver getTuple latest, ${READS}`, open: hfRead(latest) },
      { ...reads, id: 'postgres.langgraph.latest.postgressaver', label: `postgres PostgresSaver getTuple latest, ${READS}`, open: lgRead(latest) },
      { ...reads, id: 'postgres.langgraph.by-id.holdfast', label: `postgres HoldfastSaver getTuple by checkpoint_id, ${READS}`, open: hfRead(byId) },
      { ...reads, id: 'postgres.langgraph.by-id.postgressaver', label: `postgres PostgresSaver getTuple by checkpoint_id, ${READS}`, open: lgRead(byId) },
      { ...lists, id: 'postgres.langgraph.list.holdfast', label: `postgres HoldfastSaver list, limit ${LIST_LIMIT}`, open: hfRead(list) },
      { ...lists, id: 'postgres.langgraph.list.postgressaver', label: `postgres PostgresSaver list, limit ${LIST_LIMIT}`, open: lgRead(list) },
    ],
    { minOps: opts.readMinPages },
  )

  const ratio = ratios(report, 'postgres', 'PostgresSaver')
  ratio('put-vs-postgressaver', 'put, sequential', 'put.holdfast', 'put.postgressaver', 1)
  ratio('put20-vs-postgressaver', 'put, 20 threads at once', 'put20.holdfast', 'put20.postgressaver', 1)
  ratio('writes-vs-postgressaver', 'putWrites', 'writes.holdfast', 'writes.postgressaver', 1)
  ratio('latest-vs-postgressaver', 'getTuple latest', 'latest.holdfast', 'latest.postgressaver', 1)
  ratio('by-id-vs-postgressaver', 'getTuple by id', 'by-id.holdfast', 'by-id.postgressaver', 1)
  ratio('list-vs-postgressaver', `list limit ${LIST_LIMIT}`, 'list.holdfast', 'list.postgressaver', 1)
}
