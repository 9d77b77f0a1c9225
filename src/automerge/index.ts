/**
 * `holdfast/automerge`: a persistent `@automerge/automerge` document on a Holdfast store (needs the optional peer
 * dependency `@automerge/automerge`), and automerge-repo's storage adapter on one (its types need
 * `@automerge/automerge-repo`).
 * @packageDocumentation
 */
export { PersistentDoc, type PersistentDocOptions } from './persistent-doc.js'
export { HoldfastStorageAdapter, type HoldfastStorageAdapterOptions } from './storage-adapter.js'
export type { ChunkKey, ChunkStore, StoredChunk } from './chunk-store.js'
export type { ActorId, AutomergePersister, ChangeAddress, ChangeEntry, StoredSizes } from './types.js'
