// On each stdin line `go <aggregate> <version> <n>` fires n concurrent writes of that version; on `poison <key> <n>`,
// n concurrent tryPutPoison calls with distinct tokens. Prints the outcome codes as a JSON array.
import { createInterface } from 'node:readline'
import { openStore } from '../../src/index.js'

const [url, schema, tag] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
let seq = 0
console.log('ready')
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, aggregate, v, n] = line.split(' ')
  if (cmd === 'poison') {
    const results = await Promise.allSettled(Array.from({ length: Number(v) }, (_, i) => store.poison.tryPutPoison(aggregate!, `${tag}-${i}`)))
    console.log(JSON.stringify(results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code ?? String(r.reason)))))
    continue
  }
  if (cmd !== 'go') break
  const version = Number(v)
  const results = await Promise.allSettled(
    Array.from({ length: Number(n) }, () =>
      store.events.write([{ id: `${tag}-${++seq}`, aggregatorType: 'race', aggregatorId: aggregate!, version, name: 'E', data: new Uint8Array([1]) }]),
    ),
  )
  const codes = results.map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as { code?: string }).code ?? String(r.reason)))
  console.log(JSON.stringify(codes))
}
await store.close()
process.exit(0)
