// Scale: does write throughput hold with a million events stored, and does reading them all stay in bounded memory?
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { bulkLoad, singleEventWriter, type HfStore } from './holdfast.js'
import { BENCH_DIR, CONCURRENCY, MB, progress, runLoop, type BenchOptions } from './lib.js'
import type { ReadAllResult } from './read-all.js'
import type { Report } from './report.js'

export const SCALE_SMALL = 10_000
export const SCALE_LARGE = 1_000_000
const RSS_LIMIT_MB = 300
const SLOWDOWN_LIMIT = 1.3
const execFileAsync = promisify(execFile)

export async function runScale(
  report: Report,
  opts: BenchOptions,
  engine: 'sqlite' | 'postgres',
  open: () => Promise<HfStore>,
  /** What the read-all child passes to openStore: the same file or database. */
  target: string,
  /** The server's own settling after a bulk load (PostgreSQL: VACUUM ANALYZE, CHECKPOINT); the kernel's is synced here. */
  checkpoint: () => Promise<void> = async () => {},
): Promise<void> {
  // Each rate is timed after the load before it is on disk: a million-event load leaves hundreds of megabytes dirty,
  // whose writeback would otherwise compete with the timed commits' fsyncs (the 1M figure varied 1.0–1.4× with it).
  const quiesce = async (): Promise<void> => {
    await checkpoint()
    await execFileAsync('sync')
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  const id = `${engine}.scale`
  const store = await open()
  try {
    await bulkLoad(store, SCALE_SMALL, { prefix: 'pre' })
    await quiesce()
    const small = await runLoop({
      durationMs: opts.durationMs,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      op: singleEventWriter(store, 'w10k'),
    })
    report.add(`${id}.write32-at-10k`, `${engine} Holdfast 32 writers, ${SCALE_SMALL.toLocaleString('en-US')} stored`, small)

    const loadStart = performance.now()
    let stored = SCALE_SMALL + small.ops + CONCURRENCY
    let nextReport = 250_000
    await bulkLoad(store, SCALE_LARGE - stored, {
      prefix: 'bulk',
      onProgress: (n) => {
        if (stored + n < nextReport) return
        progress(`${engine} bulk load: ${(stored + n).toLocaleString('en-US')} events stored`)
        nextReport += 250_000
      },
    })
    const loadSeconds = (performance.now() - loadStart) / 1000
    report.fact(`${engine} bulk load (write() of 1,000 events), events/s`, Math.round((SCALE_LARGE - stored) / loadSeconds))
    stored = SCALE_LARGE

    await quiesce()
    const large = await runLoop({
      durationMs: opts.durationMs,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      op: singleEventWriter(store, 'w1m'),
    })
    report.add(`${id}.write32-at-1m`, `${engine} Holdfast 32 writers, ${SCALE_LARGE.toLocaleString('en-US')} stored`, large)
    report.check({
      id: `${id}.slowdown`,
      label: `${engine} write slowdown 10k → 1M stored (10k rate / 1M rate)`,
      value: large.opsPerSec > 0 ? small.opsPerSec / large.opsPerSec : null,
      unit: 'x',
      target: { op: '<=', value: SLOWDOWN_LIMIT },
    })
  } finally {
    await store.close()
  }

  // Read everything, one page of 1,000 at a time, in a child process that samples its own RSS throughout.
  const r = await readAllInChild(target)
  report.add(`${id}.read-all`, `${engine} Holdfast read all ${r.rows.toLocaleString('en-US')} in pages of 1,000`, {
    ops: r.pages,
    rows: r.rows,
    errors: 0,
    seconds: r.seconds,
    opsPerSec: r.pages / r.seconds,
    rowsPerSec: r.rows / r.seconds,
  }, 'rows/s', 'in a child process')
  report.fact(`${engine} read-all child RSS after opening the store, MB`, r.startRss / MB)
  report.check({
    id: `${id}.peak-rss`,
    label: `${engine} peak RSS while reading ${r.rows.toLocaleString('en-US')} events`,
    value: r.peakRss / MB,
    unit: 'MB',
    target: { op: '<=', value: RSS_LIMIT_MB },
  })
}

/** Runs bench/read-all.ts under the same Node flags (tsx's loader) and parses its result line. */
async function readAllInChild(target: string): Promise<ReadAllResult> {
  const script = join(BENCH_DIR, 'read-all.ts')
  const { stdout } = await execFileAsync(process.execPath, [...process.execArgv, script, target], { maxBuffer: 1 << 20 })
  const line = stdout.trim().split('\n').pop() ?? ''
  return JSON.parse(line) as ReadAllResult
}
