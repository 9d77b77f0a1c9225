import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { HoldfastError, openStore, StoreUnavailableError, type NewEvent, type Store } from '../src/index.js'
import { bytes, event, readAll } from '../src/testing/index.js'
import { PG_REQUIRED, uniqueSchema } from './backends.js'

/*
 * A PostgreSQL of this test's own, restarted under load: `.ci/run` makes it with pg_createcluster on another port and
 * drops it afterwards. HOLDFAST_TEST_PG_RESTART is "<version> <cluster>", HOLDFAST_TEST_PG_RESTART_URL its URL.
 */
const CLUSTER = process.env.HOLDFAST_TEST_PG_RESTART?.split(' ')
const URL = process.env.HOLDFAST_TEST_PG_RESTART_URL
if (PG_REQUIRED && (!CLUSTER || !URL)) throw new Error('HOLDFAST_TEST_PG_REQUIRED=1 but HOLDFAST_TEST_PG_RESTART(_URL) is not set')

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const ctl = (action: 'restart' | 'stop' | 'start') => run('pg_ctlcluster', [...CLUSTER!, action, ...(action === 'start' ? [] : ['-m', 'fast'])])

/** Fails the test if `promise` has not settled within `ms`: every call must settle while the server comes and goes. */
function settles<T>(promise: Promise<T>, what: string, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms))),
  ])
}

describe.skipIf(!CLUSTER || !URL)('PostgreSQL restarts under 16 writers and 2 deploy loops', () => {
  const stores: Store[] = []
  afterAll(async () => {
    await ctl('start').catch(() => {})
    for (const s of stores) await s.close().catch(() => {})
  })

  it('keeps the process alive, settles every call, loses no acknowledged write, and the same store works after', { timeout: 180_000 }, async () => {
    const schema = uniqueSchema()
    const store = await openStore({ url: URL!, schema, poolSize: 8 })
    const other = await openStore({ url: URL!, schema })
    stores.push(store, other)
    let wakes = 0
    store.events.onCommitted(() => wakes++)

    let stop = false
    const failures = { unavailable: 0, unknown: 0, other: [] as unknown[] }
    let lastRestartDone = Infinity
    let writesAfterLastRestart = 0
    /** Calls `attempt` until it succeeds, as a user retrying STORE_UNAVAILABLE would: the same arguments each time. */
    const untilDone = async (attempt: () => Promise<unknown>, what: string): Promise<void> => {
      for (;;) {
        try {
          await settles(attempt(), what)
          if (performance.now() > lastRestartDone) writesAfterLastRestart++
          return
        } catch (err) {
          if (!(err instanceof StoreUnavailableError)) {
            failures.other.push(err)
            throw err
          }
          expect(err.retryable, err.message).toBe(true)
          expect(err.message).toMatch(/PostgreSQL at 127\.0\.0\.1:\d+\/postgres/)
          failures.unavailable++
          if (err.outcome === 'unknown') failures.unknown++
          await sleep(20 + Math.random() * 50)
        }
      }
    }

    const acked: NewEvent[] = []
    const writer = async (w: number): Promise<void> => {
      for (let v = 1; !stop; v++) {
        const e = event(`w${w}`, v)
        await untilDone(() => store.events.write([e]), `write w${w}@${v}`)
        acked.push(e)
      }
    }
    const deployed: string[] = []
    const deployer = async (d: number): Promise<void> => {
      for (let n = 0; !stop; n++) {
        const hash = `sha256:${d}-${n}`
        const record = { workflowType: `wf${d}`, contentHash: hash, archive: bytes(`archive ${d} ${n}`), deployedAt: Date.now() }
        await untilDone(() => store.packages.putPackage(record), `putPackage ${hash}`)
        deployed.push(`wf${d}|${hash}`)
      }
    }
    const loops = [...Array.from({ length: 16 }, (_, w) => writer(w)), deployer(0), deployer(1)]

    await sleep(1000)
    await ctl('restart')
    await sleep(1500)
    await ctl('restart')
    await sleep(1500)
    // An outage: the server away for 3 s while every loop keeps calling.
    await ctl('stop')
    await sleep(3000)
    await ctl('start')
    lastRestartDone = performance.now()
    await sleep(2000)
    stop = true
    await Promise.all(loops)

    expect(failures.other).toEqual([])
    // The restarts must have hit calls in flight, or the test proves nothing.
    expect(failures.unavailable).toBeGreaterThan(16)
    expect(writesAfterLastRestart).toBeGreaterThan(16)

    // Every acknowledged event is stored once; per aggregate, versions 1..n without a gap.
    const stored = await readAll(other.events)
    const ids = new Set(stored.map((e) => e.id))
    expect(ids.size).toBe(stored.length)
    for (const e of acked) expect(ids.has(e.id), `acknowledged event ${e.aggregatorId}@${e.version}`).toBe(true)
    const versions = new Map<string, number[]>()
    for (const e of stored) versions.set(e.aggregatorId, [...(versions.get(e.aggregatorId) ?? []), e.version])
    for (const [agg, vs] of versions) expect(vs, agg).toEqual(vs.map((_, i) => i + 1))
    const packages = new Set((await other.packages.listPackages({ withArchives: false })).map((p) => `${p.workflowType}|${p.contentHash}`))
    for (const p of deployed) expect(packages.has(p), p).toBe(true)

    // The LISTEN connection came back: another store's commit wakes this one.
    const before = wakes
    await other.events.write([event('after-restarts', 1)])
    for (let i = 0; i < 100 && wakes === before; i++) await sleep(50)
    expect(wakes).toBeGreaterThan(before)
    console.log(
      `restarts: ${acked.length} events and ${deployed.length} packages acknowledged; ${failures.unavailable} STORE_UNAVAILABLE, ` +
        `${failures.unknown} of them outcome 'unknown' (retried, stored once)`,
    )
  })

  it('fails a call made while the server is down with a retryable STORE_UNAVAILABLE, then works', { timeout: 60_000 }, async () => {
    const store = await openStore({ url: URL!, schema: uniqueSchema() })
    stores.push(store)
    await ctl('stop')
    try {
      const err = await store.events.write([event('down', 1)]).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(HoldfastError)
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true, outcome: 'none' })
      expect((err as Error).cause).toBeDefined()
    } finally {
      await ctl('start')
    }
    for (let i = 0; ; i++) {
      try {
        await store.events.write([event('down', 1)])
        break
      } catch (err) {
        if (i > 100) throw err
        await sleep(100)
      }
    }
    expect(await readAll(store.events)).toHaveLength(1)
  })
})
