import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { afterAll } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import type { ConformanceTarget } from '../src/testing/index.js'

/** The server PostgreSQL URL, when the environment gives one. */
export const PG_URL = process.env.HOLDFAST_TEST_PG_URL
/** With HOLDFAST_TEST_PG_REQUIRED=1 an unreachable server fails the run instead of skipping. */
export const PG_REQUIRED = process.env.HOLDFAST_TEST_PG_REQUIRED === '1'

/** A fresh temporary directory, removed after the file's tests. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'holdfast-test-'))
  afterAll(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

let unique = 0
/** A schema name no other test uses. */
export function uniqueSchema(): string {
  return `t_${process.pid}_${++unique}_${Math.random().toString(36).slice(2, 8)}`
}

/** One PGlite instance per test file (it takes seconds to start), a schema per store. */
function pgliteTarget(): ConformanceTarget {
  let instance: Promise<PGlite> | undefined
  afterAll(async () => {
    if (instance) await (await instance).close()
  })
  return {
    name: 'PGlite',
    open: async () => {
      instance ??= PGlite.create()
      return openStore({ pglite: await instance, schema: uniqueSchema() })
    },
  }
}

/** A schema per store on the server; all dropped after the file's tests. */
function serverTarget(url: string): ConformanceTarget {
  const schemas: string[] = []
  afterAll(async () => {
    if (schemas.length === 0) return
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    await client.end()
  })
  return {
    name: 'PostgreSQL server',
    open: () => {
      const schema = uniqueSchema()
      schemas.push(schema)
      return openStore({ url, schema })
    },
  }
}

/** Which backends to run; HOLDFAST_TEST_BACKENDS=memory,sqlite-file narrows it. */
const only = process.env.HOLDFAST_TEST_BACKENDS?.split(',')

/** Every backend the conformance suites run against in this environment. */
export function backends(): ConformanceTarget[] {
  const dir = tempDir()
  let n = 0
  const all: [string, () => ConformanceTarget][] = [
    ['memory', () => ({ name: 'memory', open: () => openStore('memory:') })],
    ['sqlite-file', () => ({ name: 'SQLite file', open: () => openStore(join(dir, `store-${++n}.db`)) })],
    ['sqlite-memory', () => ({ name: 'SQLite in memory', open: () => openStore('sqlite::memory:') })],
    ['pglite', pgliteTarget],
  ]
  if (PG_URL) all.push(['postgres', () => serverTarget(PG_URL)])
  else if (PG_REQUIRED) throw new Error('HOLDFAST_TEST_PG_REQUIRED=1 but HOLDFAST_TEST_PG_URL is not set')
  return all.filter(([key]) => !only || only.includes(key)).map(([, make]) => make())
}

/** Opens a store and registers its closing after the file's tests. */
export async function openForTest(target: ConformanceTarget): Promise<Store> {
  const store = await target.open()
  afterAll(() => store.close())
  return store
}

/**
 * Where tests with child processes run: a SQLite file named `file` in this test file's temporary directory, and a
 * schema per call on the PostgreSQL server when there is one (dropped after the file's tests). `schema` is `'-'` for
 * SQLite, the convention the children in test/children/ read.
 */
export function processTargets(file: string): [string, () => { url: string; schema: string }][] {
  const dir = tempDir()
  const targets: [string, () => { url: string; schema: string }][] = [['SQLite file', () => ({ url: join(dir, file), schema: '-' })]]
  const url = PG_URL
  if (!url) return targets
  const schemas: string[] = []
  targets.push([
    'PostgreSQL server',
    () => {
      const schema = uniqueSchema()
      schemas.push(schema)
      return { url, schema }
    },
  ])
  afterAll(async () => {
    if (schemas.length === 0) return
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`)
    await client.end()
  })
  return targets
}
