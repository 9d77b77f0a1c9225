// On the stdin line `go <count> <minMs> <maxMs>`, writes `count` single-event batches, one every minMs..maxMs, and
// prints `w <id> <t>` as each write resolves (t: ms since the epoch at sub-ms precision, performance.timeOrigin +
// performance.now(), comparable across the processes of one machine), then `done`. Exits 0 when stdin closes or on
// the line `exit`. Pipes to the parent are synchronous on Linux, so a printed line means the write had resolved.
import { createInterface } from 'node:readline'
import { openStore } from '../../src/index.js'

const [url, schema, run] = process.argv.slice(2) as [string, string, string]
const store = await openStore(schema === '-' ? url : { url, schema })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
console.log('ready')

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, count, minMs, maxMs] = line.split(' ')
  if (cmd !== 'go') break
  for (let n = 0; n < Number(count); n++) {
    await sleep(Number(minMs) + Math.random() * (Number(maxMs) - Number(minMs)))
    const id = `${run}-${n}`
    await store.events.write([{ id, aggregatorType: 'latency', aggregatorId: run, version: n + 1, name: 'E', data: new Uint8Array([1]) }])
    process.stdout.write(`w ${id} ${(performance.timeOrigin + performance.now()).toFixed(3)}\n`)
  }
  console.log('done')
}
await store.close()
process.exit(0)
