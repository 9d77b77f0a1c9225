// Opens the SQLite store in argv[2], prints `ready`, then on each stdin line `write <n>` appends one event and prints
// `written <ms>`, the wall-clock time (performance.timeOrigin + performance.now()) after the write resolved: another
// process committing to the file a watcher is watching. Any other line closes the store and exits.
import { createInterface } from 'node:readline'
import { openStore } from '../../src/index.js'

const [file] = process.argv.slice(2) as [string]
const store = await openStore(file)
console.log('ready')
for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, n] = line.split(' ')
  if (cmd !== 'write') break
  await store.events.write([{ id: `w-${n}`, aggregatorType: 'watch', aggregatorId: 'w', version: Number(n), name: 'E', data: new Uint8Array([1]) }])
  console.log(`written ${performance.timeOrigin + performance.now()}`)
}
await store.close()
process.exit(0)
