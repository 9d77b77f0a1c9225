import { NotFoundError } from '../../errors.js'
import type { StoredSizes } from '../../automerge/types.js'
import type { Store } from '../../store.js'
import { assertKey, readFields } from '../../validate.js'
import { hexOf } from './values.js'

/** An Automerge document as `docs ls` shows it. */
export interface DocumentView {
  documentId: string
  sizes: StoredSizes
  /** Peers with a stored sync state, hex. */
  peers: string[]
}

/** The newest change of a document, decoded by Automerge. */
export interface ChangeView {
  actor: string
  seq: number
  /** Seconds since epoch, as the change recorded it (0 when none was given). */
  time: number
  message: string | null
  hash: string
}

/** `docs show`: sizes, peers, how many changes, and the last one. */
export interface DocumentDetail extends DocumentView {
  /** Changes in the document's history (stored apart and inside the compacted document). */
  changes: number
  lastChange: ChangeView | null
}

async function viewOf(store: Store, documentId: string): Promise<DocumentView> {
  const p = store.automerge(documentId)
  const [sizes, peers] = await Promise.all([p.sizes(), p.getPeerIds()])
  return { documentId, sizes, peers: peers.map(hexOf) }
}

/** `docs ls`: documents with anything stored, in id order, paged (`after`, `limit` 1..10,000, default 100). */
export async function listDocuments(store: Store, input: { after?: string; limit?: number } = {}): Promise<{ documents: DocumentView[]; nextAfter: string | null }> {
  const i = readFields('input', input, ['after', 'limit'] as const)
  const limit = (i.limit as number | undefined) ?? 100
  const ids = await store.automergeDocuments({ limit, ...(i.after === undefined ? {} : { after: i.after as string }) })
  return { documents: await Promise.all(ids.map((id) => viewOf(store, id))), nextAfter: ids.length === limit ? ids.at(-1)! : null }
}

/** Loads `@automerge/automerge` (an optional peer) only for the commands that decode documents. */
async function automergeModules(): Promise<{ A: typeof import('@automerge/automerge'); PersistentDoc: typeof import('../../automerge/persistent-doc.js').PersistentDoc }> {
  const [A, { PersistentDoc }] = await Promise.all([import('@automerge/automerge'), import('../../automerge/persistent-doc.js')])
  return { A, PersistentDoc }
}

/** `docs show ID`: loads the document with Automerge to read its history. `NOT_FOUND` when nothing is stored under the id. */
export async function showDocument(store: Store, documentId: string): Promise<DocumentDetail> {
  assertKey('documentId', documentId)
  const base = await viewOf(store, documentId)
  if (base.sizes.changes === 0 && base.sizes.document === 0 && base.sizes.syncStates === 0) throw new NotFoundError(`Automerge document ${JSON.stringify(documentId)} has nothing stored`)
  const { A, PersistentDoc } = await automergeModules()
  const doc = await PersistentDoc.load(store.automerge(documentId))
  const history = A.getAllChanges(doc.doc)
  let lastChange: ChangeView | null = null
  for (const bytes of history) {
    const c = A.decodeChange(bytes)
    if (!lastChange || c.time > lastChange.time || (c.time === lastChange.time && c.seq > lastChange.seq))
      lastChange = { actor: c.actor, seq: c.seq, time: c.time, message: c.message ?? null, hash: c.hash ?? '' }
  }
  return { ...base, changes: history.length, lastChange }
}

/** What `docs compact` did. */
export interface CompactResult {
  documentId: string
  before: StoredSizes
  after: StoredSizes
}

/**
 * `docs compact ID`: saves the whole document and removes the changes it holds, in one transaction
 * (`PersistentDoc.compact`); a change written meanwhile by another process is kept. `NOT_FOUND` when nothing is
 * stored under the id.
 */
export async function compactDocument(store: Store, documentId: string): Promise<CompactResult> {
  assertKey('documentId', documentId)
  const p = store.automerge(documentId)
  const before = await p.sizes()
  // Compacting nothing would store an empty document: a typo in an id must not create one.
  if (before.changes === 0 && before.document === 0 && before.syncStates === 0) throw new NotFoundError(`Automerge document ${JSON.stringify(documentId)} has nothing stored`)
  const { PersistentDoc } = await automergeModules()
  const doc = await PersistentDoc.load(p)
  await doc.compact()
  await doc.flush()
  return { documentId, before, after: await p.sizes() }
}
