// Child process of the scale group: reads every event of a store in pages of 1,000 and reports its own RSS, so that
// the figure is Holdfast's memory, not what earlier workloads left in the bench process.
// usage: tsx bench/read-all.ts <store target>   → prints one JSON line: { rows, pages, seconds, startRss, peakRss }
import { loadHoldfast, readEveryPage } from './holdfast.js'
import { RssSampler } from './lib.js'

export interface ReadAllResult {
  rows: number
  pages: number
  seconds: number
  startRss: number
  peakRss: number
}

const target = process.argv[2]
if (!target) throw new Error('usage: tsx bench/read-all.ts <store target>')
const store = await (await loadHoldfast())(target)
const sampler = new RssSampler()
const t0 = performance.now()
const { rows, pages } = await readEveryPage(store, () => sampler.sample())
const seconds = (performance.now() - t0) / 1000
sampler.stop()
await store.close()
const result: ReadAllResult = { rows, pages, seconds, startRss: sampler.start, peakRss: sampler.peak }
process.stdout.write(JSON.stringify(result) + '\n')
