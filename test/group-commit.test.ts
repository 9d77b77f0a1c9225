import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { GroupCommit } from '../src/sql/group-commit.js'
import { event } from '../src/testing/index.js'
import { tempDir } from './backends.js'

/** A GroupCommit whose flush records each batch and fails the items that are negative. */
function recording(): { gc: GroupCommit<number>; batches: number[][] } {
  const batches: number[][] = []
  const gc = new GroupCommit<number>(async (items) => {
    batches.push(items)
    return items.map((n) => (n < 0 ? new Error(`bad ${n}`) : undefined))
  })
  return { gc, batches }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('group commit', () => {
  it('gives submissions of one turn one flush, and fails only the items the flush fails', async () => {
    const { gc, batches } = recording()
    const settled = await Promise.allSettled([1, -2, 3].map((n) => gc.submit(n)))
    expect(batches).toEqual([[1, -2, 3]])
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
  })

  it('keeps writers that a flush resolved together in one flush when they write again at once', async () => {
    const { gc, batches } = recording()
    await Promise.all(
      Array.from({ length: 32 }, async (_, w) => {
        for (let i = 0; i < 5; i++) await gc.submit(w)
      }),
    )
    expect(batches.map((b) => b.length)).toEqual([32, 32, 32, 32, 32])
  })

  it('flushes a sequential writer without waiting for a turn of the event loop', async () => {
    const { gc, batches } = recording()
    await gc.submit(0)
    let turned = false
    setImmediate(() => (turned = true))
    for (let i = 1; i <= 100; i++) await gc.submit(i)
    expect(turned).toBe(false)
    expect(batches).toHaveLength(101)
    await turn()
    expect(turned).toBe(true)
  })

  it('flushes a sequential writer at once, inside submit, when its flush commits synchronously', async () => {
    const batches: number[][] = []
    // A chain long enough for this loop on a busy machine (after CHAIN_MS a chain yields, by design).
    const gc = new GroupCommit<number>(
      (items) => {
        batches.push(items)
        if (items.includes(13)) throw new Error('disk full')
        return items.map((n) => (n < 0 ? new Error(`bad ${n}`) : undefined))
      },
      { chainMs: 1000 },
    )
    await gc.submit(0) // the first of a chain waits for its turn
    for (let i = 1; i <= 20; i++) {
      const done = gc.submit(i === 7 ? -7 : i)
      expect(batches).toHaveLength(i + 1) // already flushed, before any await
      if (i === 7) await expect(done).rejects.toThrow('bad -7')
      else if (i === 13) await expect(done).rejects.toThrow('disk full')
      else await done
    }
    expect(batches.map((b) => b.length)).toEqual(Array(21).fill(1))
    // Writers resolved together by one flush still queue together: a lone writer's path is only for lone writers.
    const { gc: shared, batches: seen } = recording()
    await Promise.all(Array.from({ length: 4 }, async (_, w) => { for (let i = 0; i < 3; i++) await shared.submit(w) }))
    expect(seen.map((b) => b.length)).toEqual([4, 4, 4])
  })

  it('lets a gathering submission share its flush with what its caller submits next, and keeps the chain', async () => {
    const batches: number[][] = []
    // A chain long enough for this loop on a busy machine: the point is that nothing in it needs a turn.
    const gc = new GroupCommit<number>(
      (items) => {
        batches.push(items)
        return items.map((n) => (n < 0 ? new Error(`bad ${n}`) : undefined))
      },
      { chainMs: 1000 },
    )
    await gc.submit(0)
    let turned = false
    setImmediate(() => (turned = true))
    for (let i = 1; i <= 30; i += 3) {
      // A superstep's writes, then its checkpoint once an already settled promise resolves (LangGraph's order).
      const writes = gc.submit(i, true)
      expect(batches.flat()).not.toContain(i) // not flushed inside submit
      const checkpoint = Promise.resolve().then(() => gc.submit(i + 1))
      const bad = gc.submit(-(i + 2), true)
      await expect(bad).rejects.toThrow(`bad ${-(i + 2)}`)
      await Promise.all([writes, checkpoint])
    }
    expect(batches.slice(1).map((b) => b.length)).toEqual(Array(10).fill(3))
    // Flushed on ticks, yet each flush chained to the last: no turn of the event loop in between.
    expect(turned).toBe(false)
    for (let i = 0; i < 20; i++) await gc.submit(i, true)
    expect(turned).toBe(false)
    expect(batches).toHaveLength(31)
  })

  it('lets the event loop run after a few ms of a sequential writer', async () => {
    const gc = new GroupCommit<number>((items) => {
      const until = performance.now() + 0.5
      while (performance.now() < until); // a commit's fsync, blocking like better-sqlite3's
      return items.map(() => undefined)
    })
    await gc.submit(0)
    let turned = false
    setImmediate(() => (turned = true))
    const start = performance.now()
    while (!turned && performance.now() - start < 200) await gc.submit(1)
    expect(turned).toBe(true)
    expect(performance.now() - start).toBeLessThan(100)
  })

  it('batches submissions that arrive in separate callbacks of a later turn', async () => {
    const { gc, batches } = recording()
    await gc.submit(0)
    await turn() // the chain settled: what comes next is new I/O
    const done: Promise<void>[] = []
    await new Promise<void>((resolve) => {
      setImmediate(() => done.push(gc.submit(1)))
      setImmediate(() => {
        done.push(gc.submit(2))
        resolve()
      })
    })
    await Promise.all(done)
    expect(batches).toEqual([[0], [1, 2]])
  })

  it('resolves idle() only when nothing is queued or in flight', async () => {
    const { gc, batches } = recording()
    const writes = [gc.submit(1), gc.submit(2)]
    await gc.idle()
    expect(batches).toEqual([[1, 2]])
    await Promise.all(writes)
    await gc.idle()
  })
})

describe('group commit and the event loop', () => {
  it('lets timers run while 32 writers keep a SQLite store busy', { timeout: 20_000 }, async () => {
    const store = await openStore(join(tempDir(), 'busy.db'))
    try {
      let fired = 0
      const timer = setInterval(() => fired++, 10)
      let stop = false
      const end = setTimeout(() => (stop = true), 1000)
      await Promise.all(
        Array.from({ length: 32 }, async (_, w) => {
          for (let v = 1; !stop; v++) await store.events.write([event(`busy-${w}`, v)])
        }),
      )
      clearInterval(timer)
      clearTimeout(end)
      // A 10 ms interval over a second: about 100 turns; before the fix it fired 0 times while the writers ran.
      expect(fired).toBeGreaterThan(30)
    } finally {
      await store.close()
    }
  })
})
