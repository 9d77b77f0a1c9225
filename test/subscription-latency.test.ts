/*
 * Push across processes: a write committed by another process (test/children/paced-writer.ts) reaches a handler in
 * this one quickly, on the SQLite file backend (a cross-process wake-up on one machine) and on the PostgreSQL
 * server (LISTEN/NOTIFY). 120 writes, 20–30 ms apart; the latency of each is from the child's write-resolved time to
 * the handler's call (both performance.timeOrigin + performance.now()). The fallback check is left at 2 s, so a
 * median under 50 ms can only come from the wake-up.
 */
import { describe, expect, it } from 'vitest'
import { openStore, subscribe } from '../src/index.js'
import { processTargets } from './backends.js'
import { spawnChild } from './children/spawn.js'

const WRITES = 120
const CHECK_MS = 2000
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const now = (): number => performance.timeOrigin + performance.now()

const targets = processTargets('latency.db')

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

describe.each(targets)('subscription latency across processes: %s', (name, where) => {
  it(`hands another process's write to the handler in < 50 ms (median of ${WRITES})`, { timeout: 40_000 }, async () => {
    const { url, schema } = where()
    const store = await openStore(schema === '-' ? url : { url, schema })
    const handledAt = new Map<string, number>()
    const sub = subscribe(store, {
      key: 'latency',
      leaseMs: 5000,
      checkIntervalMs: CHECK_MS,
      handler: (events) => {
        const at = now()
        for (const e of events) if (!handledAt.has(e.id)) handledAt.set(e.id, at)
      },
    })
    const child = spawnChild('paced-writer.ts', [url, schema, `lat-${Math.random().toString(36).slice(2, 8)}`])
    try {
      // The store is empty, so whenCaughtUp resolves at once: wait for the claim.
      for (const end = Date.now() + 5000; sub.state !== 'active' && Date.now() < end; ) await sleep(5)
      expect(sub.state).toBe('active')
      expect(await child.nextLine()).toBe('ready')
      child.send(`go ${WRITES} 20 30`)
      const written = new Map<string, number>()
      for (;;) {
        const line = await child.nextLine()
        if (line === 'done') break
        const [, id, t] = line.split(' ')
        written.set(id!, Number(t))
      }
      expect(written.size).toBe(WRITES)
      const deadline = Date.now() + CHECK_MS + 3000
      while ([...written.keys()].some((id) => !handledAt.has(id)) && Date.now() < deadline) await sleep(10)
      const latencies = [...written].map(([id, t]) => (handledAt.get(id) ?? Infinity) - t).sort((a, b) => a - b)
      const p50 = percentile(latencies, 50)
      const p99 = percentile(latencies, 99)
      console.log(`${name}: cross-process write → handler latency over ${WRITES} writes: p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`)
      expect(latencies.filter((l) => l === Infinity), 'writes never handled').toEqual([])
      expect(p50).toBeLessThan(50)
    } finally {
      child.proc.stdin.end()
      await child.exited
      await sub.stop()
      await store.close()
    }
  })
})
