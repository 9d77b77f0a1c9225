import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, StoreUnavailableError, type Store } from '../src/index.js'
import { bytes, event, readAll } from '../src/testing/index.js'
import { PG_URL, uniqueSchema } from './backends.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** The migrations' advisory-lock class (`hf` + `mg`, see src/sql/migrations.ts). */
const MIGRATION_LOCK = 0x6866_6d67

describe.skipIf(!PG_URL)('PostgreSQL backends killed mid-transaction', () => {
  const url = PG_URL!
  const admin = new pg.Client({ connectionString: url })
  const stores: Store[] = []
  beforeAll(() => admin.connect())
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    for (const s of stores) if (s.backend === 'postgres') await admin.query(`DROP SCHEMA IF EXISTS "${schemaOf.get(s)}" CASCADE`).catch(() => {})
    await admin.end()
  })
  const schemaOf = new Map<Store, string>()
  const open = async (): Promise<[Store, string]> => {
    const schema = uniqueSchema()
    const store = await openStore({ url, schema })
    stores.push(store)
    schemaOf.set(store, schema)
    return [store, schema]
  }

  /**
   * Holds every table of `schema` in EXCLUSIVE mode (reads pass, writes wait) on a connection of its own, so that a
   * write of the store stops inside its transaction; `kill` terminates the backend that waits for it.
   */
  async function blocker(schema: string, lock = 'tables'): Promise<{ kill(): Promise<void>; release(): Promise<void> }> {
    const c = new pg.Client({ connectionString: url })
    await c.connect()
    await c.query('BEGIN')
    if (lock === 'tables') {
      const { rows } = await c.query<{ t: string }>(`SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = $1`, [schema])
      await c.query(`LOCK TABLE ${rows.map((r) => r.t).join(', ')} IN EXCLUSIVE MODE`)
    } else {
      await c.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [MIGRATION_LOCK, schema])
    }
    const { rows } = await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    const me = rows[0]!.pid
    return {
      async kill() {
        for (let i = 0; i < 200; i++) {
          const waiting = await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [me])
          if (waiting.rows.length > 0) {
            for (const r of waiting.rows) await admin.query('SELECT pg_terminate_backend($1)', [r.pid])
            return
          }
          await sleep(25)
        }
        throw new Error('no backend ever waited for the lock')
      },
      async release() {
        await c.query('COMMIT')
        await c.end()
      },
    }
  }

  /** Starts `call`, kills its backend while it waits inside its transaction, and checks that only it failed. */
  async function killDuring(store: Store, schema: string, call: () => Promise<unknown>, lock = 'tables'): Promise<void> {
    const b = await blocker(schema, lock)
    const pending = call().then(
      () => undefined,
      (err: unknown) => err,
    )
    try {
      await b.kill()
      const err = await pending
      expect(err).toBeInstanceOf(StoreUnavailableError)
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true, outcome: 'none' })
      // The store's other connections still answer while the lock is held.
      if (lock === 'tables') expect(await store.poison.getPoison('unrelated')).toBeNull()
    } finally {
      await b.release()
    }
  }

  it('putPackage and putPackageWithRoutes: that call fails, nothing is stored, the next call works', async () => {
    const [store, schema] = await open()
    const record = { workflowType: 'wf', contentHash: 'sha256:a', archive: bytes('a'), deployedAt: 1 }
    await killDuring(store, schema, () => store.packages.putPackage(record))
    expect(await store.packages.getPackage('wf', 'sha256:a')).toBeNull()
    await store.packages.putPackage(record)
    const second = { ...record, contentHash: 'sha256:b' }
    await killDuring(store, schema, () => store.packages.putPackageWithRoutes(second, ['wf', 'wf2']))
    expect(await store.packages.getPackage('wf', 'sha256:b')).toBeNull()
    expect((await store.packages.getPackageRoute('wf'))?.contentHash).toBe('sha256:a')
    await store.packages.putPackageWithRoutes(second, ['wf', 'wf2'])
    expect((await store.packages.getPackageRoute('wf2'))?.contentHash).toBe('sha256:b')
  })

  it('clearPoison: the key stays held and unaudited, then clears', async () => {
    const [store, schema] = await open()
    await store.poison.tryPutPoison('res/1', 'tok')
    await killDuring(store, schema, () => store.poison.clearPoison('res/1', 'ops', 'stuck'))
    expect(await store.poison.getPoison('res/1')).toBe('tok')
    expect(await store.poison.listPoisonAudit('res/1')).toEqual([])
    expect(await store.poison.clearPoison('res/1', 'ops', 'stuck')).toBe('tok')
  })

  it('Automerge compact: the document and its changes stay as they were', async () => {
    const [store, schema] = await open()
    const doc = store.automerge('doc')
    const actor = new Uint8Array([1, 2, 3, 4])
    await doc.insertChanges([[actor, 1, bytes('c1')]])
    await killDuring(store, schema, () => doc.compact(bytes('compacted'), [[actor, 1]]))
    expect(await doc.getDocument()).toBeNull()
    expect(await doc.getChanges()).toEqual([bytes('c1')])
    await doc.compact(bytes('compacted'), [[actor, 1]])
    expect(await doc.getDocument()).toEqual(bytes('compacted'))
  })

  it('deleteThread: the thread stays, then goes', async () => {
    const [store, schema] = await open()
    const address = { threadId: 't1', namespace: '', checkpointId: 'c1' }
    await store.threads.put({ ...address, parentId: null, checkpoint: { id: 'c1' }, metadata: {}, values: [] })
    await killDuring(store, schema, () => store.threads.deleteThread('t1'))
    expect(await store.threads.get('t1', '')).not.toBeNull()
    expect(await store.threads.deleteThread('t1')).toBe(true)
  })

  it('migrations: the open fails, the process lives, and the next open migrates', async () => {
    const schema = uniqueSchema()
    const b = await blocker(schema, 'migration')
    const opening = openStore({ url, schema }).then(
      (s) => (stores.push(s), schemaOf.set(s, schema), undefined),
      (err: unknown) => err,
    )
    try {
      await b.kill()
      expect(await opening).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true })
    } finally {
      await b.release()
    }
    const store = await openStore({ url, schema })
    stores.push(store)
    schemaOf.set(store, schema)
    await store.events.write([event('o1', 1)])
    expect(await readAll(store.events)).toHaveLength(1)
  })

  it('the LISTEN connection: killed, it comes back and wakes its listener again', async () => {
    const [store, schema] = await open()
    const writer = await openStore({ url, schema })
    stores.push(writer)
    let wakes = 0
    store.events.onCommitted(() => wakes++)
    let listeners: { pid: number }[] = []
    for (let i = 0; i < 100 && listeners.length === 0; i++, await sleep(20))
      listeners = (await admin.query<{ pid: number }>(`SELECT pid FROM "${schema}".event_listeners`)).rows
    expect(listeners).toHaveLength(1)
    await admin.query('SELECT pg_terminate_backend($1)', [listeners[0]!.pid])
    await sleep(300)
    const before = wakes
    await writer.events.write([event('after-kill', 1)])
    for (let i = 0; i < 100 && wakes === before; i++) await sleep(50)
    expect(wakes).toBeGreaterThan(before)
  })
})

/**
 * A TCP proxy in front of the server that can lose the reply to a request: `loseNextReply(match)` forwards the next
 * client message that contains `match` (any message when empty), swallows what the server answers, and cuts the
 * connection, as a network failure between the commit and its acknowledgement would.
 */
async function replyLosingProxy(target: { host: string; port: number }): Promise<{ port: number; loseNextReply(match: string): Promise<void>; close(): Promise<void> }> {
  let armed: { match: string; done: () => void } | undefined
  const sockets = new Set<Socket>()
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    sockets.add(client).add(upstream)
    let swallowing: (() => void) | undefined
    client.on('data', (chunk: Buffer) => {
      if (armed && (armed.match === '' || chunk.includes(armed.match))) {
        swallowing = armed.done
        armed = undefined
      }
      upstream.write(chunk)
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!swallowing) return void client.write(chunk)
      // The server has answered (so it committed): drop the answer and the connection.
      const done = swallowing
      setTimeout(() => {
        client.destroy()
        upstream.destroy()
        done()
      }, 50)
    })
    const end = () => (client.destroy(), upstream.destroy())
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    loseNextReply: (match) => new Promise<void>((resolve) => (armed = { match, done: resolve })),
    close: () => {
      for (const s of sockets) s.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
}

describe.skipIf(!PG_URL)('PostgreSQL: a commit whose reply is lost', () => {
  const target = new URL(PG_URL!)
  let proxy: Awaited<ReturnType<typeof replyLosingProxy>>
  const stores: Store[] = []
  const schema = uniqueSchema()
  beforeAll(async () => {
    proxy = await replyLosingProxy({ host: target.hostname, port: Number(target.port || 5432) })
  })
  afterAll(async () => {
    for (const s of stores) await s.close().catch(() => {})
    await proxy.close()
    const c = new pg.Client({ connectionString: PG_URL })
    await c.connect()
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    await c.end()
  })
  const viaProxy = () => {
    const u = new URL(PG_URL!)
    u.hostname = '127.0.0.1'
    u.port = String(proxy.port)
    return u.toString()
  }

  it("is reported as outcome 'unknown', and retrying the same write resolves with its events stored once", async () => {
    const store = await openStore({ url: viaProxy(), schema, poolSize: 1 })
    const direct = await openStore({ url: PG_URL!, schema })
    stores.push(store, direct)
    await store.events.write([event('o1', 1)])
    for (const write of [[event('o1', 2)], [event('o1', 3), event('o1', 4)]]) {
      const lost = proxy.loseNextReply('')
      const err = await store.events.write(write).catch((e: unknown) => e)
      await lost
      expect(err).toBeInstanceOf(StoreUnavailableError)
      expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', outcome: 'unknown', retryable: true })
      expect((err as Error).message).toMatch(/may have committed/)
      // It did commit: the server has the events although the caller was told nothing.
      const ids = new Set((await readAll(direct.events)).map((e) => e.id))
      for (const e of write) expect(ids.has(e.id)).toBe(true)
      await store.events.write(write)
    }
    expect((await readAll(direct.events)).map((e) => e.version)).toEqual([1, 2, 3, 4])
  })

  it("a lost COMMIT reply of a transaction is outcome 'unknown' too, and the retry is harmless", async () => {
    const store = await openStore({ url: viaProxy(), schema, poolSize: 1 })
    stores.push(store)
    const record = { workflowType: 'wf', contentHash: 'sha256:x', archive: bytes('x'), deployedAt: 5 }
    const lost = proxy.loseNextReply('COMMIT')
    const err = await store.packages.putPackage(record).catch((e: unknown) => e)
    await lost
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE', outcome: 'unknown' })
    await store.packages.putPackage(record)
    expect(await store.packages.listPackages({ withArchives: false })).toEqual([{ workflowType: 'wf', contentHash: 'sha256:x', deployedAt: 5 }])
  })
})
