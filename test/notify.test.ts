import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { eventsChannel } from '../src/events/schema.js'
import { openStore, type Store } from '../src/index.js'
import { event } from '../src/testing/index.js'
import { PG_URL, uniqueSchema } from './backends.js'

let pglite: PGlite | undefined
afterAll(async () => pglite?.close())

/** Resolves once `done()` holds, polling for up to 5 s; false if it never did. */
async function until(done: () => boolean | Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await done()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return done()
}

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
      // Once listening, the watcher wakes once for commits it may have missed while it set up.
      expect(await until(() => wakeUps > 0)).toBe(true)
      const before = wakeUps
      await writer.events.write([event('n1', 1)])
      expect(await until(() => wakeUps > before)).toBe(true)
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

describe.runIf(pgUrl)('commit notifications only while a store listens: PostgreSQL server', () => {
  it('sends no NOTIFY without a registered listener, one per commit with it, and drops rows of dead connections', async () => {
    const schema = uniqueSchema()
    const writer = await openStore({ url: pgUrl!, schema })
    const watcher = await openStore({ url: pgUrl!, schema })
    // A bare LISTEN, not registered: it hears whatever the appends send.
    const spy = new pg.Client({ connectionString: pgUrl })
    await spy.connect()
    let heard = 0
    spy.on('notification', () => heard++)
    await spy.query(`LISTEN "${eventsChannel(schema)}"`)
    const listeners = async (): Promise<number> => Number((await spy.query(`SELECT count(*) AS n FROM "${schema}".event_listeners`)).rows[0].n)
    try {
      // A row left by a connection that is gone (a crashed process) must not make every commit NOTIFY forever.
      await spy.query(`INSERT INTO "${schema}".event_listeners (token, pid) VALUES ('dead', -1)`)
      await writer.events.write([event('quiet', 1)])
      await writer.events.write([event('quiet', 2), event('quiet', 3)])
      await new Promise((r) => setTimeout(r, 200))
      expect(heard).toBe(2)
      await spy.query(`DELETE FROM "${schema}".event_listeners WHERE token = 'dead'`)
      heard = 0
      await writer.events.write([event('quiet', 4)])
      await writer.events.write([event('quiet', 5), event('quiet', 6)])
      await new Promise((r) => setTimeout(r, 200))
      expect(heard).toBe(0)

      await spy.query(`INSERT INTO "${schema}".event_listeners (token, pid) VALUES ('dead', -1)`)
      let wakeUps = 0
      const stop = watcher.events.onCommitted(() => wakeUps++)
      expect(await until(() => wakeUps > 0)).toBe(true)
      // Registering removed the dead row and added the watcher's own.
      expect(await listeners()).toBe(1)
      await writer.events.write([event('loud', 1)])
      await writer.events.write([event('loud', 2), event('loud', 3)])
      expect(await until(() => heard === 2)).toBe(true)
      // Stopping removes the row (asynchronously: onCommitted's stop returns at once).
      stop()
      expect(await until(async () => (await listeners()) === 0)).toBe(true)
    } finally {
      await spy.end()
      await writer.close()
      await watcher.close()
    }
  })

  it("does not NOTIFY for a store's own listeners (they hear of its commits in-process), and does for another's", async () => {
    const schema = uniqueSchema()
    const writer = await openStore({ url: pgUrl!, schema })
    const other = await openStore({ url: pgUrl!, schema })
    const spy = new pg.Client({ connectionString: pgUrl })
    await spy.connect()
    let heard = 0
    spy.on('notification', () => heard++)
    await spy.query(`LISTEN "${eventsChannel(schema)}"`)
    try {
      let own = 0
      const stopOwn = writer.events.onCommitted((committed) => void (committed && (own += committed.length)))
      await new Promise((r) => setTimeout(r, 200))
      await writer.events.write([event('own', 1)])
      await Promise.all(Array.from({ length: 8 }, (_, i) => writer.events.write([event(`own-${i}`, 1)])))
      await new Promise((r) => setTimeout(r, 200))
      expect(own).toBe(9)
      expect(heard).toBe(0)
      let woken = 0
      const stopOther = other.events.onCommitted(() => woken++)
      await new Promise((r) => setTimeout(r, 200))
      woken = 0
      await writer.events.write([event('own', 2)])
      expect(await until(() => heard === 1 && woken > 0)).toBe(true)
      stopOwn()
      stopOther()
    } finally {
      await spy.end()
      await writer.close()
      await other.close()
    }
  })
})
