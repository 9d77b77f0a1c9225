import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { sqliteAcknowledger } from '../src/events/acknowledge.js'
import { SqlEventStore } from '../src/events/sql-event-store.js'
import type { ReadAggregator, RoutingKey } from '../src/events/types.js'
import { sqliteAppender } from '../src/events/sqlite-append.js'
import { Lifecycle } from '../src/lifecycle.js'
import { MIGRATIONS } from '../src/schema.js'
import { migrate } from '../src/sql/migrations.js'
import { SqliteDatabase } from '../src/sql/sqlite.js'
import { event } from '../src/testing/index.js'
import { tempDir } from './backends.js'

// `read` with the filters a projection uses must walk an index from the cursor in position order: before the
// (type, position, routing key) index, a read by type alone visited every event of the type and sorted them, so a
// live subscription's read of a few new events cost as much as the type's whole history.
describe('SQLite read plans', () => {
  it('reads by type, type and name, type and routing key, and aggregate from the cursor on, without sorting', async () => {
    const db = await SqliteDatabase.open({ path: join(tempDir(), 'plans.db'), synchronous: 'full', busyTimeoutMs: 1000 })
    afterAll(() => db.close())
    await db.configure()
    await migrate(db, MIGRATIONS)
    const store = new SqlEventStore(db, new Lifecycle(), { append: sqliteAppender(db), acknowledge: sqliteAcknowledger(db) })
    await store.write(Array.from({ length: 20 }, (_, i) => event(`a${i % 4}`, Math.floor(i / 4) + 1)))
    const type = event('x', 1).aggregatorType
    const first = (await store.read(null, null, { first: 10 })).edges[9]!.cursor
    const seen: [string, unknown[]][] = []
    const all = db.all.bind(db)
    db.all = ((sql: string, params: readonly unknown[] = []) => (seen.push([sql, [...params]]), all(sql, params))) as typeof db.all
    const cases: [ReadAggregator[], RoutingKey | null][] = [
      [[{ aggregatorType: type }], null],
      [[{ aggregatorType: type, name: 'Placed' }], null],
      [[{ aggregatorType: type }], { value: 'tenant-1' }],
      [[{ aggregatorType: type }], { value: null }],
      [[{ aggregatorType: type, aggregatorId: 'a1' }], null],
    ]
    for (const [aggregators, routingKey] of cases) {
      await store.read(aggregators, routingKey, { first: 5, after: first })
      await store.read(aggregators, routingKey, { last: 5, before: first })
    }
    db.all = all
    expect(seen.length).toBeGreaterThanOrEqual(10)
    for (const [sql, params] of seen) {
      const plan = (await db.all<{ detail: string }>(`EXPLAIN QUERY PLAN ${sql}`, params)).map((r) => r.detail).join('; ')
      expect(plan, sql).not.toMatch(/TEMP B-TREE|SCAN holdfast_events(?! USING)/)
      expect(plan, sql).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/)
    }
  })
})
