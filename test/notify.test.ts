import { PGlite } from '@electric-sql/pglite'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { event } from '../src/testing/index.js'
import { PG_URL, uniqueSchema } from './backends.js'

let pglite: PGlite | undefined
afterAll(async () => pglite?.close())

// Two stores with connections of their own stand for two processes: a commit through one wakes the other's listeners.
const targets: [string, (schema: string) => Promise<Store>][] = [
  ['PGlite', async (schema) => openStore({ pglite: (pglite ??= await PGlite.create()), schema })],
]
const pgUrl = PG_URL
if (pgUrl) targets.push(['PostgreSQL server', (schema) => openStore({ url: pgUrl, schema })])

describe.each(targets)('commit notifications between stores: %s', (_name, open) => {
  it("wakes another store's listeners through LISTEN/NOTIFY, and stops when asked", async () => {
    const schema = uniqueSchema()
    const writer = await open(schema)
    const watcher = await open(schema)
    let wakeUps = 0
    const stop = watcher.events.onCommitted(() => wakeUps++)
    try {
      // LISTEN is set up asynchronously; keep writing until the first wake-up arrives.
      for (let v = 1; wakeUps === 0 && v <= 50; v++) {
        await writer.events.write([event('n1', v)])
        await new Promise((r) => setTimeout(r, 50))
      }
      expect(wakeUps).toBeGreaterThan(0)
      stop()
      await new Promise((r) => setTimeout(r, 100))
      const seen = wakeUps
      await writer.events.write([event('n2', 1)])
      await new Promise((r) => setTimeout(r, 200))
      expect(wakeUps).toBe(seen)
    } finally {
      await writer.close()
      await watcher.close()
    }
  })
})
