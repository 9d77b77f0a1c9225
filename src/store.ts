import type { StoreDiagnostics } from './diagnostics.js'
import type { ChunkStore } from './automerge/chunk-store.js'
import type { AutomergePersister } from './automerge/types.js'
import type { ThreadStore } from './checkpoints/thread-types.js'
import type { CheckpointStore } from './checkpoints/types.js'
import type { EventStore } from './events/types.js'
import type { PackageStore } from './packages/types.js'
import type { PoisonStore } from './poison/types.js'
import type { StoreMetrics } from './store-metrics.js'

/** Which engine a store runs on. */
export type Backend = 'sqlite' | 'postgres' | 'memory'

/** An open Holdfast store: the contracts on one database. */
export interface Store {
  /** The engine behind this store. */
  readonly backend: Backend
  /** The event store (`spec/events.md`). */
  readonly events: EventStore
  /** The package store (`spec/packages.md`). */
  readonly packages: PackageStore
  /** The checkpoint store (`spec/checkpoints.md`). */
  readonly checkpoints: CheckpointStore
  /** Threads in LangGraph's shape on the checkpoint store: shared channel values and pending writes (`holdfast/langgraph`). */
  readonly threads: ThreadStore
  /** The poison store (`spec/poison.md`). */
  readonly poison: PoisonStore
  /**
   * The Automerge persister of one document (`spec/automerge.md`); a store holds any number of documents. Throws
   * `INVALID_ARGUMENT` for a bad id (a key: 1 to 1,024 bytes of UTF-8) and `STORE_CLOSED` after {@link Store.close}.
   */
  automerge(documentId: string): AutomergePersister
  /**
   * Ids of the Automerge documents with anything stored (changes, a compacted document or a sync state), in text
   * order, paged by the last id seen: `after` (exclusive), `limit` 1 to 10,000 (default 100). For operators; open
   * one with {@link Store.automerge} to read its `sizes()` and peers.
   */
  automergeDocuments(args?: { after?: string; limit?: number }): Promise<string[]>
  /**
   * Binary chunks under string-array keys with prefix reads: what automerge-repo stores (`HoldfastStorageAdapter` in
   * `holdfast/automerge` wraps it). Stores of different namespaces (default `''`) never see each other's chunks.
   */
  chunks(namespace?: string): ChunkStore
  /**
   * The database's health for operators (`holdfast doctor`): schema version (and the one found at open), the engine's
   * integrity check, SQLite's write-ahead log size, the database size. Reads only.
   */
  diagnose(): Promise<StoreDiagnostics>
  /**
   * This store's figures since it was opened, in this process: events appended, reads and their latency, checkpoints
   * saved, group-commit batch sizes and commit latency per store (`StoreMetrics`). Plain counters, kept always (a few
   * ns a write); each call returns a copy. `holdfast`'s `createMetrics` serves them to Prometheus; call this for an
   * exporter of your own. Works after `close` too.
   */
  metrics(): StoreMetrics
  /** Waits for pending writes, releases connections; idempotent. Every call afterwards rejects with `STORE_CLOSED`. */
  close(): Promise<void>
}
