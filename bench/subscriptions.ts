// Subscriptions: how fast a commit reaches a handler while writers are busy, what delivery costs the writers, and how
// fast a new subscription catches up over a million stored events.
//
// Live delivery: 16 subscriptions, one per aggregate type (what a user writes: a projection or a reactor per type),
// while 32 writers each append single events to their own aggregate, writer w to type w mod 16 (so every subscription
// follows two writers). The latency of an event is from its write's promise resolving (performance.now(), keyed by
// event id) to the handler being handed it; p50 and p99. The writers' throughput is compared, in alternating rounds,
// with the same 32 writers on a store with no subscription. Beside it, Emmett's consumer on its own stores with its
// default settings (polling every 50 ms while batches come full, backing off from 100 ms to 1 s while they do not;
// batches of 100): one consumer with 16 processors, one per event type, keyed by global position.
//
// Catch-up (the `.scale` groups, left out by --no-scale): a new subscription (batches of 1,000, a handler that only
// counts) over 1,000,000 stored events, against paging through the same events with read (first: 1,000).
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import type * as Root from '../src/index.js'
import { bulkLoad, readEveryPage, toNewEvent, type HfStore } from './holdfast.js'
import {
  CONCURRENCY,
  compare,
  describeError,
  JSON_PAYLOAD,
  loadBuilt,
  progress,
  quietly,
  rawRow,
  removeDb,
  runLoop,
  tempDbPath,
  type BenchOptions,
  type Contender,
  type LoopSpec,
  type Measurement,
} from './lib.js'
import { loadEmmettPg, loadEmmettSqlite, type EmmettConsumer, type EmmettEventStore, type EmmettRecordedMessage } from './peers.js'
import { freshDatabase, settleAfterLoad } from './postgres.js'
import type { Report } from './report.js'
import { SCALE_LARGE } from './scale.js'

type Holdfast = typeof Root
type Engine = 'sqlite' | 'postgres'

const SUBSCRIPTIONS = 16
/** The figure for the live workload; `--duration` overrides it. */
const LIVE_DEFAULT_MS = 10_000
const CATCH_UP_BATCH = 1000
/** How long the end of a run may take to deliver what was written (Emmett polls at most every second). */
const DRAIN_MS = 30_000

const TARGET = { p50Ms: 5, p99Ms: 50, vsEmmett: 10, throughput: 0.9, catchUp: 0.8 }

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const execFileAsync = promisify(execFile)

/** The live workload's duration: `--duration` when given on the command line, else the 10 s. */
function liveDurationMs(opts: BenchOptions): number {
  const given = process.argv.some((a) => a === '--duration' || a.startsWith('--duration='))
  return given ? opts.durationMs : LIVE_DEFAULT_MS
}

// ---------------------------------------------------------------------------------------------------------------
// Latency bookkeeping

/**
 * Pairs each write's resolve time with its delivery time, by key (Holdfast: event id; Emmett: global position). A
 * delivery that comes before its write's promise resolved (a commit's wake-up can run before the writer's
 * continuation) counts as 0 ms, and is counted.
 */
class Latencies {
  readonly samples: number[] = []
  early = 0
  readonly #resolvedAt = new Map<string, number>()
  readonly #seenAt = new Map<string, number>()

  resolved(key: string): void {
    const now = performance.now()
    if (this.#seenAt.delete(key)) {
      this.early++
      this.samples.push(0)
    } else this.#resolvedAt.set(key, now)
  }

  delivered(key: string, now: number): void {
    const at = this.#resolvedAt.get(key)
    if (at === undefined) {
      this.#seenAt.set(key, now)
      return
    }
    this.#resolvedAt.delete(key)
    this.samples.push(now - at)
  }

  /** Writes resolved and not delivered yet. */
  get pending(): number {
    return this.#resolvedAt.size
  }

  /** Nearest-rank percentile, in ms; null without samples. */
  percentile(q: number): number | null {
    if (this.samples.length === 0) return null
    const sorted = Float64Array.from(this.samples).sort()
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!
  }

  async drained(timeoutMs = DRAIN_MS): Promise<void> {
    const deadline = performance.now() + timeoutMs
    while (this.pending > 0 && performance.now() < deadline) await sleep(20)
  }
}

function reportLatency(report: Report, id: string, label: string, l: Latencies, target?: { p50: number; p99: number }): void {
  report.check({ id: `${id}-p50`, label: `${label} p50`, value: l.percentile(0.5), unit: 'ms', ...(target ? { target: { op: '<=', value: target.p50 } } : {}) })
  report.check({ id: `${id}-p99`, label: `${label} p99`, value: l.percentile(0.99), unit: 'ms', ...(target ? { target: { op: '<=', value: target.p99 } } : {}) })
  report.fact(`${id} deliveries timed`, l.samples.length)
  if (l.early > 0) report.fact(`${id} delivered before the write resolved (as 0 ms)`, l.early)
  if (l.pending > 0) report.fact(`${id} written but not delivered after ${DRAIN_MS / 1000} s`, l.pending)
}

// ---------------------------------------------------------------------------------------------------------------
// Holdfast, live

const typeOf = (worker: number): number => worker % SUBSCRIPTIONS

/** 32 writers of single events, writer w to aggregate `w<w>` of type `bench/T<w mod 16>`; `onResolved` per event id. */
function liveWriter(store: Root.Store, onResolved?: (id: string) => void): LoopSpec['op'] {
  const versions = new Map<number, number>()
  return async (w) => {
    const version = (versions.get(w) ?? 0) + 1
    versions.set(w, version)
    const event = toNewEvent(rawRow(`w${w}`, version, `bench/T${typeOf(w)}`))
    await store.events.write([event])
    onResolved?.(event.id)
  }
}

type OpenHf = (hf: Holdfast, name: string) => Promise<{ store: Root.Store; cleanup?: () => void }>

const openSqlite: OpenHf = async (hf, name) => {
  const path = tempDbPath(name)
  return { store: await hf.openStore(path), cleanup: () => removeDb(path) }
}
const openPostgres =
  (opts: BenchOptions): OpenHf =>
  async (hf, name) => ({ store: await hf.openStore(await freshDatabase(opts, name)) })

/** The store with 16 subscriptions, each on one aggregate type, with default settings (batches of 100). */
function withSubscriptions(open: OpenHf, l: Latencies, errors: { count: number; first?: string }): Contender['open'] {
  return async () => {
    const hf = await loadBuilt<Holdfast>('index.js')
    const { store, cleanup } = await open(hf, 'subs_live')
    const handler = (events: Root.Event[]): void => {
      const now = performance.now()
      for (const e of events) l.delivered(e.id, now)
    }
    const subs = Array.from({ length: SUBSCRIPTIONS }, (_, k) =>
      hf.subscribe(store, { key: `bench/live-T${k}`, aggregators: [{ aggregatorType: `bench/T${k}` }], handler }),
    )
    for (const s of subs)
      s.on('error', (err) => {
        errors.count++
        errors.first ??= describeError(err)
      })
    // Every subscription holds its key before the first write.
    await Promise.all(subs.map((s) => (s.state === 'active' ? undefined : new Promise<void>((resolve) => void s.on('active', resolve)))))
    return {
      op: liveWriter(store, (id) => l.resolved(id)),
      close: async () => {
        await Promise.race([Promise.all(subs.map((s) => s.whenCaughtUp())), sleep(DRAIN_MS)])
        await Promise.all(subs.map((s) => s.stop()))
        await store.close()
        cleanup?.()
      },
    }
  }
}

function withoutSubscriptions(open: OpenHf): Contender['open'] {
  return async () => {
    const hf = await loadBuilt<Holdfast>('index.js')
    const { store, cleanup } = await open(hf, 'subs_none')
    // The same bookkeeping as the subscribed store's writers, so that the ratio is the subscriptions' cost alone.
    const sink = new Map<string, number>()
    return {
      op: liveWriter(store, (id) => void sink.set(id, performance.now())),
      close: async () => (await store.close(), cleanup?.()),
    }
  }
}

async function holdfastLive(report: Report, opts: BenchOptions, engine: Engine, open: OpenHf): Promise<Latencies> {
  const id = `${engine}.subscriptions`
  const l = new Latencies()
  const errors: { count: number; first?: string } = { count: 0 }
  const durationMs = liveDurationMs(opts)
  await compare(report, { ...opts, durationMs }, [
    {
      id: `${id}.write32-16subs`,
      label: `${engine} Holdfast 32 writers, 16 subscriptions live`,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      note: '16 subscriptions, one per aggregate type (2 writers each), default batch 100',
      open: withSubscriptions(open, l, errors),
    },
    {
      id: `${id}.write32-nosubs`,
      label: `${engine} Holdfast 32 writers, no subscription`,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      open: withoutSubscriptions(open),
    },
  ])
  reportLatency(report, `${id}.holdfast`, `${engine} Holdfast commit → handler, 32 writers, 16 subs,`, l, { p50: TARGET.p50Ms, p99: TARGET.p99Ms })
  if (errors.count > 0) report.fact(`${id}.holdfast subscription errors`, `${errors.count} (${errors.first ?? ''})`)
  report.ratio(`${id}.throughput-ratio`, `${engine} writers' throughput, 16 subs / none`, `${id}.write32-16subs`, `${id}.write32-nosubs`, {
    op: '>=',
    value: TARGET.throughput,
  })
  return l
}

// ---------------------------------------------------------------------------------------------------------------
// Emmett, live

const emmettType = (k: number): string => `T${k}Placed`

/**
 * Emmett's writers and consumer on the same workload: `writers` loops of appendToStream (stream `t<k>-w<w>`, event
 * type `T<k>Placed`), one consumer with 16 processors, one per event type; the latency is keyed by global position.
 */
async function emmettLive(
  report: Report,
  opts: BenchOptions,
  engine: Engine,
  setup: {
    store: EmmettEventStore
    /** Starts the consumer with one processor per event type, handing each message it handles to `onMessage`. */
    consumer: (onMessage: (k: number, message: EmmettRecordedMessage) => void) => EmmettConsumer
    writers: number
    note: string
    close: () => Promise<void>
  },
): Promise<Latencies> {
  const id = `${engine}.subscriptions.emmett`
  const l = new Latencies()
  const { store } = setup
  let warm = 0
  const warmed = new Set<number>()
  let onMessage: (k: number, message: EmmettRecordedMessage) => void = (k) => {
    if (warmed.has(k)) return
    warmed.add(k)
    warm++
  }
  // Each Emmett-PG processor adds SIGINT/SIGTERM listeners (onShutdown): 16 would warn of a leak.
  const maxListeners = process.getMaxListeners()
  process.setMaxListeners(Math.max(maxListeners, 4 * SUBSCRIPTIONS))
  // Warm-up: one event per type, written before the consumer starts (so that its first batch meets no writer) and
  // delivered to every processor before the clock starts.
  for (let k = 0; k < SUBSCRIPTIONS; k++) await store.appendToStream(`t${k}-warmup`, [{ type: emmettType(k), data: JSON_PAYLOAD }])
  const consumer = setup.consumer((k, m) => onMessage(k, m))
  let consumerError: unknown
  let stopping = false
  /** When the consumer ended by itself: Emmett stops a consumer whose processors all failed a batch. */
  let endedAt: number | undefined
  const t0 = performance.now()
  const running = consumer.start().then(
    () => void (stopping ? undefined : (endedAt = performance.now())),
    (err: unknown) => void ((consumerError = err), (endedAt = performance.now())),
  )
  try {
    const deadline = performance.now() + DRAIN_MS
    while (warm < SUBSCRIPTIONS && performance.now() < deadline && endedAt === undefined) await sleep(10)
    if (warm < SUBSCRIPTIONS) {
      const why = consumerError ? describeError(consumerError) : endedAt !== undefined ? 'it stopped itself: its batch failed' : 'timed out'
      throw new Error(`Emmett's consumer delivered ${warm} of ${SUBSCRIPTIONS} warm-up events (${why})`)
    }
    onMessage = (_k, m) => l.delivered(String(m.metadata.globalPosition), performance.now())

    // Writer w to type w mod 16, as Holdfast's; a lone writer takes the types in turn.
    let n = 0
    const m: Measurement = await runLoop({
      durationMs: liveDurationMs(opts),
      concurrency: setup.writers,
      op: async (w) => {
        const k = setup.writers >= SUBSCRIPTIONS ? typeOf(w) : n++ % SUBSCRIPTIONS
        const result = await store.appendToStream(`t${k}-w${w}`, [{ type: emmettType(k), data: JSON_PAYLOAD }])
        l.resolved(String(result.lastEventGlobalPosition))
      },
    })
    report.add(`${id}-write`, `${engine} Emmett appendToStream, ${setup.writers} writer${setup.writers > 1 ? 's' : ''}, consumer live`, m, 'writes/s', setup.note)
    await l.drained()
  } finally {
    stopping = true
    await consumer.stop().catch(() => {})
    await running
    await setup.close()
    process.setMaxListeners(maxListeners)
  }
  if (consumerError !== undefined) report.fact(`${id} consumer error`, describeError(consumerError))
  if (endedAt !== undefined) report.fact(`${id} consumer stopped by itself (a failed batch) after, s`, (endedAt - t0) / 1000)
  reportLatency(report, id, `${engine} Emmett consumer commit → handler, defaults,`, l)
  return l
}

/** Emmett's p50 over Holdfast's: how many times sooner Holdfast delivers the median event. */
function compareLatency(report: Report, engine: Engine, hf: Latencies, emmett: Latencies | null): void {
  const a = emmett?.percentile(0.5) ?? null
  const b = hf.percentile(0.5)
  report.check({
    id: `${engine}.subscriptions.p50-vs-emmett`,
    label: `${engine} Emmett p50 / Holdfast p50`,
    value: a !== null && b !== null && b > 0 ? a / b : null,
    unit: 'x',
    target: { op: '>=', value: TARGET.vsEmmett },
    ...(a === null || b === null ? { note: 'not measured' } : {}),
  })
}

async function emmettSqliteLive(report: Report, opts: BenchOptions): Promise<Latencies | null> {
  const mod = await loadEmmettSqlite()
  if (!mod) return (report.skip('sqlite.subscriptions.emmett', 'not available'), null)
  const path = tempDbPath('subs-emmett')
  const store = mod.getSQLiteEventStore({ fileName: path })
  await store.appendToStream('order-warmup', [{ type: 'OrderPlaced', data: JSON_PAYLOAD }]) // the schema, alone
  // quietly: Emmett-SQLite console.logs every failed transaction. A failure that escapes as an uncaught exception
  // (as in sqlite.ts) is counted, not fatal.
  let escaped = 0
  const onUncaught = (): void => void escaped++
  process.on('uncaughtException', onUncaught)
  try {
    return await quietly(() =>
    emmettLive(report, opts, 'sqlite', {
      store,
      consumer: (onMessage) => {
        const consumer = store.consumer()
        const types = new Map(Array.from({ length: SUBSCRIPTIONS }, (_, k) => [emmettType(k), k]))
        // One processor for all 16 types, dispatching by type: 16 processors on one consumer share its connection and
        // fail their batches with SQLITE_BUSY once a writer commits (and the appends with "cannot rollback"), and 16
        // consumers (a connection each) stop at their first batch on SQLITE_BUSY. Emmett-SQLite 0.38's generic
        // processor has no canHandle, so the filter is in eachMessage.
        consumer.processor({
          processorId: 'bench-live-all',
          eachMessage: (m) => {
            const k = types.get(m.type)
            if (k !== undefined) onMessage(k, m)
          },
        })
        return consumer
      },
      // Concurrent appends on one Emmett-SQLite store share and close one connection (see sqlite.ts): one writer.
      writers: 1,
      note: 'one writer (Emmett-SQLite fails concurrent appends on one store); one processor for the 16 types (16 fail with SQLITE_BUSY)',
      close: () => Promise.resolve(removeDb(path)),
    }),
    )
  } finally {
    process.off('uncaughtException', onUncaught)
    if (escaped > 0) report.fact('sqlite.subscriptions.emmett uncaught errors', escaped)
  }
}

async function emmettPostgresLive(report: Report, opts: BenchOptions): Promise<Latencies | null> {
  const mod = await loadEmmettPg()
  if (!mod) return (report.skip('postgres.subscriptions.emmett', 'not available'), null)
  const url = await freshDatabase(opts, 'subs_emmett')
  const pool = mod.createPool(url, CONCURRENCY)
  const store = mod.getPostgreSQLEventStore(url, { connectionOptions: { pool } })
  await store.appendToStream('order-warmup', [{ type: 'OrderPlaced', data: JSON_PAYLOAD }]) // runs the schema migration
  return emmettLive(report, opts, 'postgres', {
    store,
    consumer: (onMessage) => {
      const consumer = store.consumer()
      for (let k = 0; k < SUBSCRIPTIONS; k++) {
        consumer.reactor({ processorId: `bench-live-T${k}`, canHandle: [emmettType(k)], eachMessage: (m) => void onMessage(k, m) })
      }
      return consumer
    },
    writers: CONCURRENCY,
    note: 'pool of 32 connections shared by the writers and the consumer',
    close: async () => (await store.close(), await pool.end()),
  })
}

/** A failing peer is reported and skipped; Holdfast's figures stay. */
async function emmettOrNull(report: Report, engine: Engine, run: () => Promise<Latencies | null>): Promise<Latencies | null> {
  try {
    return await run()
  } catch (error) {
    report.skip(`${engine}.subscriptions.emmett`, `failed: ${describeError(error)}`)
    return null
  }
}

export async function sqliteSubscriptions(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await holdfastLive(report, opts, 'sqlite', openSqlite)
  compareLatency(report, 'sqlite', hf, await emmettOrNull(report, 'sqlite', () => emmettSqliteLive(report, opts)))
}

export async function postgresSubscriptions(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await holdfastLive(report, opts, 'postgres', openPostgres(opts))
  compareLatency(report, 'postgres', hf, await emmettOrNull(report, 'postgres', () => emmettPostgresLive(report, opts)))
}

// ---------------------------------------------------------------------------------------------------------------
// Catch-up over 1,000,000 stored events

/** Pages through every event with read (first: 1,000), as read-all.ts does. */
async function readAll(store: Root.Store): Promise<Measurement> {
  const t0 = performance.now()
  const { rows, pages } = await readEveryPage(store)
  const seconds = (performance.now() - t0) / 1000
  return { ops: pages, rows, errors: 0, seconds, opsPerSec: pages / seconds, rowsPerSec: rows / seconds }
}

/** A new subscription over every event, batches of 1,000, a handler that counts: until whenCaughtUp resolves. */
async function catchUp(hf: Holdfast, store: Root.Store, key: string): Promise<Measurement> {
  let rows = 0
  let batches = 0
  let errors = 0
  let firstError: string | undefined
  const t0 = performance.now()
  const sub = hf.subscribe(store, {
    key,
    batchSize: CATCH_UP_BATCH,
    handler: (events) => {
      rows += events.length
      batches++
    },
  })
  sub.on('error', (err) => {
    errors++
    firstError ??= describeError(err)
  })
  try {
    await sub.whenCaughtUp()
  } finally {
    await sub.stop()
  }
  const seconds = (performance.now() - t0) / 1000
  return { ops: batches, rows, errors, seconds, opsPerSec: batches / seconds, rowsPerSec: rows / seconds, ...(firstError ? { firstError } : {}) }
}

function sum(a: Measurement, b: Measurement): Measurement {
  const t: Measurement = {
    ops: a.ops + b.ops,
    rows: a.rows + b.rows,
    errors: a.errors + b.errors,
    seconds: a.seconds + b.seconds,
    opsPerSec: 0,
    rowsPerSec: 0,
    rounds: [...(a.rounds ?? [a.rowsPerSec]), b.rowsPerSec],
    ...((a.firstError ?? b.firstError) ? { firstError: a.firstError ?? b.firstError } : {}),
  }
  t.opsPerSec = t.ops / t.seconds
  t.rowsPerSec = t.rows / t.seconds
  return t
}

async function runCatchUp(
  report: Report,
  engine: Engine,
  store: Root.Store,
  /** The server's own settling after the load (PostgreSQL: VACUUM ANALYZE, CHECKPOINT); the kernel's is synced here. */
  checkpoint: () => Promise<void> = async () => {},
): Promise<void> {
  const hf = await loadBuilt<Holdfast>('index.js')
  const id = `${engine}.subscriptions.scale`
  const loadStart = performance.now()
  let nextReport = 250_000
  await bulkLoad(store as unknown as HfStore, SCALE_LARGE, {
    prefix: 'catchup',
    onProgress: (n) => {
      if (n < nextReport) return
      progress(`${engine} bulk load: ${n.toLocaleString('en-US')} events stored`)
      nextReport += 250_000
    },
  })
  report.fact(`${id} bulk load, events/s`, Math.round(SCALE_LARGE / ((performance.now() - loadStart) / 1000)))
  await checkpoint()
  await execFileAsync('sync')
  await sleep(500)
  // A B B A: read, subscription, subscription, read, so that drift (and a cold first pass) weighs on both alike.
  const r1 = await readAll(store)
  const s1 = await catchUp(hf, store, 'bench/catchup-1')
  const s2 = await catchUp(hf, store, 'bench/catchup-2')
  const r2 = await readAll(store)
  const label = `${SCALE_LARGE.toLocaleString('en-US')} stored, 1,000 per`
  report.add(`${id}.catchup`, `${engine} Holdfast new subscription catch-up, ${label} batch`, sum(s1, s2), 'rows/s', 'handler counts; time to whenCaughtUp')
  report.add(`${id}.read`, `${engine} Holdfast read() paging, ${label} page`, sum(r1, r2), 'rows/s')
  report.ratio(`${id}.catchup-vs-read`, `${engine} subscription catch-up / read() paging`, `${id}.catchup`, `${id}.read`, { op: '>=', value: TARGET.catchUp })
}

export async function sqliteSubscriptionsCatchUp(report: Report, _opts: BenchOptions): Promise<void> {
  const hf = await loadBuilt<Holdfast>('index.js')
  const path = tempDbPath('subs-catchup')
  const store = await hf.openStore(path)
  try {
    await runCatchUp(report, 'sqlite', store)
  } finally {
    await store.close()
    removeDb(path)
  }
}

export async function postgresSubscriptionsCatchUp(report: Report, opts: BenchOptions): Promise<void> {
  const hf = await loadBuilt<Holdfast>('index.js')
  const url = await freshDatabase(opts, 'subs_catchup')
  const store = await hf.openStore(url)
  try {
    await runCatchUp(report, 'postgres', store, () => settleAfterLoad(opts, url))
  } finally {
    await store.close()
  }
}
