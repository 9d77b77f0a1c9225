// Writes multi-event batches in a loop until killed, printing one line per resolved write: `ok <batch> <events>`.
// Pipes to the parent are synchronous on Linux, so a printed line means the write had resolved.
import { openStore } from '../../src/index.js'

const [url, schema, run] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
const encoder = new TextEncoder()
console.log('ready')

// Four writers at once, so some kills land inside group commits. Each batch touches two aggregates.
await Promise.all(
  [0, 1, 2, 3].map(async (w) => {
    for (let n = 0; ; n++) {
      const batch = `${run}-${w}-${n}`
      const a = `${run}-${w}-a`
      const b = `${run}-${w}-b`
      const events = [
        { id: `${batch}-0`, aggregatorType: 'crash', aggregatorId: a, version: 2 * n + 1, name: 'E', data: encoder.encode(`${batch}:3`) },
        { id: `${batch}-1`, aggregatorType: 'crash', aggregatorId: b, version: n + 1, name: 'E', data: encoder.encode(`${batch}:3`) },
        { id: `${batch}-2`, aggregatorType: 'crash', aggregatorId: a, version: 2 * n + 2, name: 'E', data: encoder.encode(`${batch}:3`) },
      ]
      await store.events.write(events)
      process.stdout.write(`ok ${batch} 3\n`)
    }
  }),
)
