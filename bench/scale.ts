// Scale: does write throughput hold with a million events stored, and does reading them all stay in bounded memory?
import { bulkLoad, singleEventWriter, type HfStore } from './holdfast.js'
import { CONCURRENCY, MB, PAGE_SIZE, progress, RssSampler, runLoop, type BenchOptions } from './lib.js'
import type { Report } from './report.js'

export const SCALE_SMALL = 10_000
export const SCALE_LARGE = 1_000_000
const RSS_LIMIT_MB = 300
const SLOWDOWN_LIMIT = 1.3

export async function runScale(
  report: Report,
  opts: BenchOptions,
  engine: 'sqlite' | 'postgres',
  open: () => Promise<HfStore>,
): Promise<void> {
  const id = `${engine}.scale`
  const store = await open()
  try {
    await bulkLoad(store, SCALE_SMALL, { prefix: 'pre' })
    const small = await runLoop({
      durationMs: opts.durationMs,
      concurrency: CONCURRENCY,
      warmupOps: 1,
      op: singleEventWriter(store, 'w10k'),
    })
    report.add(`${id}.write32-at-10k`, `${engine} Holdfast 32 writers, ${SCALE_SMALL.toLocaleString('en-US')} stored`, small)

    const loadStart = performance.now()
    let stored = SCALE_SMALL + small.ops + CONCURRENCY
    await bulkLoad(store, SCALE_LARGE - stored, {
      prefix: 'bulk',
      onProgress: (n) => {
        if (n % 200_000 < 1000) progress(`${engine} bulk load ${(stored + n).toLocaleString('en-US')} events`)
      },
    })
    const loadSeconds = (performance.now() - loadStart) / 1000
    report.fact(`${engine} bulk load (write() of 1,000 events), events/s`, Math.round((SCALE_LARGE - stored) / loadSeconds))
    stored = SCALE_LARGE

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

    // Read everything, one page of 1,000 at a time, sampling RSS throughout.
    const sampler = new RssSampler()
    let rows = 0
    let pages = 0
    let after: string | undefined
    const t0 = performance.now()
    for (;;) {
      const page = await store.events.read(null, null, after === undefined ? { first: PAGE_SIZE } : { first: PAGE_SIZE, after })
      rows += page.edges.length
      pages++
      sampler.sample()
      if (!page.pageInfo.hasNextPage || page.pageInfo.endCursor === null) break
      after = page.pageInfo.endCursor
    }
    const seconds = (performance.now() - t0) / 1000
    sampler.stop()
    report.add(`${id}.read-all`, `${engine} Holdfast read all ${rows.toLocaleString('en-US')} in pages of 1,000`, {
      ops: pages,
      rows,
      errors: 0,
      seconds,
      opsPerSec: pages / seconds,
      rowsPerSec: rows / seconds,
    }, 'rows/s')
    report.fact(`${engine} RSS before reading 1M, MB`, sampler.start / MB)
    report.check({
      id: `${id}.peak-rss`,
      label: `${engine} peak RSS while reading ${rows.toLocaleString('en-US')} events`,
      value: sampler.peak / MB,
      unit: 'MB',
      target: { op: '<=', value: RSS_LIMIT_MB },
    })
  } finally {
    await store.close()
  }
}
