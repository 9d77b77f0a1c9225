// Holdfast as the bench sees it: the few calls it makes, declared structurally so that the bench does not break
// when the library's internal types move. Loaded from the build (see target.ts).
import { loadBuilt, PAGE_SIZE, rawRow, type RawRow } from './lib.js'

export interface HfNewEvent {
  id: string
  aggregatorType: string
  aggregatorId: string
  version: number
  name: string
  routingKey?: string | null
  data: Uint8Array
  metadata?: Uint8Array
}
interface HfPage {
  edges: { cursor: string; node: unknown }[]
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null }
}
export interface HfStore {
  events: {
    write(events: HfNewEvent[]): Promise<void>
    read(
      aggregators?: { aggregatorType: string; aggregatorId?: string; name?: string }[] | null,
      routingKey?: { all: true } | { value: string | null } | null,
      args?: { first?: number; after?: string; last?: number; before?: string },
    ): Promise<HfPage>
  }
  checkpoints: {
    saveWithTrace(traceId: string, checkpoint: HfCheckpoint): Promise<void>
    load(id: string): Promise<HfStoredCheckpoint | null>
    loadLatest(traceId: string): Promise<HfStoredCheckpoint | null>
    list(traceId: string): Promise<string[]>
  }
  close(): Promise<void>
}
export interface HfCheckpoint {
  id: string
  state: unknown
  metadata?: Record<string, unknown>
  parentId?: string | null
}
export interface HfStoredCheckpoint extends HfCheckpoint {
  createdAt: number
}
type OpenStore = (target: string | { url: string; schema?: string; synchronous?: 'full' | 'normal' }) => Promise<HfStore>

let cached: OpenStore | undefined
export async function loadHoldfast(): Promise<OpenStore> {
  if (cached) return cached
  // The root entry alone (not ./target.js, which loads the Automerge and LangGraph entries too): the scale group's
  // read-all child measures its own RSS.
  const mod = await loadBuilt<{ openStore?: unknown }>('index.js')
  if (typeof mod.openStore !== 'function') throw new Error('the build does not export openStore')
  cached = mod.openStore as OpenStore
  return cached
}

export function toNewEvent(row: RawRow): HfNewEvent {
  return {
    id: row.id,
    aggregatorType: row.aggregatorType,
    aggregatorId: row.aggregatorId,
    version: row.version,
    name: row.name,
    routingKey: row.routingKey,
    data: row.data,
    metadata: row.metadata,
  }
}

/** One single-event writer per aggregate: each call writes the next version of `aggregatorId`. */
export function singleEventWriter(store: HfStore, prefix: string): (worker: number) => Promise<void> {
  const versions = new Map<number, number>()
  return async (worker) => {
    const version = (versions.get(worker) ?? 0) + 1
    versions.set(worker, version)
    await store.events.write([toNewEvent(rawRow(`${prefix}-${worker}`, version))])
  }
}

/**
 * Bulk-loads `total` events in writes of `batch` events spread over `perBatchAggregates` new aggregates, plus the
 * listed big aggregates (each `bigSize` events, written in batches of `batch`).
 */
export async function bulkLoad(
  store: HfStore,
  total: number,
  opts: { batch?: number; perBatchAggregates?: number; prefix?: string; onProgress?: (written: number) => void } = {},
): Promise<void> {
  const batch = opts.batch ?? 1000
  const perBatch = opts.perBatchAggregates ?? 50
  const prefix = opts.prefix ?? 'bulk'
  let written = 0
  let batchNo = 0
  while (written < total) {
    const n = Math.min(batch, total - written)
    const events: HfNewEvent[] = []
    const each = Math.ceil(n / perBatch)
    for (let a = 0; events.length < n; a++) {
      for (let v = 1; v <= each && events.length < n; v++) events.push(toNewEvent(rawRow(`${prefix}-${batchNo}-${a}`, v)))
    }
    await store.events.write(events)
    written += n
    batchNo++
    opts.onProgress?.(written)
  }
}

/** Writes one aggregate of `size` events in batches of 1,000. */
export async function writeBigAggregate(store: HfStore, aggregatorId: string, size: number): Promise<void> {
  for (let v = 1; v <= size; v += 1000) {
    const events: HfNewEvent[] = []
    for (let i = v; i < Math.min(v + 1000, size + 1); i++) events.push(toNewEvent(rawRow(aggregatorId, i)))
    await store.events.write(events)
  }
}

/** A page reader that cycles through all matching events forever, one page of 1,000 per call. */
export function pageReader(
  store: HfStore,
  aggregators: { aggregatorType: string; aggregatorId?: string }[] | null,
): () => Promise<number> {
  let after: string | undefined
  return async () => {
    const page = await store.events.read(aggregators, null, after === undefined ? { first: PAGE_SIZE } : { first: PAGE_SIZE, after })
    after = page.pageInfo.hasNextPage ? (page.pageInfo.endCursor ?? undefined) : undefined
    return page.edges.length
  }
}

/** Pages through every event in position order, `PAGE_SIZE` at a time, calling `each` after every page. */
export async function readEveryPage(store: Pick<HfStore, 'events'>, each?: () => void): Promise<{ rows: number; pages: number }> {
  let rows = 0
  let pages = 0
  let after: string | undefined
  for (;;) {
    const page = await store.events.read(null, null, after === undefined ? { first: PAGE_SIZE } : { first: PAGE_SIZE, after })
    rows += page.edges.length
    pages++
    each?.()
    if (!page.pageInfo.hasNextPage || page.pageInfo.endCursor === null) return { rows, pages }
    after = page.pageInfo.endCursor
  }
}
