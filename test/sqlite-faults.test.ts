import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore, StoreUnavailableError, type NewEvent } from '../src/index.js'
import { bytes, event, readAll, rejectsWith } from '../src/testing/index.js'
import { tempDir } from './backends.js'
import { spawnChild } from './children/spawn.js'

const dir = tempDir()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** How late a 50 ms timer set now fires: how long the event loop is frozen meanwhile, in ms. */
function timerLateness(): Promise<number> {
  const set = performance.now()
  return new Promise<number>((resolve) => setTimeout(() => resolve(performance.now() - set - 50), 50))
}

describe('SQLite: another process holds the write lock', () => {
  it('waits without freezing the event loop, then writes once the lock is released', { timeout: 30_000 }, async () => {
    const file = join(dir, 'locked.db')
    const store = await openStore(file)
    try {
      const holder = spawnChild('lock-holder.ts', [file, '2000'])
      expect(await holder.nextLine()).toBe('locked')
      const started = performance.now()
      // Each kind of write: a group-committed append, a lone checkpoint save, an async transaction.
      const writes = Promise.all([
        store.events.write([event('o1', 1)]),
        store.checkpoints.saveWithTrace('trace', { id: 'c1', state: { n: 1 }, metadata: {}, parentId: null }),
        store.packages.putPackage({ workflowType: 'wf', contentHash: 'sha256:a', archive: bytes('a'), deployedAt: 1 }),
      ])
      const late = await timerLateness()
      expect(late, 'a 50 ms timer fired this late while the writes waited').toBeLessThan(50)
      // Reads on the same store keep answering while its writes wait.
      const read = performance.now()
      expect(await readAll(store.events)).toEqual([])
      expect(performance.now() - read).toBeLessThan(100)
      await writes
      expect(await holder.nextLine()).toBe('released')
      expect(performance.now() - started).toBeGreaterThan(1500)
      expect(await readAll(store.events)).toHaveLength(1)
      expect(await store.checkpoints.load('c1')).not.toBeNull()
      expect(await store.packages.getPackage('wf', 'sha256:a')).not.toBeNull()
      await holder.exited
    } finally {
      await store.close()
    }
  })

  it('fails a write that waited past busyTimeoutMs as retryable, and writes nothing', { timeout: 30_000 }, async () => {
    const file = join(dir, 'timeout.db')
    await (await openStore(file)).close()
    const store = await openStore({ url: file, busyTimeoutMs: 300 })
    try {
      const holder = spawnChild('lock-holder.ts', [file, '1500'])
      expect(await holder.nextLine()).toBe('locked')
      const started = performance.now()
      const err = await rejectsWith(store.events.write([event('o1', 1)]), 'STORE_UNAVAILABLE')
      expect(performance.now() - started).toBeGreaterThanOrEqual(290)
      expect(err).toBeInstanceOf(StoreUnavailableError)
      expect(err).toMatchObject({ retryable: true, outcome: 'none' })
      expect(err.message).toContain(file)
      expect(err.message).toMatch(/locked/)
      await rejectsWith(store.poison.tryPutPoison('k', 't'), 'STORE_UNAVAILABLE')
      await holder.exited
      // Retried once the lock is free, it succeeds.
      await store.events.write([event('o1', 1)])
      expect(await readAll(store.events)).toHaveLength(1)
      expect(await store.poison.getPoison('k')).toBeNull()
    } finally {
      await store.close()
    }
  })
})

describe('SQLite: files it must not change or cannot use', () => {
  it('refuses a NUL in a path instead of cutting the path there', async () => {
    await rejectsWith(openStore(join(dir, 'nul\0.db')), 'INVALID_ARGUMENT')
    expect(existsSync(join(dir, 'nul'))).toBe(false)
  })

  it('leaves a database of a newer schema byte for byte as it was (no switch to WAL)', async () => {
    const file = join(dir, 'future.db')
    const raw = new Database(file)
    raw.pragma('journal_mode = DELETE')
    raw.exec('CREATE TABLE holdfast_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)')
    raw.prepare('INSERT INTO holdfast_migrations VALUES (999, ?, 0)').run('from the future')
    raw.close()
    const before = createHash('sha256').update(readFileSync(file)).digest('hex')
    await rejectsWith(openStore(file), 'SCHEMA_VERSION')
    expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(before)
    expect(existsSync(`${file}-wal`)).toBe(false)
  })

  it('says a foreign file or a missing directory is permanent (retryable: false), naming the path', async () => {
    const foreign = join(dir, 'foreign.db')
    writeFileSync(foreign, Buffer.alloc(8192, 'not a database, just text. '))
    const before = readFileSync(foreign)
    const notDb = await rejectsWith(openStore(foreign), 'STORE_UNAVAILABLE')
    expect(notDb).toMatchObject({ retryable: false })
    expect(notDb.message).toContain(foreign)
    expect(notDb.message).toMatch(/not a SQLite database/)
    expect((notDb as Error).cause).toMatchObject({ code: 'SQLITE_NOTADB' })
    expect(readFileSync(foreign).equals(before)).toBe(true)

    const missing = join(dir, 'no-such-dir', 'x.db')
    const cannot = await rejectsWith(openStore(missing), 'STORE_UNAVAILABLE')
    expect(cannot).toMatchObject({ retryable: false })
    expect(cannot.message).toContain(missing)
  })
})

/** Mounts a tmpfs of `size` at a new directory; `undefined` where this process may not mount (not root, a sandbox). */
function tmpfs(size: string): string | undefined {
  const at = join(dir, 'tmpfs')
  mkdirSync(at, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', at], { stdio: 'ignore' })
  } catch {
    return undefined
  }
  afterAll(() => {
    execFileSync('umount', ['-l', at], { stdio: 'ignore' })
    rmSync(at, { recursive: true, force: true })
  })
  return at
}

const mounted = process.platform === 'linux' ? tmpfs('4m') : undefined
if (!mounted && process.env.CI) console.warn('disk-full test skipped: cannot mount a tmpfs here')

describe.skipIf(!mounted)('SQLite: the disk fills up', () => {
  it('fails writes with a typed retryable error, keeps reads and every acknowledged write, and writes again once space is freed', { timeout: 60_000 }, async () => {
    const at = mounted!
    const ballast = join(at, 'ballast')
    writeFileSync(ballast, Buffer.alloc(1024 * 1024))
    const file = join(at, 'full.db')
    const store = await openStore(file)
    const acked: NewEvent[] = []
    let full: unknown
    try {
      for (let v = 1; v < 10_000 && !full; v++) {
        const e = event('o', v, { data: new Uint8Array(32 * 1024).fill(v % 251) })
        try {
          await store.events.write([e])
          acked.push(e)
        } catch (err) {
          full = err
        }
      }
      expect(full).toBeInstanceOf(StoreUnavailableError)
      expect(full).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true })
      expect((full as Error).message).toContain(file)
      expect((full as Error).message).toMatch(/disk is full/)
      expect(acked.length).toBeGreaterThan(10)
      console.log(`disk full after ${acked.length} acknowledged writes: ${(full as Error).message}`)
      // Reads keep working, and show exactly what was acknowledged.
      expect((await readAll(store.events)).map((e) => e.id)).toEqual(acked.map((e) => e.id))
      await rejectsWith(store.checkpoints.saveWithTrace('t', { id: 'c', state: { big: 'x'.repeat(512 * 1024) }, metadata: {}, parentId: null }), 'STORE_UNAVAILABLE')

      unlinkSync(ballast)
      const next = event('o', acked.length + 1)
      await store.events.write([next])
      acked.push(next)
      await store.checkpoints.saveWithTrace('t', { id: 'c', state: { n: 1 }, metadata: {}, parentId: null })
    } finally {
      await store.close()
    }
    const raw = new Database(file)
    expect(raw.pragma('integrity_check', { simple: true })).toBe('ok')
    raw.close()
    const reopened = await openStore(file)
    try {
      expect((await readAll(reopened.events)).map((e) => e.id)).toEqual(acked.map((e) => e.id))
    } finally {
      await reopened.close()
    }
  })
})

// Give a lock-holder child that outlived a failed test time to exit before the directory goes.
afterAll(() => sleep(50))
