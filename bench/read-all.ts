// Child process of the scale group: reads every event of a store in pages of 1,000 and reports its own RSS, so that
// the figure is Holdfast's memory, not what earlier workloads left in the bench process.
// usage: tsx bench/read-all.ts <store target>   → prints one JSON line: { rows, pages, seconds, startRss, peakRss }
import { loadHoldfast } from './holdfast.js'
import { PAGE_SIZE, RssSampler } from './lib.js'

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
await store.close()
const result: ReadAllResult = { rows, pages, seconds, startRss: sampler.start, peakRss: sampler.peak }
process.stdout.write(JSON.stringify(result) + '\n')
