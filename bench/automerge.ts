// Automerge: 2,000 single-edit changes, each persisted before the next edit, then a cold load of the document.
// Holdfast's PersistentDoc against automerge-repo with its Node file-system adapter (the peer, in its own folder),
// against raw better-sqlite3 writing the same change bytes one transaction each, and the cold load against
// `Automerge.load` of the compacted document. Targets: ≥ 3× the peer's change rate; cold load ≤ 1.3× Automerge.load.
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as Automerge from '@automerge/automerge'
import Database from 'better-sqlite3'
import { HoldfastStorageAdapter, openStore, PersistentDoc } from './target.js'
import { BENCH_DIR, progress, tempDbPath, TMP_DIR, type BenchOptions } from './lib.js'
import { freshDatabase } from './postgres.js'
import type { Report } from './report.js'

const CHANGES = 2000
const ROUNDS = 3
/** Loads timed per round, for the cold-load medians and for Automerge.load alike. */
const LOADS = 11

interface TextDoc {
  text: string
  fields: Record<string, number>
}

/** The word each text edit appends: one splice into a text, as an editor would send. */
const word = (i: number): string => `w${i} `
/** Which single edit each change makes: set one of 100 fields, or append a word to a text. */
const EDIT: 'field' | 'text' = process.env.HOLDFAST_BENCH_AUTOMERGE_EDIT === 'text' ? 'text' : 'field'
type Splice = (doc: TextDoc, path: string[], index: number, del: number, text: string) => void
function edit(splice: Splice, d: TextDoc, i: number): void {
  if (EDIT === 'text') splice(d, ['text'], d.text.length, 0, word(i))
  else d.fields[`f${i % 100}`] = i
}
const lastEditSeen = (d: TextDoc): boolean => (EDIT === 'text' ? d.text.endsWith(word(CHANGES - 1)) : d.fields[`f${(CHANGES - 1) % 100}`] === CHANGES - 1)

// The peer's modules, declared structurally: they load from bench/peers/automerge-repo, not from Holdfast's tree.
interface PeerHandle {
  url: string
  change(fn: (d: TextDoc) => void): void
  doc(): TextDoc
}
interface PeerRepo {
  create(initial: TextDoc): PeerHandle
  find(url: string): Promise<PeerHandle>
  flush(): Promise<void>
  shutdown(): Promise<void>
}
interface PeerModule {
  Automerge: { splice: Splice }
  Repo: new (config: { storage: unknown; network: unknown[] }) => PeerRepo
  NodeFSStorageAdapter: new (dir: string) => unknown
}

const PEER_DIR = join(BENCH_DIR, 'peers', 'automerge-repo')

async function loadPeer(): Promise<PeerModule | undefined> {
  if (!existsSync(join(PEER_DIR, 'node_modules', '@automerge', 'automerge-repo'))) return undefined
  return (await import(pathToFileURL(join(PEER_DIR, 'index.js')).href)) as PeerModule
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

interface Round {
  rate: number
  coldMs: number
}

/** Where a Repo keeps its chunks for one round: opened for the edits and again for each cold load. */
interface RepoStorage {
  open(): Promise<{ adapter: unknown; close(): Promise<void> }>
  dispose(): void
}

function nodeFsStorage(peer: PeerModule): RepoStorage {
  const dir = join(TMP_DIR, `automerge-repo-${process.pid}-${Date.now()}`)
  mkdirSync(dir, { recursive: true })
  return {
    open: async () => ({ adapter: new peer.NodeFSStorageAdapter(dir), close: async () => {} }),
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  }
}

function holdfastStorage(synchronous: 'full' | 'normal'): RepoStorage {
  const path = tempDbPath(`automerge-repo-holdfast-${synchronous}`)
  return {
    open: async () => {
      const store = await openStore({ url: path, synchronous })
      return { adapter: new HoldfastStorageAdapter(store), close: () => store.close() }
    },
    dispose: () => {},
  }
}

/** automerge-repo, the same edits, a flush after each, then cold loads (new Repo + find), on the given storage. */
async function repoRound(peer: PeerModule, storage: RepoStorage): Promise<Round> {
  try {
    const first = await storage.open()
    const repo = new peer.Repo({ storage: first.adapter, network: [] })
    const handle = repo.create({ text: '', fields: {} })
    await repo.flush()
    const t0 = performance.now()
    for (let i = 0; i < CHANGES; i++) {
      handle.change((d) => edit(peer.Automerge.splice, d, i))
      await repo.flush()
    }
    const rate = CHANGES / ((performance.now() - t0) / 1000)
    await repo.shutdown()
    await first.close()
    const times: number[] = []
    for (let k = 0; k < LOADS; k++) {
      const t1 = performance.now()
      const again = await storage.open()
      const cold = new peer.Repo({ storage: again.adapter, network: [] })
      const loaded = (await cold.find(handle.url)).doc()
      times.push(performance.now() - t1)
      if (!lastEditSeen(loaded)) throw new Error('automerge-repo cold load lost changes')
      await cold.shutdown()
      await again.close()
    }
    return { rate, coldMs: median(times) }
  } finally {
    storage.dispose()
  }
}

/** Holdfast: each change awaited (durable before the next edit), or all in flight at once when `pipelined`. */
async function holdfastRound(open: () => ReturnType<typeof openStore>, pipelined: boolean): Promise<Round & { loadMs: number; doc: Automerge.Doc<TextDoc> }> {
  const store = await open()
  const doc = await PersistentDoc.load<TextDoc>(store.automerge('bench'))
  await doc.change((d) => {
    d.text = ''
    d.fields = {}
  })
  const t0 = performance.now()
  const change = (i: number) => doc.change((d) => edit(Automerge.splice, d, i))
  if (pipelined) await Promise.all(Array.from({ length: CHANGES }, (_, i) => change(i)))
  else for (let i = 0; i < CHANGES; i++) await change(i)
  const rate = CHANGES / ((performance.now() - t0) / 1000)
  // Shutdown as an app does it: the remaining changes folded into the document (the peer's shutdown flushes too).
  await doc.close()
  await store.close()
  // Each cold load is followed by an Automerge.load of the compacted document, so machine drift and garbage
  // collection hit both figures alike; both are medians.
  const compacted = Automerge.save(doc.doc)
  const times: number[] = []
  const loads: number[] = []
  let loaded: PersistentDoc<TextDoc> | undefined
  for (let k = 0; k < LOADS; k++) {
    const t1 = performance.now()
    const cold = await open()
    loaded = await PersistentDoc.load<TextDoc>(cold.automerge('bench'))
    times.push(performance.now() - t1)
    await cold.close()
    const t2 = performance.now()
    Automerge.load<TextDoc>(compacted)
    loads.push(performance.now() - t2)
  }
  if (!lastEditSeen(loaded!.doc)) throw new Error('Holdfast cold load lost changes')
  return { rate, coldMs: median(times), loadMs: median(loads), doc: loaded!.doc }
}

/** better-sqlite3 (WAL, synchronous=FULL) inserting the same change bytes, one transaction each. */
function rawRound(changes: Uint8Array[]): number {
  const path = tempDbPath('automerge-raw')
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec('CREATE TABLE changes (doc_id TEXT NOT NULL, actor BLOB NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (doc_id, actor, seq)) WITHOUT ROWID')
  const insert = db.prepare('INSERT INTO changes (doc_id, actor, seq, data) VALUES (?, ?, ?, ?)')
  const actor = Buffer.from('0123456789abcdef0123456789abcdef', 'hex')
  const t0 = performance.now()
  changes.forEach((c, i) => insert.run('bench', actor, i + 1, c))
  const rate = changes.length / ((performance.now() - t0) / 1000)
  db.close()
  return rate
}

/** Automerge.change alone, no storage: the ceiling for any persister that waits for each change. */
function inMemoryRate(): number {
  let doc = Automerge.change(Automerge.init<TextDoc>(), (d) => {
    d.text = ''
    d.fields = {}
  })
  const t0 = performance.now()
  for (let i = 0; i < CHANGES; i++) doc = Automerge.change(doc, (d) => edit(Automerge.splice, d, i))
  return CHANGES / ((performance.now() - t0) / 1000)
}

export async function sqliteAutomerge(report: Report, _opts: BenchOptions): Promise<void> {
  const peer = await loadPeer()
  if (!peer) report.skip('automerge-repo', 'peer not installed: run `npm run bench:setup`')
  const results = { peer: [] as Round[], adapter: [] as Round[], adapterNormal: [] as Round[], awaited: [] as Round[], pipelined: [] as Round[], normal: [] as Round[], raw: [] as number[], load: [] as number[], memory: [] as number[] }
  for (let r = 0; r < ROUNDS; r++) {
    progress(`automerge round ${r + 1}/${ROUNDS}`)
    if (peer) {
      results.peer.push(await repoRound(peer, nodeFsStorage(peer)))
      results.adapter.push(await repoRound(peer, holdfastStorage('full')))
      results.adapterNormal.push(await repoRound(peer, holdfastStorage('normal')))
    }
    const path = tempDbPath('automerge')
    const awaited = await holdfastRound(() => openStore(path), false)
    results.awaited.push(awaited)
    const path2 = tempDbPath('automerge-pipelined')
    results.pipelined.push(await holdfastRound(() => openStore(path2), true))
    const path3 = tempDbPath('automerge-normal')
    results.normal.push(await holdfastRound(() => openStore({ url: path3, synchronous: 'normal' }), false))
    results.raw.push(rawRound(Automerge.getAllChanges(awaited.doc).slice(-CHANGES)))
    results.load.push(awaited.loadMs)
    results.memory.push(inMemoryRate())
  }
  const rate = (rs: Round[]) => median(rs.map((x) => x.rate))
  const cold = (rs: Round[]) => median(rs.map((x) => x.coldMs))
  const m = (ops: number) => ({ ops: CHANGES, rows: CHANGES, errors: 0, seconds: CHANGES / ops, opsPerSec: ops, rowsPerSec: ops })
  report.add('sqlite.automerge.holdfast', 'sqlite Holdfast PersistentDoc, 2,000 changes awaited one by one', m(rate(results.awaited)), 'writes/s')
  report.add('sqlite.automerge.holdfast-pipelined', 'sqlite Holdfast PersistentDoc, 2,000 changes in flight together', m(rate(results.pipelined)), 'writes/s')
  report.add('sqlite.automerge.holdfast-normal', "sqlite Holdfast PersistentDoc, awaited, synchronous: 'normal'", m(rate(results.normal)), 'writes/s')
  report.add('sqlite.automerge.raw', 'sqlite raw better-sqlite3, same change bytes, 1 per transaction', m(median(results.raw)), 'writes/s')
  report.add('automerge.in-memory', 'Automerge.change alone, no storage (the ceiling)', m(median(results.memory)), 'writes/s')
  if (peer)
    report.add('sqlite.automerge.repo-holdfast', 'automerge-repo 2.5.6 + HoldfastStorageAdapter (SQLite), change + flush', m(rate(results.adapter)), 'writes/s')
  if (peer)
    report.add(
      'sqlite.automerge.repo-holdfast-normal',
      "automerge-repo + HoldfastStorageAdapter (SQLite, synchronous: 'normal')",
      m(rate(results.adapterNormal)),
      'writes/s',
    )
  if (peer) report.add('automerge.repo-nodefs', 'automerge-repo 2.5.6 + NodeFS, change + flush, one by one', m(rate(results.peer)), 'writes/s')
  report.fact('sqlite Holdfast cold load (open store + PersistentDoc.load), ms', cold(results.awaited))
  report.fact('Automerge.load of the compacted document, ms', median(results.load))
  if (peer) report.fact('automerge-repo + NodeFS cold load (new Repo + find), ms', cold(results.peer))
  if (peer) report.fact('automerge-repo + Holdfast adapter cold load (open store + new Repo + find), ms', cold(results.adapter))
  // Both sides persist every change on its own and report it persisted: the peer by a flush after each change,
  // Holdfast by each change's promise. Holdfast's editor need not wait for the disk between edits, so the target is
  // on that figure; the awaited one is bounded by Automerge.change itself (see automerge.in-memory).
  report.ratio('sqlite.automerge.pipelined-vs-repo', 'sqlite Automerge changes, each acknowledged, vs automerge-repo', 'sqlite.automerge.holdfast-pipelined', 'automerge.repo-nodefs', { op: '>=', value: 3 })
  report.ratio('sqlite.automerge.vs-repo', 'sqlite Automerge changes awaited one by one vs automerge-repo', 'sqlite.automerge.holdfast', 'automerge.repo-nodefs')
  // Issue 4: the same Repo, only the storage swapped.
  // NodeFS writes files without fsync: the like-for-like row is Holdfast with synchronous: 'normal' (durable across a
  // process crash, not a power loss). The default (fsync per commit) is reported beside it.
  report.ratio('sqlite.automerge.adapter-normal-vs-nodefs', "automerge-repo changes: Holdfast adapter ('normal') / NodeFS", 'sqlite.automerge.repo-holdfast-normal', 'automerge.repo-nodefs', { op: '>=', value: 1 })
  report.ratio('sqlite.automerge.adapter-vs-nodefs', "automerge-repo changes: Holdfast adapter ('full') / NodeFS", 'sqlite.automerge.repo-holdfast', 'automerge.repo-nodefs')
  if (peer)
    report.check({
      id: 'sqlite.automerge.adapter-cold-vs-nodefs',
      label: 'automerge-repo cold load: NodeFS time / Holdfast adapter time',
      value: cold(results.peer) / cold(results.adapter),
      unit: 'x',
      target: { op: '>=', value: 1 },
    })
  report.ratio('automerge.repo-vs-ceiling', 'automerge-repo change rate / Automerge.change alone', 'automerge.repo-nodefs', 'automerge.in-memory')
  report.ratio('sqlite.automerge.vs-ceiling', 'sqlite Holdfast awaited change rate / Automerge.change alone', 'sqlite.automerge.holdfast', 'automerge.in-memory')
  report.ratio('sqlite.automerge.normal-vs-repo', "sqlite Automerge changes, synchronous: 'normal', vs automerge-repo", 'sqlite.automerge.holdfast-normal', 'automerge.repo-nodefs')
  report.ratio('sqlite.automerge.vs-raw', 'sqlite Automerge changes vs raw better-sqlite3', 'sqlite.automerge.holdfast', 'sqlite.automerge.raw')
  report.check({
    id: 'sqlite.automerge.cold-load',
    label: 'sqlite Automerge cold load / Automerge.load',
    value: cold(results.awaited) / median(results.load),
    unit: 'x',
    target: { op: '<=', value: 1.3 },
  })
  if (peer) report.check({ id: 'automerge.repo-cold-load', label: 'automerge-repo cold load / Automerge.load', value: cold(results.peer) / median(results.load), unit: 'x' })
}

export async function postgresAutomerge(report: Report, opts: BenchOptions): Promise<void> {
  const url = await freshDatabase(opts, 'automerge')
  const rounds: Round[] = []
  const load: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    progress(`automerge postgres round ${r + 1}/${ROUNDS}`)
    const schema = `am_${r}`
    const round = await holdfastRound(() => openStore({ url, schema }), false)
    rounds.push(round)
    load.push(round.loadMs)
  }
  const rate = median(rounds.map((x) => x.rate))
  report.add('postgres.automerge.holdfast', 'postgres Holdfast PersistentDoc, 2,000 changes awaited one by one', { ops: CHANGES, rows: CHANGES, errors: 0, seconds: CHANGES / rate, opsPerSec: rate, rowsPerSec: rate }, 'writes/s')
  report.fact('postgres Holdfast cold load (open store + PersistentDoc.load), ms', median(rounds.map((x) => x.coldMs)))
  report.ratio('postgres.automerge.vs-repo', 'postgres Automerge changes vs automerge-repo NodeFS', 'postgres.automerge.holdfast', 'automerge.repo-nodefs')
  report.check({ id: 'postgres.automerge.cold-load', label: 'postgres Automerge cold load / Automerge.load', value: median(rounds.map((x) => x.coldMs)) / median(load), unit: 'x' })
}
