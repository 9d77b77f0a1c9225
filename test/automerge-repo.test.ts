// automerge-repo's own storage adapter acceptance suite on every backend (key semantics: testing/chunk-store-suite.ts),
// a Repo across a SIGKILL, and relaxed removes.
import { runStorageAdapterTests } from '@automerge/automerge-repo/helpers/tests/storage-adapter-tests.js'
import { join } from 'node:path'
import { Repo, type AutomergeUrl } from '@automerge/automerge-repo'
import { describe, expect, it } from 'vitest'
import { SqlChunkStores } from '../src/automerge/chunk-store.js'
import { HoldfastStorageAdapter } from '../src/automerge/index.js'
import { SqlAutomergeStore } from '../src/automerge/sql-persister.js'
import { Lifecycle } from '../src/lifecycle.js'
import { MIGRATIONS } from '../src/schema.js'
import { migrate } from '../src/sql/migrations.js'
import { SqliteDatabase } from '../src/sql/sqlite.js'
import { openStore } from '../src/index.js'
import { backends, PG_URL, tempDir, uniqueSchema } from './backends.js'
import { spawnChild } from './children/spawn.js'

for (const target of backends()) {
  runStorageAdapterTests(async () => {
    const store = await target.open()
    return { adapter: new HoldfastStorageAdapter(store), teardown: () => store.close() }
  }, `HoldfastStorageAdapter on ${target.name}`)
}

describe('a Repo on Holdfast across processes', () => {
  const targets: [string, () => { url: string; schema: string }][] = [['SQLite file', () => ({ url: join(tempDir(), 'repo.db'), schema: '-' })]]
  const pgUrl = PG_URL
  if (pgUrl) targets.push(['PostgreSQL server', () => ({ url: pgUrl, schema: uniqueSchema() })])

  it.each(targets)('finds the document a killed process wrote, intact: %s', { timeout: 60_000 }, async (_name, where) => {
    const { url, schema } = where()
    const child = spawnChild('repo-writer.ts', [url, schema])
    const line = await child.nextLine()
    child.proc.kill('SIGKILL')
    expect(await child.exited).toBe('SIGKILL')
    const docUrl = line.replace(/^url /, '') as AutomergeUrl
    const store = await openStore(schema === '-' ? url : { url, schema })
    try {
      const repo = new Repo({ storage: new HoldfastStorageAdapter(store), network: [] })
      const handle = await repo.find<{ items: string[]; title?: string }>(docUrl)
      expect(handle.doc()).toEqual({ items: Array.from({ length: 20 }, (_, i) => `item ${i}`), title: 'written by the first process' })
      await repo.shutdown()
    } finally {
      await store.close()
    }
  })
})

describe('relaxed chunk removes on SQLite', () => {
  it('commit without their own fsync and leave the connection at synchronous=FULL', async () => {
    const db = await SqliteDatabase.open({ path: join(tempDir(), 'relaxed.db'), synchronous: 'full', busyTimeoutMs: 1000 })
    try {
      await db.configure()
      await migrate(db, MIGRATIONS)
      const store = new SqlAutomergeStore(db, new Lifecycle())
      const chunks = new SqlChunkStores(db, new Lifecycle(), store).open('')
      await chunks.save(['d', 'x'], Uint8Array.of(1))
      await Promise.all([chunks.remove(['d', 'x']), chunks.remove(['d', 'y'])])
      expect(await chunks.load(['d', 'x'])).toBeUndefined()
      expect(db.db.pragma('synchronous', { simple: true })).toBe(2)
    } finally {
      await db.close()
    }
  })
})
