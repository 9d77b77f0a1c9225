// Contended commands: 32 concurrent loops of load + decide + append over 1,000 aggregates chosen by Zipf (s = 1.1),
// so a few hot aggregates draw most commands (the hottest 18%) and would conflict often. Holdfast's handleCommand
// against Emmett's CommandHandler on its own stores (Emmett-SQLite one command at a time, see below), both folding
// the whole stream and retrying version conflicts with a jittered backoff until every command succeeds; the retries
// are counted on both sides. A third row adds Holdfast's snapshots, which Emmett's handler has no counterpart of.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type * as Root from '../src/index.js'
import { BENCH_DIR, compare, CONCURRENCY, JSON_PAYLOAD, loadBuilt, quietly, removeDb, tempDbPath, type BenchOptions, type Contender, type LoopSpec } from './lib.js'
import { loadEmmettPg, loadEmmettSqlite, type EmmettEvent, type EmmettEventStore } from './peers.js'
import { freshDatabase } from './postgres.js'
import type { Report } from './report.js'

const AGGREGATES = 1000
const ZIPF_S = 1.1
/** Holdfast's retries are cheap to allow; a command that ran out would be counted as an error. */
const HOLDFAST_MAX_RETRIES = 1000
/*
 * Emmett retries through async-retry, which precomputes every timeout of an operation up front (and sorts them): a
 * limit of 1,000 would cost each command that work. 30 conflict retries per call, then the loop below starts the
 * command again, so every command still succeeds.
 */
const EMMETT_RETRIES = 30
/** Attempts of a command by the loop below, whatever Emmett threw (conflicts past its own retries, a lost connection). */
const OTHER_ATTEMPTS = 100
/** The snapshot row: Holdfast's snapshots, which Emmett's CommandHandler has no counterpart of (a row, not the ratio). */
const SNAPSHOT_EVERY = 100

// ---------------------------------------------------------------------------------------------------------------
// The workload

/** A deterministic PRNG (mulberry32): each contender draws the same sequence of aggregates. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Aggregate numbers 0..n-1, rank k drawn with probability ∝ 1/(k+1)^s. */
function zipf(n: number, s: number, seed = 42): () => number {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s
  for (let k = 0; k < n; k++) cdf[k]! /= sum
  const random = prng(seed)
  return () => {
    const u = random()
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (cdf[mid]! < u) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/** The share of commands that go to the hottest aggregate. */
function hottestShare(n: number, s: number): number {
  let sum = 0
  for (let k = 1; k <= n; k++) sum += 1 / k ** s
  return 1 / sum
}

/** What both sides fold: an order's item count and quantity, from the same JSON payload. */
interface OrderState {
  items: number
  quantity: number
}
const initialState = (): OrderState => ({ items: 0, quantity: 0 })
const encoder = new TextEncoder()
const PAYLOAD_BYTES = encoder.encode(JSON.stringify(JSON_PAYLOAD))
const decoder = new TextDecoder()

/** Attempts and retries of one contender, summed over its whole run (warm-up included). */
interface Tally {
  commands: number
  conflictRetries: number
  otherRetries: number
}
const tally = (): Tally => ({ commands: 0, conflictRetries: 0, otherRetries: 0 })

function recordTally(report: Report, group: string, side: string, t: Tally): void {
  report.fact(`${group} ${side} commands`, t.commands)
  report.fact(`${group} ${side} retries / command`, t.conflictRetries / Math.max(1, t.commands))
  if (t.otherRetries > 0) report.fact(`${group} ${side} other-error retries / command`, t.otherRetries / Math.max(1, t.commands))
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------------------
// Holdfast

type Holdfast = typeof Root

/** Holdfast's handleCommand on a store, counting decisions: every one after a command's first is a retry. */
function holdfastOp(hf: Holdfast, store: Root.Store, t: Tally, snapshotEvery?: number): LoopSpec['op'] {
  const next = zipf(AGGREGATES, ZIPF_S)
  const evolve = (state: OrderState, event: Root.Event): OrderState => {
    const data = JSON.parse(decoder.decode(event.data)) as { quantity: number }
    return { items: state.items + 1, quantity: state.quantity + data.quantity }
  }
  const snapshot =
    snapshotEvery === undefined
      ? undefined
      : {
          revision: 'v1',
          every: snapshotEvery,
          serialize: (state: OrderState) => encoder.encode(JSON.stringify(state)),
          deserialize: (data: Uint8Array) => JSON.parse(decoder.decode(data)) as OrderState,
        }
  return async () => {
    let decisions = 0
    await hf.handleCommand(store, {
      aggregatorType: 'bench/Order',
      aggregatorId: `order-${next()}`,
      initialState,
      evolve,
      ...(snapshot ? { snapshot } : {}),
      maxRetries: HOLDFAST_MAX_RETRIES,
      decide: () => {
        decisions++
        return [{ name: 'ItemAdded', data: PAYLOAD_BYTES.slice() }]
      },
    })
    t.commands++
    t.conflictRetries += decisions - 1
  }
}

function holdfast(
  open: (hf: Holdfast) => Promise<{ store: Root.Store; cleanup?: () => void }>,
  t: Tally,
  snapshotEvery?: number,
): Contender['open'] {
  return async () => {
    const hf = await loadBuilt<Holdfast>('index.js')
    const { store, cleanup } = await open(hf)
    return { op: holdfastOp(hf, store, t, snapshotEvery), close: async () => (await store.close(), cleanup?.()) }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Emmett

interface EmmettReadEvent {
  type: string
  data: { quantity: number }
}
type EmmettHandle = (
  store: EmmettEventStore,
  id: string,
  handle: (state: OrderState) => EmmettEvent | EmmettEvent[],
) => Promise<unknown>
interface EmmettCore {
  CommandHandler(options: {
    evolve: (state: OrderState, event: EmmettReadEvent) => OrderState
    initialState: () => OrderState
    retry?: { onVersionConflict: Record<string, unknown> }
  }): EmmettHandle
}

/** `@event-driven-io/emmett` as the peer resolves it (the version its store was built with). */
async function loadEmmettCore(peer: 'emmett-sqlite' | 'emmett-postgresql'): Promise<EmmettCore> {
  const req = createRequire(join(BENCH_DIR, 'peers', peer, 'package.json'))
  // The "require" condition resolves to the .cjs entry; the ESM twin sits beside it.
  const resolved = req.resolve('@event-driven-io/emmett').replace(/\.cjs$/, '.js')
  return (await import(pathToFileURL(resolved).href)) as EmmettCore
}

/*
 * Each Emmett store package bundles its own copy of Emmett's error classes, so the core's
 * isExpectedVersionConflictError (an instanceof) never matches what the store throws; the conflict's code does.
 */
const isEmmettConflict = (error: unknown): boolean => (error as { errorCode?: unknown } | null)?.errorCode === 412

/** Emmett's CommandHandler with the same kind of backoff as Holdfast's: jittered, 1 ms doubling to 32 ms. */
function emmettOp(core: EmmettCore, storeOf: (worker: number) => EmmettEventStore, t: Tally): LoopSpec['op'] {
  const next = zipf(AGGREGATES, ZIPF_S)
  const handle = core.CommandHandler({
    evolve: (state, event) => ({ items: state.items + 1, quantity: state.quantity + event.data.quantity }),
    initialState,
    retry: {
      onVersionConflict: {
        retries: EMMETT_RETRIES,
        minTimeout: 1,
        maxTimeout: 32,
        factor: 2,
        randomize: true,
        shouldRetryError: isEmmettConflict,
        onRetry: () => void t.conflictRetries++,
      },
    },
  })
  return async (worker) => {
    const id = `order-${next()}`
    for (let attempt = 1; ; attempt++) {
      try {
        await handle(storeOf(worker), id, () => ({ type: 'ItemAdded', data: JSON_PAYLOAD }))
        t.commands++
        return
      } catch (error) {
        if (attempt >= OTHER_ATTEMPTS) throw error
        if (isEmmettConflict(error)) t.conflictRetries++
        else t.otherRetries++
        await sleep(Math.random() * 8)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Groups

const LABEL = `${CONCURRENCY} loops, Zipf ${ZIPF_S} / ${AGGREGATES.toLocaleString('en-US')}`
/*
 * Emmett-SQLite runs one command at a time, its only working mode here: one store shared by concurrent calls shares
 * and closes one connection (no progress at all in 100 s with 32 loops), and one store per loop has each BEGIN
 * IMMEDIATE wait out sqlite3's 1 s busy timeout (2 loops: 1.6 commands/s, 4 loops: 1/s, against 306/s alone).
 */
const EMMETT_SQLITE_NOTE = 'one command at a time: Emmett-SQLite stalls under concurrent calls (one store or one per loop)'

export async function sqliteCommands(report: Report, opts: BenchOptions): Promise<void> {
  const hf = tally()
  const hfSnap = tally()
  const em = tally()
  report.fact('commands: share of the hottest aggregate', hottestShare(AGGREGATES, ZIPF_S))
  // quietly: Emmett-SQLite console.logs every failed transaction.
  await quietly(() =>
    compare(report, opts, [
      {
        id: 'sqlite.commands.holdfast',
        label: `sqlite Holdfast handleCommand, ${LABEL}`,
        concurrency: CONCURRENCY,
        warmupOps: 1,
        open: holdfast(async (mod) => {
          const path = tempDbPath('commands-hf')
          return { store: await mod.openStore(path), cleanup: () => removeDb(path) }
        }, hf),
      },
      {
        id: 'sqlite.commands.holdfast-snapshots',
        label: `sqlite Holdfast handleCommand + snapshots/${SNAPSHOT_EVERY}, same`,
        concurrency: CONCURRENCY,
        warmupOps: 1,
        open: holdfast(async (mod) => {
          const path = tempDbPath('commands-hf-snap')
          return { store: await mod.openStore(path), cleanup: () => removeDb(path) }
        }, hfSnap, SNAPSHOT_EVERY),
      },
      {
        id: 'sqlite.commands.emmett',
        label: `sqlite Emmett CommandHandler, 1 loop, Zipf ${ZIPF_S} / ${AGGREGATES.toLocaleString('en-US')}`,
        note: EMMETT_SQLITE_NOTE,
        warmupOps: 1,
        open: async () => {
          const mod = await loadEmmettSqlite()
          if (!mod) return null
          const core = await loadEmmettCore('emmett-sqlite')
          const path = tempDbPath('commands-emmett')
          const store = mod.getSQLiteEventStore({ fileName: path })
          await store.appendToStream('order-warmup', [{ type: 'ItemAdded', data: JSON_PAYLOAD }]) // the schema, alone
          return { op: emmettOp(core, () => store, em), close: () => Promise.resolve(removeDb(path)) }
        },
      },
    ]),
  )
  recordTally(report, 'sqlite.commands', 'holdfast', hf)
  recordTally(report, 'sqlite.commands', 'holdfast+snapshots', hfSnap)
  recordTally(report, 'sqlite.commands', 'emmett', em)
  report.ratio('sqlite.commands.hf-vs-emmett', 'sqlite Holdfast 32 / Emmett sequential, contended commands', 'sqlite.commands.holdfast', 'sqlite.commands.emmett', {
    op: '>=',
    value: 3,
  })
  report.ratio('sqlite.commands.hf-snap-vs-emmett', 'sqlite Holdfast with snapshots / Emmett sequential', 'sqlite.commands.holdfast-snapshots', 'sqlite.commands.emmett')
}

export async function postgresCommands(report: Report, opts: BenchOptions): Promise<void> {
  const hf = tally()
  const hfSnap = tally()
  const em = tally()
  report.fact('commands: share of the hottest aggregate', hottestShare(AGGREGATES, ZIPF_S))
  await compare(report, opts, [
    {
      id: 'postgres.commands.holdfast',
      label: `postgres Holdfast handleCommand, ${LABEL}`,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      open: holdfast(async (mod) => ({ store: await mod.openStore(await freshDatabase(opts, 'commands_hf')) }), hf),
    },
    {
      id: 'postgres.commands.holdfast-snapshots',
      label: `postgres Holdfast handleCommand + snapshots/${SNAPSHOT_EVERY}, same`,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      open: holdfast(async (mod) => ({ store: await mod.openStore(await freshDatabase(opts, 'commands_hf_snap')) }), hfSnap, SNAPSHOT_EVERY),
    },
    {
      id: 'postgres.commands.emmett',
      label: `postgres Emmett CommandHandler, ${LABEL}`,
      note: 'pool of 32 connections',
      concurrency: CONCURRENCY,
      warmupOps: 1,
      open: async () => {
        const mod = await loadEmmettPg()
        if (!mod) return null
        const core = await loadEmmettCore('emmett-postgresql')
        const url = await freshDatabase(opts, 'commands_emmett')
        const pool = mod.createPool(url, CONCURRENCY)
        const store = mod.getPostgreSQLEventStore(url, { connectionOptions: { pool } })
        await store.appendToStream('order-warmup', [{ type: 'ItemAdded', data: JSON_PAYLOAD }]) // runs the schema migration
        return { op: emmettOp(core, () => store, em), close: async () => (await store.close(), await pool.end()) }
      },
    },
  ])
  recordTally(report, 'postgres.commands', 'holdfast', hf)
  recordTally(report, 'postgres.commands', 'holdfast+snapshots', hfSnap)
  recordTally(report, 'postgres.commands', 'emmett', em)
  report.ratio('postgres.commands.hf-vs-emmett', 'postgres Holdfast / Emmett, contended commands', 'postgres.commands.holdfast', 'postgres.commands.emmett', {
    op: '>=',
    value: 3,
  })
  report.ratio('postgres.commands.hf-snap-vs-emmett', 'postgres Holdfast with snapshots / Emmett', 'postgres.commands.holdfast-snapshots', 'postgres.commands.emmett')
}
