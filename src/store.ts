import type { ChunkStore } from './automerge/chunk-store.js'
import type { AutomergePersister } from './automerge/types.js'
import type { ThreadStore } from './checkpoints/thread-types.js'
import type { CheckpointStore } from './checkpoints/types.js'
import type { EventStore } from './events/types.js'
import type { PackageStore } from './packages/types.js'
import type { PoisonStore } from './poison/types.js'

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
   * Binary chunks under string-array keys with prefix reads: what automerge-repo stores (`HoldfastStorageAdapter` in
   * `holdfast/automerge` wraps it). Stores of different namespaces (default `''`) never see each other's chunks.
   */
  chunks(namespace?: string): ChunkStore
  /** Waits for pending writes, releases connections; idempotent. Every call afterwards rejects with `STORE_CLOSED`. */
  close(): Promise<void>
}
