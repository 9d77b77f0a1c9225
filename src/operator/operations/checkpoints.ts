import { NotFoundError } from '../../errors.js'
import type { TraceSummary } from '../../checkpoints/types.js'
import type { Store } from '../../store.js'
import { assertInteger, assertKey, assertText, readFields } from '../../validate.js'
import { toJson, type JsonValue } from './values.js'

/** A page of traces; `nextAfter` for the next page, `null` at the end. */
export interface TracePage {
  traces: TraceSummary[]
  nextAfter: string | null
}

/** `checkpoints traces`: traces in id order, paged (`limit` 1..10,000, default 100). */
export async function listTraces(store: Store, input: { after?: string; limit?: number } = {}): Promise<TracePage> {
  const i = readFields('input', input, ['after', 'limit'] as const)
  const limit = (i.limit as number | undefined) ?? 100
  const traces = await store.checkpoints.listTraces({ limit, ...(i.after === undefined ? {} : { after: i.after as string }) })
  return { traces, nextAfter: traces.length === limit ? traces.at(-1)!.traceId : null }
}

/** One checkpoint of a timeline, without its state. */
export interface TimelineEntry {
  id: string
  parentId: string | null
  createdAt: number
  metadata: JsonValue
}

/** A trace's timeline, oldest first; `total` checkpoints in all, `offset` where this page starts. */
export interface Timeline {
  traceId: string
  total: number
  offset: number
  checkpoints: TimelineEntry[]
}

/** `checkpoints ls TRACE`: a trace's checkpoints in save order, `limit` (default 100, at most 1,000) from `offset`. */
export async function traceTimeline(store: Store, traceId: string, input: { offset?: number; limit?: number } = {}): Promise<Timeline> {
  assertKey('traceId', traceId)
  const i = readFields('input', input, ['offset', 'limit'] as const)
  const offset = (i.offset as number | undefined) ?? 0
  const limit = (i.limit as number | undefined) ?? 100
  assertInteger('offset', offset, 0)
  assertInteger('limit', limit, 1, 1000)
  const ids = await store.checkpoints.list(traceId)
  const page = ids.slice(offset, offset + limit)
  const loaded = await Promise.all(page.map((id) => store.checkpoints.load(id)))
  const checkpoints = loaded.flatMap((c) => (c ? [{ id: c.id, parentId: c.parentId, createdAt: c.createdAt, metadata: toJson(c.metadata) }] : []))
  return { traceId, total: ids.length, offset, checkpoints }
}

/** One checkpoint with its state as the store's serializer restores it (shown as {@link toJson} writes it). */
export interface CheckpointView extends TimelineEntry {
  state: JsonValue
}

/** `checkpoints show ID`; `NOT_FOUND` for an unknown id. */
export async function showCheckpoint(store: Store, id: string): Promise<CheckpointView> {
  assertKey('id', id)
  const c = await store.checkpoints.load(id)
  if (!c) throw new NotFoundError(`checkpoint ${JSON.stringify(id)} does not exist`)
  return { id: c.id, parentId: c.parentId, createdAt: c.createdAt, metadata: toJson(c.metadata), state: toJson(c.state) }
}

/** What a prune removed. */
export interface PruneResult {
  /** Traces looked at. */
  traces: number
  /** Checkpoints deleted. */
  deleted: number
}

/** `checkpoints prune TRACE --keep N`: keeps the newest `keep` of one trace. */
export async function pruneTrace(store: Store, traceId: string, keep: number): Promise<PruneResult> {
  assertKey('traceId', traceId)
  return { traces: 1, deleted: await store.checkpoints.prune(traceId, keep) }
}

/**
 * `checkpoints prune --all --keep N [--prefix P]`: every trace (whose id starts with `prefix`), page by page.
 * @param onProgress - told of the traces done so far, after each
 */
export async function pruneTraces(store: Store, keep: number, prefix = '', onProgress?: (done: number) => void): Promise<PruneResult> {
  assertInteger('keep', keep, 0)
  assertText('prefix', prefix, 1024)
  let after: string | undefined
  const result: PruneResult = { traces: 0, deleted: 0 }
  for (;;) {
    const page = await store.checkpoints.listTraces({ limit: 1000, ...(after ? { after } : {}) })
    for (const t of page) {
      if (!t.traceId.startsWith(prefix) || t.count <= keep) continue
      result.deleted += await store.checkpoints.prune(t.traceId, keep)
      result.traces++
      onProgress?.(result.traces)
    }
    if (page.length < 1000) return result
    after = page.at(-1)!.traceId
  }
}
