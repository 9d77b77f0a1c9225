/**
 * `holdfast/automerge`: a persistent `@automerge/automerge` document on a Holdfast store. Needs the optional peer
 * dependency `@automerge/automerge`.
 * @packageDocumentation
 */
export { PersistentDoc, type PersistentDocOptions } from './persistent-doc.js'
export type { ActorId, AutomergePersister, ChangeAddress, ChangeEntry, StoredSizes } from './types.js'
