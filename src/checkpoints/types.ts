/** One checkpoint of a trace (one run of a graph or agent). */
export interface Checkpoint<S = unknown> {
  /** Unique across the store, chosen by the caller (e.g. a ULID). */
  id: string
  /** The state, serialised by the store (JSON by default; see {@link CheckpointSerializer}). */
  state: S
  /** Free-form metadata, stored as JSON; `{}` on load when none was saved. */
  metadata?: Record<string, unknown>
  /** The checkpoint this one continues from, if any. */
  parentId?: string | null
  /** Set by the store when absent (ms since epoch). */
  createdAt?: number
}

/** A checkpoint as loaded: every field present. */
export interface StoredCheckpoint<S = unknown> extends Checkpoint<S> {
  metadata: Record<string, unknown>
  parentId: string | null
  createdAt: number
}

/** Turns states into bytes and back; chosen when the store opens (`openStore({ checkpointSerializer })`). */
export interface CheckpointSerializer {
  /** The bytes to store for `state`. */
  serialize(state: unknown): Uint8Array
  /** The state stored as `bytes`. */
  deserialize(bytes: Uint8Array): unknown
}

/** A trace in {@link CheckpointStore.listTraces}. */
export interface TraceSummary {
  /** The trace. */
  traceId: string
  /** How many checkpoints it has. */
  count: number
  /** The newest `createdAt` among them. */
  latestAt: number
}

/**
 * The checkpoint store contract (`spec/checkpoints.md`): checkpoints per trace, ordered by first save (a per-trace
 * sequence the store assigns), never by clock or id.
 */
export interface CheckpointStore {
  /** Saves under `traceId`; re-saving an id of the same trace replaces it in place; another trace's id is refused. */
  saveWithTrace(traceId: string, checkpoint: Checkpoint): Promise<void>
  /** One checkpoint, or `null`. */
  load(id: string): Promise<StoredCheckpoint | null>
  /** The last checkpoint in the trace's order, or `null`. */
  loadLatest(traceId: string): Promise<StoredCheckpoint | null>
  /** The trace's checkpoint ids, oldest first. */
  list(traceId: string): Promise<string[]>
  /** Deletes one checkpoint; true if it existed. */
  delete(id: string): Promise<boolean>
  /** Deletes all but the newest `keep` of the trace; returns how many it deleted. */
  prune(traceId: string, keep: number): Promise<number>
  /** Traces in `traceId` text order, paged by the last `traceId` seen. */
  listTraces(args?: { limit?: number; after?: string }): Promise<TraceSummary[]>
}
