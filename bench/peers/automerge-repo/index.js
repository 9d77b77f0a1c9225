// The peer's modules, resolved from this folder's own node_modules (see bench/automerge.ts).
export * as Automerge from '@automerge/automerge'
export { Repo } from '@automerge/automerge-repo'
export { NodeFSStorageAdapter } from '@automerge/automerge-repo-storage-nodefs'
