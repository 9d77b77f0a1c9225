// `npm start`: Holdfast on its embedded default, a SQLite file. Run it twice: the events of the first run are still there.
import { randomUUID } from 'node:crypto'
import { openStore } from '../src/index.js'

const file = process.argv[2] ?? './holdfast.db'
const store = await openStore(file)
const { events } = store
const encoder = new TextEncoder()
const decoder = new TextDecoder()

// The aggregate's current version is the version of its last event (0 when new).
const history = await events.read([{ aggregatorType: 'demo/Counter', aggregatorId: 'visits' }], null, { last: 10_000 })
const version = history.edges.at(-1)?.node.version ?? 0
console.log(`${file}: the counter has ${version} earlier visit(s)${version ? `, the last at ${new Date(history.edges.at(-1)!.node.timestamp).toISOString()}` : ''}`)

// Optimistic concurrency: this write succeeds only if nobody else wrote version + 1 first.
await events.write([
  {
    id: randomUUID(),
    aggregatorType: 'demo/Counter',
    aggregatorId: 'visits',
    version: version + 1,
    name: 'Visited',
    data: encoder.encode(JSON.stringify({ pid: process.pid, at: new Date().toISOString() })),
  },
])

const page = await events.read([{ aggregatorType: 'demo/Counter', aggregatorId: 'visits' }], null, { last: 3 })
for (const { node } of page.edges) console.log(`  #${node.version} at position ${node.position}: ${decoder.decode(node.data)}`)
console.log(`Wrote visit #${version + 1}. Run \`npm start\` again: it will find ${version + 1} earlier visit(s) in ${file}.`)
await store.close()
