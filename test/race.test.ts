import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { readAll } from '../src/testing/index.js'
import { PG_URL, tempDir, uniqueSchema } from './backends.js'
import { spawnChild } from './children/spawn.js'

const dir = tempDir()
let files = 0
const ROUNDS = 5
const PROCESSES = 4
const PER_PROCESS = 8

// 32 writers of version N+1 of one aggregate, spread over 4 OS processes: exactly one wins each round.
const targets: [string, () => { url: string; schema: string }][] = [['SQLite file', () => ({ url: join(dir, `race-${++files}.db`), schema: '-' })]]
const pgUrl = PG_URL
if (pgUrl) targets.push(['PostgreSQL server', () => ({ url: pgUrl, schema: uniqueSchema() })])

describe.each(targets)('concurrent writers across processes: %s', (_name, where) => {
  const { url, schema } = where()

  it(`lets exactly one of ${PROCESSES * PER_PROCESS} writers of each version win, leaving versions 1..N without gaps`, async () => {
    // Open (and migrate) once first; the children then race only on writes. Migration races are tested elsewhere.
    const store = await openStore(schema === '-' ? url : { url, schema })
    const children = Array.from({ length: PROCESSES }, (_, i) => spawnChild('race-writer.ts', [url, schema, `p${i}`]))
    try {
      for (const c of children) expect(await c.nextLine()).toBe('ready')
      for (let version = 1; version <= ROUNDS; version++) {
        for (const c of children) c.send(`go hot ${version} ${PER_PROCESS}`)
        const codes = (await Promise.all(children.map((c) => c.nextLine()))).flatMap((l) => JSON.parse(l) as string[])
        expect(codes).toHaveLength(PROCESSES * PER_PROCESS)
        expect(codes.filter((c) => c === 'ok')).toHaveLength(1)
        expect(codes.filter((c) => c !== 'ok').every((c) => c === 'INVALID_ORIGINAL_VERSION')).toBe(true)
      }
      const versions = (await readAll(store.events)).filter((e) => e.aggregatorId === 'hot').map((e) => e.version)
      expect(versions).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1))
    } finally {
      for (const c of children) c.send('stop')
      await Promise.all(children.map((c) => c.exited))
      await store.close()
    }
  })
})

describe.each(targets)('concurrent openers: %s', (_name, where) => {
  it('migrate one new database safely from 4 processes at once', async () => {
    const { url, schema } = where()
    const children = Array.from({ length: PROCESSES }, (_, i) => spawnChild('race-writer.ts', [url, schema, `o${i}`]))
    try {
      for (const c of children) expect(await c.nextLine()).toBe('ready')
      for (const c of children) c.send('go first 1 1')
      const codes = (await Promise.all(children.map((c) => c.nextLine()))).flatMap((l) => JSON.parse(l) as string[])
      expect(codes.filter((c) => c === 'ok')).toHaveLength(1)
    } finally {
      for (const c of children) c.send('stop')
      await Promise.all(children.map((c) => c.exited))
    }
  })
})

describe.each(targets)('concurrent poison putters across processes: %s', (_name, where) => {
  it('lets exactly one of 4 processes × 25 putters with distinct tokens hold the key', async () => {
    const { url, schema } = where()
    const store = await openStore(schema === '-' ? url : { url, schema })
    const children = Array.from({ length: PROCESSES }, (_, i) => spawnChild('race-writer.ts', [url, schema, `p${i}`]))
    try {
      for (const c of children) expect(await c.nextLine()).toBe('ready')
      for (const round of [1, 2, 3]) {
        for (const c of children) c.send(`poison key-${round} 25`)
        const codes = (await Promise.all(children.map((c) => c.nextLine()))).flatMap((l) => JSON.parse(l) as string[])
        expect(codes).toHaveLength(100)
        expect(codes.filter((c) => c === 'ok')).toHaveLength(1)
        expect(codes.filter((c) => c !== 'ok').every((c) => c === 'POISON_CONFLICT')).toBe(true)
        expect(await store.poison.getPoison(`key-${round}`)).toMatch(/^p\d-\d+$/)
      }
    } finally {
      for (const c of children) c.send('stop')
      await Promise.all(children.map((c) => c.exited))
      await store.close()
    }
  })
})
