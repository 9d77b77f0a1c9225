import * as Automerge from '@automerge/automerge'
import { InvalidArgumentError } from '../errors.js'
import { changeAddress, type Address } from './change-address.js'
import type { AutomergePersister } from './types.js'
import { checkPeer, hex } from './validate.js'

const DEFAULT_COMPACT_AFTER = 4 * 1024

/** How a {@link PersistentDoc} behaves. */
export interface PersistentDocOptions {
  /** Actor id (hex) for local changes; Automerge picks a random one when absent. */
  actor?: string
  /**
   * Compact once the stored changes exceed this many bytes and the compacted document's size. Default 4 KiB (loading a document plus many small changes costs far more than loading it compacted);
   * `Infinity` leaves compaction to {@link PersistentDoc.compact}.
   */
  compactAfterBytes?: number
}

/**
 * A real `@automerge/automerge` document kept in an {@link AutomergePersister}: loaded from the compacted document
 * plus the stored changes, every local and received change persisted at its (actor, sequence number) address,
 * compacted atomically (document saved, contained changes removed) when the changes outgrow the threshold, and a sync
 * state per peer. The in-memory document moves first; each method resolves once its changes, and every change made
 * before them, are durable: writes run one after another (the changes made meanwhile share the next one), because a
 * stored change whose predecessor is missing cannot be loaded. A change whose write failed stays in memory and is
 * written again by the next change, {@link PersistentDoc.flush} or compaction.
 */
export class PersistentDoc<T> {
  readonly #persister: AutomergePersister
  readonly #threshold: number
  #doc: Automerge.Doc<T>
  /** Stored changes the current document contains, by address; what a compaction may remove. */
  #stored: Address[] = []
  /** Changes read at load whose address is decoded only when a compaction needs it. */
  #loaded: Uint8Array[]
  #changeBytes: number
  #documentBytes: number
  /** Changes whose write failed; the next write carries them first. */
  #failed: Uint8Array[] = []
  /** Changes waiting for the next write, and the callers waiting on them. */
  #queued: Uint8Array[] = []
  #waiters: { resolve: () => void; reject: (err: unknown) => void }[] = []
  /** The write loop, while it runs. */
  #writing: Promise<void> | undefined
  readonly #sync = new Map<string, Automerge.SyncState>()
  #compacting: Promise<void> | undefined

  private constructor(persister: AutomergePersister, doc: Automerge.Doc<T>, loaded: Uint8Array[], documentBytes: number, threshold: number) {
    this.#persister = persister
    this.#doc = doc
    this.#loaded = loaded
    this.#changeBytes = loaded.reduce((n, c) => n + c.byteLength, 0)
    this.#documentBytes = documentBytes
    this.#threshold = threshold
  }

  /** Loads the document `persister` holds (an empty one if it holds nothing). */
  static async load<T>(persister: AutomergePersister, options: PersistentDocOptions = {}): Promise<PersistentDoc<T>> {
    const threshold = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER
    if (typeof threshold !== 'number' || Number.isNaN(threshold) || threshold < 0)
      throw new InvalidArgumentError(`compactAfterBytes must be a non-negative number, got ${String(threshold)}`)
    // Changes first, then the document: a compaction elsewhere that commits between the two reads moved changes into
    // the document read second. The other order (or both at once, on two pooled connections) can miss them.
    const changes = await persister.getChanges()
    const document = await persister.getDocument()
    const init = options.actor === undefined ? undefined : { actor: options.actor }
    // One load of the document followed by the change chunks: Automerge orders the changes causally and skips the
    // ones the document holds, and this costs far less than a load and then applyChanges.
    const chunks = document ? [document, ...changes] : changes
    const doc = chunks.length > 0 ? Automerge.load<T>(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks), init) : Automerge.init<T>(init)
    return new PersistentDoc(persister, doc, changes, document?.byteLength ?? 0, threshold)
  }

  /** The current document. */
  get doc(): Automerge.Doc<T> {
    return this.#doc
  }

  /** The persister underneath. */
  get persister(): AutomergePersister {
    return this.#persister
  }

  /**
   * Applies `fn` as one local change (the document moves at once) and resolves with the new document when the change
   * is durable. Changes made without awaiting each other are written in order and share commits.
   */
  change(fn: Automerge.ChangeFn<T>, options?: string | Automerge.ChangeOptions<T>): Promise<Automerge.Doc<T>> {
    const before = this.#doc
    const next = options === undefined ? Automerge.change(before, fn) : Automerge.change(before, options, fn)
    if (next === before) return Promise.resolve(next)
    this.#doc = next
    return this.#persist([Automerge.getLastLocalChange(next)!]).then(() => next)
  }

  /** Applies changes received from elsewhere and persists the ones that were new. */
  async applyChanges(changes: Uint8Array[]): Promise<Automerge.Doc<T>> {
    const before = this.#doc
    const [next] = Automerge.applyChanges(before, changes)
    this.#doc = next
    await this.#persist(Automerge.getChanges(before, next))
    return next
  }

  /** The next sync message for `peerId` (or `null` when in sync); the peer's sync state is persisted. */
  async generateSyncMessage(peerId: Uint8Array): Promise<Uint8Array | null> {
    const peer = checkPeer('peerId', peerId)
    const state = await this.#syncState(peer)
    const [next, message] = Automerge.generateSyncMessage(this.#doc, state)
    this.#sync.set(hex(peer), next)
    await this.#persister.setSyncState(peer, Automerge.encodeSyncState(next))
    return message
  }

  /** Applies a sync message from `peerId`: the changes it brought are persisted before the peer's sync state. */
  async receiveSyncMessage(peerId: Uint8Array, message: Uint8Array): Promise<Automerge.Doc<T>> {
    const peer = checkPeer('peerId', peerId)
    const state = await this.#syncState(peer)
    const before = this.#doc
    const [next, nextState] = Automerge.receiveSyncMessage(before, state, message)
    this.#doc = next
    this.#sync.set(hex(peer), nextState)
    await this.#persist(Automerge.getChanges(before, next))
    await this.#persister.setSyncState(peer, Automerge.encodeSyncState(nextState))
    return next
  }

  /** Forgets the sync state of `peerId`, in memory and in storage. */
  async resetSyncState(peerId: Uint8Array): Promise<void> {
    const peer = checkPeer('peerId', peerId)
    this.#sync.delete(hex(peer))
    await this.#persister.removeSyncStates([peer])
  }

  /**
   * Saves the whole document and removes the stored changes it contains, in one transaction, dropping the sync
   * states of `dropPeers` in the same step. A change written by another process meanwhile is kept.
   */
  compact(dropPeers: readonly Uint8Array[] = []): Promise<void> {
    const once = async (dropPeers: readonly Uint8Array[]): Promise<void> => {
      await this.#retry()
      for (const change of this.#loaded.splice(0)) this.#stored.push(changeAddress(change))
      const saved = Automerge.save(this.#doc)
      const removed = this.#stored.splice(0)
      try {
        await this.#persister.compact(saved, removed.map((s) => [s.actor, s.seq] as const), dropPeers)
      } catch (err) {
        this.#stored.unshift(...removed)
        throw err
      }
      for (const peer of dropPeers) this.#sync.delete(hex(peer))
      this.#changeBytes -= removed.reduce((n, s) => n + s.bytes, 0)
      this.#documentBytes = saved.byteLength
    }
    // Changes written while a compaction ran may already outgrow the threshold again.
    const run = async (): Promise<void> => {
      await once(dropPeers)
      while (this.#overThreshold() && this.#stored.length > 0) await once([])
    }
    // One compaction at a time; a request during one runs after it, on the newer document.
    const next = (this.#compacting ?? Promise.resolve()).catch(() => {}).then(run)
    this.#compacting = next
    void next.finally(() => {
      if (this.#compacting === next) this.#compacting = undefined
    }).catch(() => {})
    return next
  }

  /** Waits for every write in flight, writes again any that failed, then flushes the persister. */
  async flush(): Promise<number> {
    while (this.#writing || this.#compacting) await Promise.allSettled([this.#writing, this.#compacting])
    await this.#retry()
    return this.#persister.flush()
  }

  #overThreshold(): boolean {
    return this.#changeBytes > Math.max(this.#threshold, this.#documentBytes)
  }

  /** Starts a compaction when the stored changes outgrew the threshold and none is running. */
  #maybeCompact(): Promise<void> | undefined {
    if (this.#compacting || !this.#overThreshold()) return undefined
    // A failed compaction loses nothing (the changes stay stored) and must not fail a change that was written.
    return this.compact().catch(() => {})
  }

  /**
   * Waits for every write, then compacts if any change is stored outside the document, so the next
   * {@link PersistentDoc.load} reads one document. Call it at shutdown; the document stays usable.
   */
  async close(): Promise<void> {
    await this.flush()
    if (this.#stored.length > 0 || this.#loaded.length > 0) await this.compact()
  }

  async #syncState(peer: Uint8Array): Promise<Automerge.SyncState> {
    const key = hex(peer)
    let state = this.#sync.get(key)
    if (!state) {
      const stored = await this.#persister.getSyncState(peer)
      state = this.#sync.get(key) ?? (stored ? Automerge.decodeSyncState(stored) : Automerge.initSyncState())
      this.#sync.set(key, state)
    }
    return state
  }

  async #retry(): Promise<void> {
    if (this.#failed.length > 0) await this.#persist([])
  }

  /** Queues `changes` for the next write; resolves when that write, and every one before it, has committed. */
  #persist(changes: Uint8Array[]): Promise<void> {
    if (changes.length === 0 && this.#failed.length === 0 && !this.#writing) return Promise.resolve()
    this.#queued.push(...changes)
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }))
    this.#writing ??= this.#writeLoop()
    return done
  }

  /**
   * Writes the queued changes, one write at a time so none commits before a change it depends on (PostgreSQL runs
   * concurrent statements on separate connections, in any order).
   */
  async #writeLoop(): Promise<void> {
    // Changes made in the same synchronous run share the first write.
    await Promise.resolve()
    while (this.#waiters.length > 0) {
      const waiters = this.#waiters.splice(0)
      const batch = this.#failed.length > 0 ? [...this.#failed.splice(0), ...this.#queued.splice(0)] : this.#queued.splice(0)
      try {
        if (batch.length > 0) {
          const stored = batch.map(changeAddress)
          await this.#persister.insertChanges(batch.map((c, i) => [stored[i]!.actor, stored[i]!.seq, c] as const))
          this.#stored.push(...stored)
          this.#changeBytes += stored.reduce((n, s) => n + s.bytes, 0)
        }
      } catch (err) {
        this.#failed.unshift(...batch)
        for (const w of waiters) w.reject(err)
        continue
      }
      for (const w of waiters) w.resolve()
      void this.#maybeCompact()
    }
    this.#writing = undefined
  }
}
