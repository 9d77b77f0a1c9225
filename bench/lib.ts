// Shared helpers for the benchmark: timing, event generation, temp files, memory sampling.
import { mkdirSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { perRow, type Report, type Unit } from './report.js'

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url))
export const ROOT_DIR = dirname(BENCH_DIR)
/** Temp files live on the project's disk (git-ignored `.tmp/`), never on a tmpfs where fsync is free. */
export const TMP_DIR = join(ROOT_DIR, '.tmp', 'bench')

/**
 * An entry of the built package (`npm run bench` builds it first), as users run it: tsx would run src/ with
 * esbuild's keepNames, which wraps every function it names in a call that sets the name, up to 2x in closure-heavy
 * code, a cost no user of the package pays. `entry` is relative to dist/, e.g. `index.js`.
 */
export async function loadBuilt<T>(entry: string): Promise<T> {
  const path = join(ROOT_DIR, 'dist', entry)
  try {
    return (await import(pathToFileURL(path).href)) as T
  } catch (error) {
    throw new Error(`the bench runs the built package: npm run build (${path}: ${String(error)})`)
  }
}

export const PAYLOAD_BYTES = 120
export const PAGE_SIZE = 1000
export const CONCURRENCY = 32

/** Options every workload reads; `durationMs` bounds each timed loop. */
export interface BenchOptions {
  durationMs: number
  /** Contenders of one comparison take turns this many times, so that drift on a shared VM hits all of them. */
  rounds: number
  readMinPages: number
  pgUrl: string
}

export interface Measurement {
  /** Operations (writes or pages) that succeeded inside the timed window. */
  ops: number
  /** Rows moved by those operations (events written or read). */
  rows: number
  errors: number
  seconds: number
  opsPerSec: number
  rowsPerSec: number
  firstError?: string
  /** The figure of each round, when measured in rounds (shows how much the machine drifted). */
  rounds?: number[]
}

// ---------------------------------------------------------------------------------------------------------------
// Ids and payloads

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
let ulidCounter = 0
/** A ULID-shaped id (time + process-unique counter); unique within this process, sorts by creation. */
export function ulid(): string {
  let t = Date.now()
  let time = ''
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time
    t = Math.floor(t / 32)
  }
  let n = ulidCounter++
  let rest = ''
  for (let i = 0; i < 16; i++) {
    rest = CROCKFORD[n % 32] + rest
    n = Math.floor(n / 32)
  }
  return time + rest
}

const PAYLOAD = new TextEncoder().encode(
  JSON.stringify({ sku: 'SKU-000123', quantity: 3, price: 1999, note: 'x'.repeat(PAYLOAD_BYTES) }).slice(0, PAYLOAD_BYTES),
)
/** A fresh ~120-byte payload (copied so that no library can rely on identity). */
export function payload(): Uint8Array {
  return PAYLOAD.slice()
}
export const EMPTY = new Uint8Array(0)
/** The same payload as a JSON object, for peers whose events carry JSON. */
export const JSON_PAYLOAD = { sku: 'SKU-000123', quantity: 3, price: 1999, note: 'x'.repeat(PAYLOAD_BYTES - 54) }

/** The raw tables' row, in the shape every write workload uses. */
export interface RawRow {
  id: string
  aggregatorType: string
  aggregatorId: string
  version: number
  name: string
  routingKey: string | null
  data: Uint8Array
  metadata: Uint8Array
  timestamp: number
}
export function rawRow(aggregatorId: string, version: number, aggregatorType = 'bench/Order'): RawRow {
  return {
    id: ulid(),
    aggregatorType,
    aggregatorId,
    version,
    name: 'OrderPlaced',
    routingKey: null,
    data: payload(),
    metadata: EMPTY,
    timestamp: Date.now(),
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Timing

export interface LoopSpec {
  durationMs: number
  /** Stop after this many successful ops, whichever comes first. */
  maxOps?: number
  /** Keep going past the deadline until this many ops succeeded (reads: 50+ executions for PostgreSQL's plans). */
  minOps?: number
  concurrency?: number
  /** Untimed ops per worker before the clock starts (prepares statements, warms caches, migrates schemas). */
  warmupOps?: number
  /** One operation of worker `w`; returns the number of rows it moved (default 1). */
  op: (worker: number) => Promise<number | void> | number | void
}

/**
 * Runs `op` in `concurrency` async loops until the duration or op budget is spent. Errors are counted, not thrown,
 * so a peer that fails under concurrency reports its failures instead of ending the run.
 */
export async function runLoop(spec: LoopSpec): Promise<Measurement> {
  const concurrency = spec.concurrency ?? 1
  const maxOps = spec.maxOps ?? Number.POSITIVE_INFINITY
  const minOps = spec.minOps ?? 0
  for (let w = 0; w < concurrency; w++) {
    for (let i = 0; i < (spec.warmupOps ?? 0); i++) await spec.op(w)
  }
  let ops = 0
  let rows = 0
  let errors = 0
  let firstError: string | undefined
  const start = performance.now()
  const deadline = start + spec.durationMs
  const worker = async (w: number): Promise<void> => {
    while (ops < maxOps && (performance.now() < deadline || ops + errors < minOps)) {
      try {
        const moved = await spec.op(w)
        ops++
        rows += typeof moved === 'number' ? moved : 1
      } catch (error) {
        errors++
        firstError ??= describeError(error)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)))
  const seconds = (performance.now() - start) / 1000
  return { ops, rows, errors, seconds, opsPerSec: ops / seconds, rowsPerSec: rows / seconds, firstError }
}

/** One side of a comparison: opened once, measured in alternating rounds, closed at the end. */
export interface Contender {
  id: string
  label: string
  unit?: Unit
  note?: string
  concurrency?: number
  warmupOps?: number
  /** Returns the operation to time, or null when the contender is unavailable (its reason already printed). */
  open: () => Promise<{ op: LoopSpec['op']; close: () => Promise<void> } | null>
}

/**
 * Opens every contender, then runs them in turn for `rounds` rounds of `durationMs / rounds` each and reports the
 * totals. A contender that fails to open is skipped with its reason; the others still run.
 */
export async function compare(
  report: Report,
  opts: BenchOptions,
  contenders: Contender[],
  extra: { minOps?: number; rounds?: number } = {},
): Promise<void> {
  const rounds = extra.rounds ?? opts.rounds
  const opened: { c: Contender; op: LoopSpec['op']; close: () => Promise<void>; total: Measurement }[] = []
  try {
    for (const c of contenders) {
      try {
        const o = await c.open()
        if (o) opened.push({ c, ...o, total: { ops: 0, rows: 0, errors: 0, seconds: 0, opsPerSec: 0, rowsPerSec: 0 } })
        else report.skip(c.id, 'not available')
      } catch (error) {
        report.skip(c.id, `failed to open: ${describeError(error)}`)
      }
    }
    for (let r = 0; r < rounds; r++) {
      for (const o of opened) {
        const m = await runLoop({
          durationMs: opts.durationMs / rounds,
          minOps: Math.ceil((extra.minOps ?? 0) / rounds),
          concurrency: o.c.concurrency ?? 1,
          warmupOps: r === 0 ? (o.c.warmupOps ?? 0) : 0,
          op: o.op,
        })
        const t = o.total
        ;(t.rounds ??= []).push(perRow(o.c.unit) ? m.rowsPerSec : m.opsPerSec)
        t.ops += m.ops
        t.rows += m.rows
        t.errors += m.errors
        t.seconds += m.seconds
        t.firstError ??= m.firstError
      }
    }
    for (const { c, total: t } of opened) {
      t.opsPerSec = t.ops / t.seconds
      t.rowsPerSec = t.rows / t.seconds
      report.add(c.id, c.label, t, c.unit ?? 'writes/s', c.note)
    }
  } finally {
    for (const o of opened) await o.close().catch((error: unknown) => report.skip(`${o.c.id} close`, describeError(error)))
  }
}

/** Retries `fn` a few times (for peers' transient failures while loading data, not while measuring). */
export async function retry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (error) {
      if (i >= attempts) throw error
      await new Promise((resolve) => setTimeout(resolve, 10 * i))
    }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return `${error.name}${typeof code === 'string' ? ` [${code}]` : ''}: ${error.message}`.slice(0, 300)
  }
  return String(error).slice(0, 300)
}

// ---------------------------------------------------------------------------------------------------------------
// Files and memory

let tmpCounter = 0
/** A fresh path for one SQLite file under `.tmp/bench/`, with any leftovers from an earlier run removed. */
export function tempDbPath(name: string): string {
  mkdirSync(TMP_DIR, { recursive: true })
  const path = join(TMP_DIR, `${process.pid}-${tmpCounter++}-${name}.db`)
  removeDb(path)
  return path
}
export function removeDb(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true })
}

/** Samples the process RSS on a timer and on demand; `peak` is the largest value seen. */
export class RssSampler {
  peak = process.memoryUsage().rss
  readonly start = this.peak
  private readonly timer: NodeJS.Timeout
  constructor(intervalMs = 25) {
    this.timer = setInterval(() => this.sample(), intervalMs)
  }
  sample(): void {
    const rss = process.memoryUsage().rss
    if (rss > this.peak) this.peak = rss
  }
  stop(): void {
    clearInterval(this.timer)
    this.sample()
  }
}

export const MB = 1024 * 1024

/** Runs `fn` with console.log silenced (Emmett-SQLite logs every failed transaction). */
export async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log
  console.log = () => {}
  try {
    return await fn()
  } finally {
    console.log = log
  }
}

export function progress(message: string): void {
  process.stderr.write(`  … ${message}\n`)
}
