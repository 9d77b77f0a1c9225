import { join } from 'node:path'
import Database from 'better-sqlite3'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { event, readAll, rejectsWith } from '../src/testing/index.js'
import { PG_URL, tempDir, uniqueSchema } from './backends.js'

const dir = tempDir()

describe('openStore', () => {
  it('opens every URL form', async () => {
    for (const url of [join(dir, 'plain.db'), `sqlite:${join(dir, 'scheme.db')}`, `sqlite://${join(dir, 'slashes.db')}`, 'sqlite::memory:', 'memory:']) {
      const store = await openStore(url)
      expect(store.backend).toBe(url === 'memory:' ? 'memory' : 'sqlite')
      await store.events.write([event('o', 1)])
      await store.close()
    }
  })

  it('keeps data across reopening a SQLite file', async () => {
    const file = join(dir, 'reopen.db')
    const first = await openStore(file)
    await first.events.write([event('o', 1), event('o', 2)])
    await first.close()
    const second = await openStore(`sqlite:${file}`)
    expect((await readAll(second.events)).map((e) => e.version)).toEqual([1, 2])
    await second.close()
  })

  it('rejects bad URLs and options with INVALID_ARGUMENT', async () => {
    await rejectsWith(openStore('mysql://localhost/db'), 'INVALID_ARGUMENT')
    await rejectsWith(openStore(''), 'INVALID_ARGUMENT')
    await rejectsWith(openStore('sqlite:'), 'INVALID_ARGUMENT')
    await rejectsWith(openStore({ url: 'memory:', schema: 'bad-name' }), 'INVALID_ARGUMENT')
    await rejectsWith(openStore({ url: 'memory:', synchronous: 'off' as 'full' }), 'INVALID_ARGUMENT')
    await rejectsWith(openStore(42 as unknown as string), 'INVALID_ARGUMENT')
  })

  it('reports an unreachable server or file as STORE_UNAVAILABLE', async () => {
    await rejectsWith(openStore('postgres://postgres@127.0.0.1:1/none'), 'STORE_UNAVAILABLE')
    await rejectsWith(openStore(join(dir, 'no-such-dir', 'x.db')), 'STORE_UNAVAILABLE')
  })

  it('refuses a SQLite database written by a newer Holdfast and leaves it untouched', async () => {
    const file = join(dir, 'newer.db')
    await (await openStore(file)).close()
    const raw = new Database(file)
    raw.prepare('INSERT INTO holdfast_migrations (version, name, applied_at) VALUES (999, ?, 0)').run('from the future')
    raw.close()
    const err = await rejectsWith(openStore(file), 'SCHEMA_VERSION')
    expect(err.message).toContain('999')
    const check = new Database(file)
    expect(check.prepare('SELECT max(version) AS v FROM holdfast_migrations').get()).toEqual({ v: 999 })
    check.close()
  })

  it.runIf(PG_URL)('refuses a PostgreSQL schema written by a newer Holdfast', async () => {
    const schema = uniqueSchema()
    await (await openStore({ url: PG_URL!, schema })).close()
    const client = new pg.Client({ connectionString: PG_URL })
    await client.connect()
    try {
      await client.query(`INSERT INTO "${schema}".migrations (version, name, applied_at) VALUES (999, 'from the future', 0)`)
      await rejectsWith(openStore({ url: PG_URL!, schema }), 'SCHEMA_VERSION')
      await client.query(`DROP SCHEMA "${schema}" CASCADE`)
    } finally {
      await client.end()
    }
  })
})
