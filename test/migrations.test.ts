import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { MIGRATIONS } from '../src/schema.js'
import { migrate } from '../src/sql/migrations.js'
import { PgDatabase } from '../src/sql/postgres.js'
import { SqliteDatabase } from '../src/sql/sqlite.js'
import { event, readAll, rejectsWith } from '../src/testing/index.js'
import { PG_URL, tempDir, uniqueSchema } from './backends.js'

/** The last schema before the second write path (migration 8: lock-guarded versions, lone and JSON batch appends). */
const V7 = MIGRATIONS.slice(0, 7)

/** 3 aggregates × 5 events, inserted as the version-7 schema stores them. */
const rows = Array.from({ length: 15 }, (_, i) => ({ position: i + 1, id: `old-${i}`, agg: `a${i % 3}`, version: Math.floor(i / 3) + 1 }))

/** What every upgraded store must show: the old events as they were, and versions still enforced. */
async function checkUpgraded(store: Store): Promise<void> {
  const all = await readAll(store.events)
  expect(all.map((e) => [e.position, e.id, e.aggregatorId, e.version])).toEqual(rows.map((r) => [r.position, r.id, r.agg, r.version]))
  expect(Buffer.from(all[4]!.data).toString()).toBe('old-4')
  await store.events.write([event('a1', 6)])
  const err = await rejectsWith(store.events.write([event('a1', 6)]), 'INVALID_ORIGINAL_VERSION')
  expect(err.message).toContain('6')
  await rejectsWith(store.events.write([event('a2', 7)]), 'INVALID_ORIGINAL_VERSION')
  await store.events.write([event('a2', 6), event('a2', 7)])
  const page = await store.events.read([{ aggregatorType: 'shop/Order', aggregatorId: 'a2' }], null, { first: 100 })
  expect(page.edges.map((e) => e.node.version)).toEqual([1, 2, 3, 4, 5, 6, 7])
}

describe('migrations', () => {
  it('upgrades a SQLite file written by schema 7, keeping its events and their positions', async () => {
    const file = join(tempDir(), 'v7.db')
    const db = await SqliteDatabase.open({ path: file, synchronous: 'full', busyTimeoutMs: 1000 })
    await db.configure()
    await migrate(db, V7)
    await db.close()
    const raw = new Database(file)
    const insert = raw.prepare(
      `INSERT INTO holdfast_events (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
       VALUES (?, ?, 'shop/Order', ?, ?, 'Placed', NULL, ?, ?, 0)`,
    )
    for (const r of rows) insert.run(r.position, r.id, r.agg, r.version, Buffer.from(r.id), Buffer.from('{}'))
    raw.close()

    const store = await openStore(file)
    try {
      await checkUpgraded(store)
    } finally {
      await store.close()
    }
    const after = new Database(file, { readonly: true })
    const indexes = after.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'holdfast_events' ORDER BY name`).pluck().all()
    expect(indexes).toEqual(['holdfast_events_by_aggregate', 'holdfast_events_by_type', 'sqlite_autoindex_holdfast_events_1'])
    after.close()
  })

  it.runIf(PG_URL)('upgrades a PostgreSQL schema written by schema 7, keeping its events and their positions', async () => {
    const schema = uniqueSchema()
    const db = await PgDatabase.open({ url: PG_URL!, schema, poolSize: 2 })
    await migrate(db, V7)
    await db.close()
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    try {
      for (const r of rows)
        await client.query(
          `INSERT INTO "${schema}".events (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
           VALUES ($1, $2, 'shop/Order', $3, $4, 'Placed', NULL, $5, $6, 0)`,
          [r.position, r.id, r.agg, r.version, Buffer.from(r.id), Buffer.from('{}')],
        )
      const store = await openStore({ url: PG_URL!, schema })
      try {
        await checkUpgraded(store)
      } finally {
        await store.close()
      }
      const { rows: unique } = await client.query(`SELECT conname FROM pg_constraint WHERE conrelid = '"${schema}".events'::regclass AND contype = 'u'`)
      expect(unique.map((r: { conname: string }) => r.conname)).toEqual(['events_id_key'])
      await client.query(`DROP SCHEMA "${schema}" CASCADE`)
    } finally {
      await client.end()
    }
  })
})
