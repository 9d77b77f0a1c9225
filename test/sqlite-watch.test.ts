import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { sqliteWatcher } from '../src/events/sqlite-watch.js'
import { openStore, type Store } from '../src/index.js'
import { SqliteDatabase } from '../src/sql/sqlite.js'
import { event } from '../src/testing/index.js'
import { tempDir } from './backends.js'
import { spawnChild } from './children/spawn.js'

const dir = tempDir()
let n = 0
const freshFile = (): string => join(dir, `watch-${++n}.db`)

const stores: Store[] = []
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()))
})
async function open(file: string): Promise<Store> {
  const store = await openStore(file)
  stores.push(store)
  return store
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const wallClock = (): number => performance.timeOrigin + performance.now()

/** Resolves once `done()` holds, checking every 10 ms for up to `ms`; false if it never did. */
async function until(done: () => boolean, ms = 5000): Promise<boolean> {
  const deadline = performance.now() + ms
  while (performance.now() < deadline) {
    if (done()) return true
    await sleep(10)
  }
  return done()
}

/** The store's own connection, opened beside a store, with a count of every call that would run SQL on it. */
async function countedDatabase(path: string): Promise<{ db: SqliteDatabase; calls: () => number }> {
  const db = await SqliteDatabase.open({ path, synchronous: 'full', busyTimeoutMs: 1000 })
  afterAll(() => db.close())
  let calls = 0
  for (const method of ['statement', 'exclusive', 'exclusiveNow', 'all', 'run', 'transaction', 'immediate'] as const) {
    const original = db[method].bind(db) as (...args: unknown[]) => unknown
    ;(db as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      calls++
      return original(...args)
    }
  }
  return { db, calls: () => calls }
}

describe('SQLite commit notifications across connections', () => {
  it("wakes another store's listeners on the same file, and stops when asked", async () => {
    const file = freshFile()
    const writer = await open(file)
    const watcher = await open(file)
    let wakeUps = 0
    const stop = watcher.events.onCommitted(() => wakeUps++)
    // Once watching, it wakes once for commits it may have missed while it set up.
    expect(await until(() => wakeUps > 0)).toBe(true)
    const before = wakeUps
    await writer.events.write([event('a', 1)])
    expect(await until(() => wakeUps > before, 1000)).toBe(true)
    stop()
    await sleep(50)
    const seen = wakeUps
    await writer.events.write([event('a', 2)])
    await sleep(700)
    expect(wakeUps).toBe(seen)
  })

  it('wakes for commits after the WAL was checkpointed and truncated', async () => {
    const file = freshFile()
    const writer = await open(file)
    const { db } = await countedDatabase(file)
    let wakeUps = 0
    const stop = await sqliteWatcher(db)(() => wakeUps++)
    try {
      const raw = new Database(file)
      for (let v = 1; v <= 3; v++) {
        const before = wakeUps
        await writer.events.write([event('t', v)])
        expect(await until(() => wakeUps > before, 400)).toBe(true)
        raw.pragma('wal_checkpoint(TRUNCATE)')
      }
      raw.close()
    } finally {
      await stop()
    }
  })

  it('a write in another process reaches the listener within milliseconds', async () => {
    const file = freshFile()
    const watcher = await open(file)
    const wakes: number[] = []
    let waiting: (() => void) | undefined
    const stop = watcher.events.onCommitted(() => {
      wakes.push(wallClock())
      waiting?.()
    })
    const child = spawnChild('watch-writer.ts', [file])
    try {
      expect(await child.nextLine()).toBe('ready')
      expect(await until(() => wakes.length > 0)).toBe(true)
      /** The first wake-up after `since`, waiting for it up to 5 s. */
      const wakeAfter = async (since: number): Promise<number> => {
        const deadline = performance.now() + 5000
        for (;;) {
          const w = wakes.find((t) => t > since)
          if (w !== undefined) return w
          if (performance.now() > deadline) throw new Error('no wake-up within 5 s of a write in another process')
          await new Promise<void>((resolve) => {
            waiting = resolve
            setTimeout(resolve, 50)
          })
        }
      }
      const latencies: number[] = []
      for (let v = 1; v <= 120; v++) {
        const sent = wallClock()
        child.send(`write ${v}`)
        const line = await child.nextLine()
        const written = Number(/^written (.+)$/.exec(line)?.[1])
        expect(written).toBeGreaterThan(0)
        latencies.push((await wakeAfter(sent)) - written)
        await sleep(Math.max(0, 20 - (wallClock() - sent)))
      }
      latencies.sort((a, b) => a - b)
      const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!
      console.log(
        `SQLite cross-process wake-up latency over ${latencies.length} writes: p50 ${at(0.5).toFixed(2)} ms, ` +
          `p99 ${at(0.99).toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms (negative: woken before the writer printed)`,
      )
      expect(at(0.5)).toBeLessThan(50)
    } finally {
      stop()
      child.send('exit')
      await child.exited
    }
  })

  it("is not woken by the store's own commits (its events wake it in-process), and is by another's", async () => {
    const file = freshFile()
    const writer = await open(file)
    const { db } = await countedDatabase(file)
    await db.run('CREATE TABLE own_commits (n INTEGER)')
    let wakeUps = 0
    const stop = await sqliteWatcher(db)(() => wakeUps++)
    try {
      expect(wakeUps).toBe(1)
      for (let i = 0; i < 20; i++) {
        await db.run('INSERT INTO own_commits (n) VALUES (?)', [i])
        await sleep(5)
      }
      await sleep(100)
      expect(wakeUps).toBe(1)
      await writer.events.write([event('other', 1)])
      expect(await until(() => wakeUps > 1, 1000)).toBe(true)
    } finally {
      await stop()
    }
  })

  it("while the store itself commits busily (the watch closed, data_version read every 2 ms), another's commit still wakes it", async () => {
    const file = freshFile()
    const writer = await open(file)
    const { db } = await countedDatabase(file)
    await db.run('CREATE TABLE own_busy (n INTEGER)')
    let wakeUps = 0
    const stop = await sqliteWatcher(db)(() => wakeUps++)
    let busy = true
    const own = (async () => {
      for (let i = 0; busy; i++) {
        await db.run('INSERT INTO own_busy (n) VALUES (?)', [i])
        await new Promise((r) => setImmediate(r))
      }
    })()
    try {
      await sleep(300)
      expect(wakeUps).toBe(1)
      for (let k = 1; k <= 5; k++) {
        const before = wakeUps
        const start = performance.now()
        await writer.events.write([event('busy-other', k)])
        expect(await until(() => wakeUps > before, 1000)).toBe(true)
        // Sooner than the fallback read (every 500 ms) would see it: the busy poll did.
        expect(performance.now() - start).toBeLessThan(450)
        await sleep(20)
      }
    } finally {
      busy = false
      await own
      await stop()
    }
  })

  it("costs nothing on the store's connection and wakes nobody while nothing is written", async () => {
    const file = freshFile()
    const writer = await open(file)
    const { db, calls } = await countedDatabase(file)
    let wakeUps = 0
    const stop = await sqliteWatcher(db)(() => wakeUps++)
    // One read of the store's data_version at the start, to tell its own commits from others' later.
    const atStart = calls()
    try {
      // The one wake-up at the start, for commits made while it set up; then nothing for two seconds.
      expect(wakeUps).toBe(1)
      await sleep(2000)
      expect(wakeUps).toBe(1)
      expect(calls()).toBe(atStart)
      await writer.events.write([event('idle', 1)])
      expect(await until(() => wakeUps > 1, 1000)).toBe(true)
    } finally {
      await stop()
    }
  })

  it.each([
    ['its own connection', true],
    ["the store's connection", false],
  ])('without the file watch, the fallback read of data_version on %s still wakes within 1.5 s', async (_name, dedicated) => {
    const file = freshFile()
    const writer = await open(file)
    const { db, calls } = await countedDatabase(file)
    let wakeUps = 0
    const stop = await sqliteWatcher(db, { watch: false, dedicated })(() => wakeUps++)
    try {
      await sleep(600)
      expect(wakeUps).toBe(1)
      const before = wakeUps
      const atStart = calls()
      const start = performance.now()
      await writer.events.write([event('f', 1)])
      expect(await until(() => wakeUps > before, 1500)).toBe(true)
      expect(performance.now() - start).toBeLessThan(1500)
      // The dedicated connection leaves the store's alone but to confirm a change it saw (one read: three counted
      // calls, exclusive, its exclusiveNow and the cached statement); the fallback reads on it.
      if (dedicated) expect(calls() - atStart).toBeLessThanOrEqual(3)
      else expect(calls()).toBeGreaterThan(atStart)
    } finally {
      await stop()
    }
  })

  it('does nothing for an in-memory database', async () => {
    const db = await SqliteDatabase.open({ path: ':memory:', synchronous: 'full', busyTimeoutMs: 1000 })
    let wakeUps = 0
    const stop = await sqliteWatcher(db)(() => wakeUps++)
    await sleep(100)
    await stop()
    await db.close()
    expect(wakeUps).toBe(0)
  })
})
