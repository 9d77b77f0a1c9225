/** An Automerge actor id: its bytes, or the same bytes as a hex string (how `@automerge/automerge` prints them). */
export type ActorId = Uint8Array | string

/** Payload bytes stored for each part of one document (`spec/automerge.md`). */
export interface StoredSizes {
  /** Sum of the stored change bytes. */
  changes: number
  /** Bytes of the compacted document; 0 when none was saved. */
  document: number
  /** Sum of the stored sync-state bytes. */
  syncStates: number
}

/** One change and its address: actor id, sequence number (a non-negative safe integer), bytes. */
export type ChangeEntry = readonly [actor: ActorId, seq: number, change: Uint8Array]

/** The address of a stored change. */
export type ChangeAddress = readonly [actor: ActorId, seq: number]

/**
 * Durable storage for one Automerge document (`spec/automerge.md`, after automerge-persistent's `Persister`): its
 * changes by (actor, sequence number), the compacted document, and a sync state per peer. Get one with
 * `store.automerge(documentId)`; every write is durable when it resolves (with the default `synchronous: 'full'`).
 */
export interface AutomergePersister {
  /** The document this persister stores. */
  readonly documentId: string
  /** Every stored change of the document, in (actor bytes, sequence number) order. */
  getChanges(): Promise<Uint8Array[]>
  /** Stores each change at its address, all or none. Re-inserting an address replaces it (the last entry wins). */
  insertChanges(changes: readonly ChangeEntry[]): Promise<void>
  /** Removes those addresses, all or none; absent ones are not an error. */
  removeChanges(changes: readonly ChangeAddress[]): Promise<void>
  /** The compacted document, or `null` if none was saved. */
  getDocument(): Promise<Uint8Array | null>
  /** Saves the compacted document, replacing any earlier one. */
  setDocument(data: Uint8Array): Promise<void>
  /**
   * Beyond the original: saves `document` and removes `changes` (and the sync states of `peerIds`) in one
   * transaction, so a crash leaves either the old document with every change or the new one.
   */
  compact(document: Uint8Array, changes: readonly ChangeAddress[], peerIds?: readonly Uint8Array[]): Promise<void>
  /** The sync state stored for `peerId`, or `null`. */
  getSyncState(peerId: Uint8Array): Promise<Uint8Array | null>
  /** Stores the sync state for `peerId`, replacing any earlier one. */
  setSyncState(peerId: Uint8Array, syncState: Uint8Array): Promise<void>
  /** Removes the sync states of `peerIds`; absent ones are not an error. */
  removeSyncStates(peerIds: readonly Uint8Array[]): Promise<void>
  /** The peers with a stored sync state, in byte order. */
  getPeerIds(): Promise<Uint8Array[]>
  /** Bytes stored for the changes, the document and the sync states, to decide when to compact. */
  sizes(): Promise<StoredSizes>
  /**
   * Makes every write so far durable and returns how many payload bytes that covered. With `synchronous: 'full'`
   * (the default) and on PostgreSQL every write is durable when it resolves, so this returns 0. With SQLite's
   * `synchronous: 'normal'` it syncs the write-ahead log and returns the bytes the store's Automerge writes had
   * pending since the last flush.
   */
  flush(): Promise<number>
}
