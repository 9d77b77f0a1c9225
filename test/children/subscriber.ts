// Runs `subscribe` on one key and prints what it sees, one line each. Times are ms since the epoch at sub-ms
// precision (performance.timeOrigin + performance.now()), comparable across the processes of one machine:
//   ready                          the subscription is created
//   state <t> <state>              active | standby | replaced | parked | resumed
//   start <t> <attempt> <id,…>     a handler call begins (ids in delivery order)
//   end <t>                        that call returns (the handler sleeps 1–5 ms first, so overlaps would show)
//   batch <t> <cursor>             a batch was acknowledged
//   error <message>                the runner reported an error (it retries)
//   stopped                        after `sub.stop()` resolved, on the stdin line `stop`; then the child exits 0
// Pipes to the parent are synchronous on Linux, so a printed line means the thing it names had happened.
import { createInterface } from 'node:readline'
import { openStore, subscribe } from '../../src/index.js'

const [url, schema, key, workerId, leaseMs, checkIntervalMs] = process.argv.slice(2) as [string, string, string, string, string, string]
const now = (): string => (performance.timeOrigin + performance.now()).toFixed(3)
const out = (line: string): void => void process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const store = await openStore(schema === '-' ? url : { url, schema })
const sub = subscribe(store, {
  key,
  workerId,
  leaseMs: Number(leaseMs),
  checkIntervalMs: Number(checkIntervalMs),
  // Every batch acknowledged on its own, so that the parent can check each call against the last acknowledgement
  // (with the default 100 ms, a kill redelivers the batches handled since; the model test covers that).
  ackIntervalMs: 0,
  handler: async (events, ctx) => {
    out(`start ${now()} ${ctx.attempt} ${events.map((e) => e.id).join(',')}`)
    await sleep(1 + Math.random() * 4)
    out(`end ${now()}`)
  },
})
for (const state of ['active', 'standby', 'replaced', 'resumed'] as const) sub.on(state, () => out(`state ${now()} ${state}`))
sub.on('parked', () => out(`state ${now()} parked`))
sub.on('batch', (b) => out(`batch ${now()} ${b.cursor}`))
sub.on('error', (err) => out(`error ${String((err as Error)?.message ?? err).replace(/\s+/g, ' ')}`))
out('ready')

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'stop') break
}
await sub.stop()
out('stopped')
await store.close()
process.exit(0)
