/**
 * Holdfast: durable state for TypeScript engines. Start with {@link openStore}.
 * @packageDocumentation
 */
export { openStore, type OpenStoreOptions } from './open-store.js'
export type { Backend, Store } from './store.js'
export type { CommitKind, CommitMetrics, HistogramSnapshot, StoreMetrics } from './store-metrics.js'
export type { StoreDiagnostics } from './diagnostics.js'
export type { PGliteLike } from './sql/pglite.js'
export * from './errors.js'
export type { Args, Edge, Event, EventStore, NewEvent, PageInfo, ReadAggregator, ReadResult, RoutingKey, Snapshot, SubscriberInfo } from './events/types.js'
export { encodeCursor, decodeCursor } from './events/cursor.js'
export type { PoisonAuditRecord, PoisonRecord, PoisonStore } from './poison/types.js'
export { withPoison } from './poison/guard.js'
export type { ListPackagesOptions, PackageMetadata, PackageRecord, PackageRouteRecord, PackageStore, PackageWriteOptions } from './packages/types.js'
export type { Checkpoint, CheckpointSerializer, CheckpointStore, StoredCheckpoint, TraceSummary } from './checkpoints/types.js'
export type {
  ChannelValue,
  ChannelVersion,
  ThreadAddress,
  ThreadCheckpointInput,
  ThreadEntry,
  ThreadQuery,
  ThreadStore,
  ThreadWrite,
  TypedValue,
} from './checkpoints/thread-types.js'
export { jsonSerializer, richSerializer } from './checkpoints/serializer.js'
export type { ChunkKey, ChunkStore, StoredChunk } from './automerge/chunk-store.js'
export type { ActorId, AutomergePersister, ChangeAddress, ChangeEntry, StoredSizes } from './automerge/types.js'
export * from './runtime/index.js'
