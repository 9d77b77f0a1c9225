// Edits one PersistentDoc until killed: four changes in flight at a time, compacting often, printing `ok <item>`
// after each change resolves.
import { openStore } from '../../src/index.js'
import { PersistentDoc } from '../../src/automerge/index.js'

const [url, schema, run] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
const doc = await PersistentDoc.load<{ items?: string[] }>(store.automerge('crash'), { compactAfterBytes: 2048 })
console.log('ready')
for (let n = 0; ; n += 4) {
  await Promise.all(
    [0, 1, 2, 3].map(async (i) => {
      const item = `${run}-${n + i}`
      await doc.change((d) => {
        d.items ??= []
        d.items.push(item)
      })
      process.stdout.write(`ok ${item}\n`)
    }),
  )
}
