// A Repo on a Holdfast store: creates a document, edits it, flushes, prints its URL and then waits to be killed.
import { Repo } from '@automerge/automerge-repo'
import { HoldfastStorageAdapter } from '../../src/automerge/index.js'
import { openStore } from '../../src/index.js'

const [url, schema] = process.argv.slice(2) as [string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
const repo = new Repo({ storage: new HoldfastStorageAdapter(store), network: [] })
const handle = repo.create<{ items: string[]; title?: string }>({ items: [] })
for (let i = 0; i < 20; i++) handle.change((d) => void d.items.push(`item ${i}`))
handle.change((d) => void (d.title = 'written by the first process'))
await repo.flush()
console.log(`url ${handle.url}`)
setInterval(() => {}, 1000)
