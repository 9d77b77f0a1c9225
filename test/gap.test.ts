import { PGlite } from '@electric-sql/pglite'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore, type Event, type Store } from '../src/index.js'
import { readAll } from '../src/testing/index.js'
import { PG_URL, uniqueSchema } from './backends.js'

const SECONDS = Number(process.env.HOLDFAST_TEST_GAP_SECONDS ?? 10)
const WRITERS = 16

let pglite: PGlite | undefined
afterAll(async () => pglite?.close())

// Each writer gets a store of its own (its own pool on a server), so their transactions really overlap and commit
// in an order the database picks; the reader pages forward from its last cursor the whole time.
const targets: [string, (schema: string) => Promise<Store>][] = [
  ['PGlite', async (schema) => openStore({ pglite: (pglite ??= await PGlite.create()), schema })],
]
if (PG_URL) targets.push(['PostgreSQL server', (schema) => openStore({ url: PG_URL, schema, poolSize: 2 })])

describe.each(targets)('no reader skips an event: %s', (_name, open) => {
  it(`${WRITERS} concurrent writers for ${SECONDS} s, a reader paging forward sees every event once, in order`, { timeout: (SECONDS + 60) * 1000 }, async () => {
    const schema = uniqueSchema()
    const reader = await open(schema)
    const writers = await Promise.all(Array.from({ length: WRITERS }, () => open(schema)))
    const until = Date.now() + SECONDS * 1000
    let writing = true
    const written = Promise.all(
      writers.map(async (store, w) => {
        const versions = new Map<string, number>()
        for (let n = 0; Date.now() < until; n++) {
          const aggregate = `w${w}-${n % 7}`
          const from = versions.get(aggregate) ?? 0
          const size = 1 + (n % 3)
          versions.set(aggregate, from + size)
          await store.events.write(
            Array.from({ length: size }, (_, i) => ({
              id: `w${w}-${n}-${i}`,
              aggregatorType: 'gap',
              aggregatorId: aggregate,
              version: from + i + 1,
              name: 'E',
              data: new Uint8Array([w]),
            })),
          )
        }
      }),
    ).finally(() => (writing = false))

    const seen: Event[] = []
    let after: string | undefined
    let pages = 0
    for (;;) {
      const last = !writing
      const page = await reader.events.read(null, null, after === undefined ? { first: 500 } : { first: 500, after })
      pages++
      seen.push(...page.edges.map((e) => e.node))
      if (page.pageInfo.endCursor) after = page.pageInfo.endCursor
      if (last && !page.pageInfo.hasNextPage) break
      // A caught-up reader waits a moment, as a subscriber would; PGlite answers without yielding to the event loop,
      // so a reader that never waited would starve the writers' group commits.
      await new Promise((r) => setTimeout(r, page.edges.length === 0 ? 2 : 0))
    }
    await written

    const stored = await readAll(reader.events)
    expect(stored.length).toBeGreaterThan(WRITERS * 10)
    expect(pages).toBeGreaterThan(10)
    expect(seen.map((e) => e.id)).toEqual(stored.map((e) => e.id))
    expect(new Set(seen.map((e) => e.id)).size).toBe(seen.length)
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.position).toBeGreaterThan(seen[i - 1]!.position)
    await Promise.all([reader, ...writers].map((s) => s.close()))
  })
})
