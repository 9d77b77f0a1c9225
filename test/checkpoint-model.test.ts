// Model-based test of the checkpoint store: memory, SQLite and PGlite agree on random operation sequences.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { compareBackends, outcome } from './model-harness.js'

const trace = fc.constantFrom('t1', 't2', 'T1')
const id = fc.constantFrom('a', 'b', 'c', 'd', 'e')
// Saves weigh most, so traces grow long enough for prune and ordering to matter.
const op = fc.oneof(
  {
    arbitrary: fc.record({
      op: fc.constant('save' as const),
      trace,
      id,
      state: fc.jsonValue({ maxDepth: 2 }),
      createdAt: fc.constantFrom(undefined, 1, 2),
      parentId: fc.constantFrom(undefined, null, 'a'),
    }),
    weight: 4,
  },
  fc.record({ op: fc.constantFrom('load' as const, 'delete' as const), id }),
  fc.record({ op: fc.constantFrom('latest' as const, 'list' as const), trace }),
  fc.record({ op: fc.constant('prune' as const), trace, keep: fc.constantFrom(0, 1, 2, 5, -1) }),
  fc.record({ op: fc.constant('traces' as const), limit: fc.constantFrom(1, 2, 10), after: fc.constantFrom(undefined, 'T1', 't1') }),
)

/** A loaded checkpoint without the store-assigned time when the caller gave none (clock-dependent). */
const strip = (c: { createdAt: number } | null, keepTime: boolean): unknown => (c && !keepTime ? { ...c, createdAt: 'now' } : c)

describe('checkpoint store model', () => {
  it(
    'gives the same results on memory, SQLite and PGlite',
    { timeout: 240_000 },
    compareBackends(
      op,
      ({ checkpoints: c }, o) =>
        outcome(async () => {
          switch (o.op) {
            case 'save':
              return c.saveWithTrace(o.trace, { id: o.id, state: o.state, parentId: o.parentId, ...(o.createdAt === undefined ? {} : { createdAt: o.createdAt }) })
            case 'load': {
              const got = await c.load(o.id)
              return strip(got, got !== null && got.createdAt < 10)
            }
            case 'delete':
              return c.delete(o.id)
            case 'latest': {
              const got = await c.loadLatest(o.trace)
              return strip(got, got !== null && got.createdAt < 10)
            }
            case 'list':
              return c.list(o.trace)
            case 'prune':
              return c.prune(o.trace, o.keep)
            case 'traces':
              return (await c.listTraces({ limit: o.limit, ...(o.after === undefined ? {} : { after: o.after }) })).map((t) => [t.traceId, t.count])
          }
        }),
      100,
    ),
  )
})
