// Package registry: `reload` of 10,000 stored packages of 4 KiB (list with archives, hash each, call `load`, resolve
// 500 routes) on SQLite and PostgreSQL, beside `listPackages` alone. Target: under 1 s on SQLite.
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type * as Root from '../src/index.js'
import { loadBuilt, TMP_DIR, type BenchOptions } from './lib.js'
import { freshDatabase } from './postgres.js'
import type { Report } from './report.js'

const COUNT = 10_000
const TYPES = 500
const ARCHIVE_BYTES = 4096
const REPEATS = 5

type Store = Root.Store

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** 10,000 distinct archives under their real content hashes, the last of each type routed; 16 writers at a time. */
async function seed(store: Store): Promise<void> {
  let next = 0
  const writer = async (): Promise<void> => {
    for (let i = next++; i < COUNT; i = next++) {
      const archive = new Uint8Array(ARCHIVE_BYTES).fill(i % 251)
      new DataView(archive.buffer).setUint32(0, i)
      const contentHash = `sha256:${createHash('sha256').update(archive).digest('hex')}`
      await store.packages.putPackage({ workflowType: `wf-${i % TYPES}`, contentHash, archive, deployedAt: 1_700_000_000_000 + i })
    }
  }
  await Promise.all(Array.from({ length: 16 }, writer))
}

async function measure(report: Report, engine: 'sqlite' | 'postgres', open: () => Promise<Store>): Promise<void> {
  const { PackageRegistry } = await loadBuilt<typeof Root>('index.js')
  const store = await open()
  try {
    const registry = new PackageRegistry(store)
    const reloads: number[] = []
    const lists: number[] = []
    for (let i = 0; i < REPEATS; i++) {
      let t0 = performance.now()
      let loaded = 0
      const r = await registry.reload(() => void loaded++)
      reloads.push(performance.now() - t0)
      if (r.loaded.length !== COUNT || loaded !== COUNT || r.skipped.length > 0 || r.routes.length !== TYPES || r.routes.some((x) => !x.package))
        throw new Error(`reload: ${r.loaded.length} loaded, ${r.skipped.length} skipped, ${r.routes.length} routes`)
      t0 = performance.now()
      if ((await store.packages.listPackages()).length !== COUNT) throw new Error('listPackages lost packages')
      lists.push(performance.now() - t0)
    }
    report.fact(`${engine} registry reload of 10,000 packages of 4 KiB, median ms`, median(reloads))
    report.fact(`${engine} listPackages() with archives of the same, median ms`, median(lists))
    report.check({
      id: `${engine}.registry.reload-ms`,
      label: `${engine} registry reload of 10,000 packages of 4 KiB (median)`,
      value: median(reloads),
      unit: 'ms',
      ...(engine === 'sqlite' ? { target: { op: '<=' as const, value: 1000 } } : {}),
    })
  } finally {
    await store.close()
  }
}

export async function sqliteRegistry(report: Report, _opts: BenchOptions): Promise<void> {
  const { openStore } = await loadBuilt<typeof Root>('index.js')
  mkdirSync(TMP_DIR, { recursive: true })
  const file = join(TMP_DIR, `registry-${Date.now()}.db`)
  // Seeding is not measured: without an fsync per deploy.
  const seeding = await openStore({ url: file, synchronous: 'normal' })
  await seed(seeding)
  await seeding.close()
  await measure(report, 'sqlite', () => openStore(file))
}

export async function postgresRegistry(report: Report, opts: BenchOptions): Promise<void> {
  const { openStore } = await loadBuilt<typeof Root>('index.js')
  const url = await freshDatabase(opts, 'registry')
  const seeding = await openStore(url)
  await seed(seeding)
  await seeding.close()
  await measure(report, 'postgres', () => openStore(url))
}
