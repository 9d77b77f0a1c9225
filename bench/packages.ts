// Package store: listing 10,000 packages' metadata (no archives) on SQLite, against better-sqlite3 selecting the
// same rows from the same file. Target: under 100 ms.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { openStore } from './target.js'
import { TMP_DIR, type BenchOptions } from './lib.js'
import type { Report } from './report.js'

const COUNT = 10_000
const ARCHIVE_BYTES = 4096
const REPEATS = 30

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

async function timeIt(fn: () => Promise<number> | number): Promise<number> {
  const times: number[] = []
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now()
    const n = await fn()
    times.push(performance.now() - t0)
    if (n !== COUNT) throw new Error(`listed ${n} packages, expected ${COUNT}`)
  }
  return median(times)
}

export async function sqlitePackages(report: Report, _opts: BenchOptions): Promise<void> {
  mkdirSync(TMP_DIR, { recursive: true })
  const file = join(TMP_DIR, `packages-${Date.now()}.db`)
  const store = await openStore(file)
  const archive = new Uint8Array(ARCHIVE_BYTES).fill(1)
  await Promise.all(
    Array.from({ length: COUNT }, (_, i) =>
      store.packages.putPackage({ workflowType: `wf-${i % 500}`, contentHash: `sha256:${i.toString(16).padStart(64, '0')}`, archive, deployedAt: 1_700_000_000_000 + i }),
    ),
  )
  const holdfast = await timeIt(async () => (await store.packages.listPackages({ withArchives: false })).length)
  const raw = new Database(file, { readonly: true })
  const stmt = raw.prepare('SELECT workflow_type, content_hash, deployed_at FROM holdfast_packages ORDER BY deployed_at, workflow_type, content_hash')
  const rawMs = await timeIt(() => stmt.all().length)
  raw.close()
  await store.close()
  report.fact('sqlite listPackages({ withArchives: false }) of 10,000, median ms', holdfast)
  report.fact('sqlite raw better-sqlite3 select of the same 10,000 rows, median ms', rawMs)
  report.check({ id: 'sqlite.packages.list-ms', label: 'sqlite list 10,000 package metadata rows (median)', value: holdfast, unit: 'ms', target: { op: '<=', value: 100 } })
  report.check({ id: 'sqlite.packages.list-vs-raw', label: 'sqlite list package metadata, raw time / Holdfast time', value: rawMs / holdfast, unit: 'x' })
}
