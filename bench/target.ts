// The library's entries from the build (see `loadBuilt`), for the bench process; the read-all child loads the root
// entry alone (holdfast.ts), since it measures its own RSS.
import type * as Automerge from '../src/automerge/index.js'
import type * as Root from '../src/index.js'
import type * as LangGraph from '../src/langgraph/index.js'
import { loadBuilt } from './lib.js'

const [root, automerge, langgraph] = await Promise.all([
  loadBuilt<typeof Root>('index.js'),
  loadBuilt<typeof Automerge>('automerge/index.js'),
  loadBuilt<typeof LangGraph>('langgraph/index.js'),
])

export const { openStore } = root
export const { HoldfastStorageAdapter, PersistentDoc } = automerge
export type PersistentDoc<T> = Automerge.PersistentDoc<T>
export const { HoldfastSaver } = langgraph
