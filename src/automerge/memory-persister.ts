import type { Lifecycle } from '../lifecycle.js'
import { compareText } from '../validate.js'
import type { AutomergePersister, ChangeAddress, ChangeEntry, StoredSizes } from './types.js'
import { checkInsert, checkPayload, checkPeer, checkPeers, checkRemove, compareBytes, hex } from './validate.js'

interface Doc {
  changes: Map<string, { actor: Uint8Array; seq: number; data: Uint8Array }>
  document: Uint8Array | null
  sync: Map<string, { peer: Uint8Array; data: Uint8Array }>
}

/** Every document of a memory store: the reference model the SQL backends are tested against. */
export class MemoryAutomergeStore {
  readonly #docs = new Map<string, Doc>()
  readonly #life: Lifecycle

  /** @param life - the owning store's lifecycle */
  constructor(life: Lifecycle) {
    this.#life = life
  }

  /** The persister of `documentId` (checked by the caller). */
  persister(documentId: string): AutomergePersister {
    return new MemoryPersister(documentId, this.#life, () => {
      let d = this.#docs.get(documentId)
      if (!d) this.#docs.set(documentId, (d = { changes: new Map(), document: null, sync: new Map() }))
      return d
    })
  }

  /** Ids of documents with anything stored, in text order after `after`. */
  async documents(after: string, limit: number): Promise<string[]> {
    this.#life.check()
    return [...this.#docs]
      .filter(([id, d]) => compareText(id, after) > 0 && (d.changes.size > 0 || d.document !== null || d.sync.size > 0))
      .map(([id]) => id)
      .sort(compareText)
      .slice(0, limit)
  }
}

const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b)

class MemoryPersister implements AutomergePersister {
  constructor(
    readonly documentId: string,
    private readonly life: Lifecycle,
    private readonly doc: () => Doc,
  ) {}

  async getChanges(): Promise<Uint8Array[]> {
    this.life.check()
    return [...this.doc().changes.values()].sort((a, b) => compareBytes(a.actor, b.actor) || a.seq - b.seq).map((c) => copy(c.data))
  }

  async insertChanges(changes: readonly ChangeEntry[]): Promise<void> {
    this.life.check()
    const rows = checkInsert(changes)
    const d = this.doc()
    for (const r of rows) d.changes.set(r.key, { actor: r.actor, seq: r.seq, data: r.data })
  }

  async removeChanges(changes: readonly ChangeAddress[]): Promise<void> {
    this.life.check()
    const rows = checkRemove(changes)
    const d = this.doc()
    for (const r of rows) d.changes.delete(r.key)
  }

  async getDocument(): Promise<Uint8Array | null> {
    this.life.check()
    const { document } = this.doc()
    return document && copy(document)
  }

  async setDocument(data: Uint8Array): Promise<void> {
    this.life.check()
    this.doc().document = checkPayload('data', data)
  }

  async compact(document: Uint8Array, changes: readonly ChangeAddress[], peerIds: readonly Uint8Array[] = []): Promise<void> {
    this.life.check()
    const data = checkPayload('document', document)
    const rows = checkRemove(changes)
    const peers = checkPeers(peerIds)
    const d = this.doc()
    d.document = data
    for (const r of rows) d.changes.delete(r.key)
    for (const p of peers) d.sync.delete(hex(p))
  }

  async getSyncState(peerId: Uint8Array): Promise<Uint8Array | null> {
    this.life.check()
    const s = this.doc().sync.get(hex(checkPeer('peerId', peerId)))
    return s ? copy(s.data) : null
  }

  async setSyncState(peerId: Uint8Array, syncState: Uint8Array): Promise<void> {
    this.life.check()
    const peer = checkPeer('peerId', peerId)
    const data = checkPayload('syncState', syncState)
    this.doc().sync.set(hex(peer), { peer, data })
  }

  async removeSyncStates(peerIds: readonly Uint8Array[]): Promise<void> {
    this.life.check()
    const peers = checkPeers(peerIds)
    const d = this.doc()
    for (const p of peers) d.sync.delete(hex(p))
  }

  async getPeerIds(): Promise<Uint8Array[]> {
    this.life.check()
    return [...this.doc().sync.values()].map((s) => copy(s.peer)).sort(compareBytes)
  }

  async sizes(): Promise<StoredSizes> {
    this.life.check()
    const d = this.doc()
    let changes = 0
    let syncStates = 0
    for (const c of d.changes.values()) changes += c.data.byteLength
    for (const s of d.sync.values()) syncStates += s.data.byteLength
    return { changes, document: d.document?.byteLength ?? 0, syncStates }
  }

  async flush(): Promise<number> {
    this.life.check()
    return 0
  }
}
