import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { bytes } from '../src/testing/index.js'
import { PG_URL } from './backends.js'

// Text order must be code-point order even when the database's default collation is a natural-language one
// (ICU en-US sorts 'a' < 'B' < 'b'; code points sort 'B' < 'a' < 'b').
const byCodePoint = (x: string, y: string): number => Buffer.compare(Buffer.from(x), Buffer.from(y))
const NAMES = ['b', 'B', 'a', 'A', 'a1', 'a-', 'a_', 'é', 'e', 'z', 'Z9', 'ä', '\u{1F600}', '\uFFFF', '10', '9']

describe.runIf(PG_URL)('code-point order on a PostgreSQL database whose collation is not C', () => {
  const name = `holdfast_icu_${process.pid}_${Date.now()}`
  const admin = new pg.Client({ connectionString: PG_URL })
  let store: Store | undefined
  let created = false

  beforeAll(async () => {
    await admin.connect()
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`)
      created = true
    } catch (err) {
      console.warn(`no ICU collation on this server, skipping: ${(err as Error).message}`)
      return
    }
    const url = new URL(PG_URL!)
    url.pathname = `/${name}`
    store = await openStore(url.toString())
  })
  afterAll(async () => {
    await store?.close()
    if (created) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await admin.end()
  })

  it('the database really sorts differently from code points', async (ctx) => {
    if (!store) return ctx.skip()
    const client = new pg.Client({ connectionString: PG_URL!.replace(/\/[^/]*$/, `/${name}`) })
    await client.connect()
    const { rows } = await client.query<{ s: string }>(`SELECT s FROM unnest($1::text[]) s ORDER BY s`, [NAMES])
    await client.end()
    expect(rows.map((r) => r.s)).not.toEqual([...NAMES].sort(byCodePoint))
  })

  it('lists packages, routes and poison keys in code-point order', async (ctx) => {
    if (!store) return ctx.skip()
    for (const t of NAMES) {
      await store.packages.putPackage({ workflowType: t, contentHash: 'h', archive: bytes(t), deployedAt: 1 })
      await store.poison.tryPutPoison(t, 'token')
    }
    const sorted = [...NAMES].sort(byCodePoint)
    expect((await store.packages.listPackages({ withArchives: false })).map((p) => p.workflowType)).toEqual(sorted)
    expect((await store.packages.listPackageRoutes()).map((r) => r.workflowType)).toEqual(sorted)
    expect((await store.poison.listPoison()).map((r) => r.key)).toEqual(sorted)
  })
})
