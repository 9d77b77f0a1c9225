import type { Chunk, StorageAdapterInterface, StorageKey } from '@automerge/automerge-repo'
import type { Store } from '../store.js'
import type { ChunkStore } from './chunk-store.js'

/** Options of {@link HoldfastStorageAdapter}. */
export interface HoldfastStorageAdapterOptions {
  /** Keeps this repo's chunks apart from other repos' on the same store. Default `''`. */
  namespace?: string
}

/**
 * automerge-repo's storage on a Holdfast store (SQLite, PostgreSQL, PGlite or memory): `new Repo({ storage: new
 * HoldfastStorageAdapter(store) })`. Every save and remove is durable when it resolves; prefix reads are index
 * ranges that match whole key parts only.
 */
export class HoldfastStorageAdapter implements StorageAdapterInterface {
  readonly #chunks: ChunkStore

  /** @param store - an open store; @param options - see {@link HoldfastStorageAdapterOptions} */
  constructor(store: Store, options: HoldfastStorageAdapterOptions = {}) {
    this.#chunks = store.chunks(options.namespace)
  }

  /** The chunk under `key`, or `undefined`. */
  load(key: StorageKey): Promise<Uint8Array | undefined> {
    return this.#chunks.load(key)
  }

  /** Saves `data` under `key`. */
  save(key: StorageKey, data: Uint8Array): Promise<void> {
    return this.#chunks.save(key, data)
  }

  /** Removes the chunk under `key`. */
  remove(key: StorageKey): Promise<void> {
    return this.#chunks.remove(key)
  }

  /** Every chunk whose key starts with `keyPrefix`. */
  async loadRange(keyPrefix: StorageKey): Promise<Chunk[]> {
    return this.#chunks.loadRange(keyPrefix)
  }

  /** Removes every chunk whose key starts with `keyPrefix`. */
  removeRange(keyPrefix: StorageKey): Promise<void> {
    return this.#chunks.removeRange(keyPrefix)
  }
}
