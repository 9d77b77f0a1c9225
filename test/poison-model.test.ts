/*
 * Model-based test of the poison store: random operation sequences on the memory store (the oracle), a SQLite file
 * and PGlite must give the same result or the same error code at every step. Small key and token pools make puts,
 * deletes and clears collide often. Reproduce a failure with HOLDFAST_MODEL_SEED=<seed> (printed by fast-check).
 */
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { openStore, type PoisonStore, type Store } from '../src/index.js'
import { tempDir, uniqueSchema } from './backends.js'

const RUNS = Number(process.env.HOLDFAST_MODEL_RUNS ?? 60)
const SEED = process.env.HOLDFAST_MODEL_SEED === undefined ? undefined : Number(process.env.HOLDFAST_MODEL_SEED)
const KEYS = ['a', 'a/1', 'a/10', 'b', 'é'] as const
const TOKENS = ['t1', 't2', 't3'] as const

type Op =
  | { op: 'put' | 'delete'; key: string; token: string }
  | { op: 'get'; key: string }
  | { op: 'list'; prefix: string | undefined }
  | { op: 'clear'; key: string; by: string; reason: string | undefined }
  | { op: 'audit'; key: string | undefined }
  | { op: 'guard'; key: string; token: string; fails: boolean }
  | { op: 'bad'; key: string }

const key = fc.constantFrom(...KEYS)
const token = fc.constantFrom(...TOKENS)
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constantFrom('put' as const, 'delete' as const), key, token }),
  fc.record({ op: fc.constant('get' as const), key }),
  fc.record({ op: fc.constant('list' as const), prefix: fc.constantFrom(undefined, '', 'a', 'a/1', 'z') }),
  fc.record({ op: fc.constant('clear' as const), key, by: fc.constantFrom('alice', 'bob'), reason: fc.constantFrom(undefined, 'fixed') }),
  fc.record({ op: fc.constant('audit' as const), key: fc.option(key, { nil: undefined }) }),
  fc.record({ op: fc.constant('guard' as const), key, token, fails: fc.boolean() }),
  fc.record({ op: fc.constant('bad' as const), key: fc.constantFrom('', 'x'.repeat(1025)) }),
)

/** The result of one operation, without clock-dependent fields. */
async function apply(p: PoisonStore, o: Op): Promise<unknown> {
  try {
    switch (o.op) {
      case 'put':
        return await p.tryPutPoison(o.key, o.token)
      case 'delete':
        return await p.deletePoison(o.key, o.token)
      case 'get':
        return await p.getPoison(o.key)
      case 'list':
        return (await p.listPoison(o.prefix)).map((r) => [r.key, r.token])
      case 'clear':
        return await p.clearPoison(o.key, o.by, o.reason)
      case 'audit':
        return (await p.listPoisonAudit(o.key)).map((a) => [a.key, a.token, a.by, a.reason])
      case 'guard':
        return await p.withPoison(o.key, o.token, () => (o.fails ? Promise.reject(new Error('fn failed')) : 'done'))
      case 'bad':
        return await p.tryPutPoison(o.key, 't1')
    }
  } catch (err) {
    return { error: (err as { code?: string }).code ?? (err as Error).message }
  }
}

const dir = tempDir()
let pglite: PGlite | undefined
afterAll(async () => pglite?.close())

describe('poison store model', () => {
  it('gives the same results on memory, SQLite and PGlite', { timeout: 240_000 }, async () => {
    let n = 0
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 30 }), async (ops) => {
        pglite ??= await PGlite.create()
        const stores: Store[] = [await openStore('memory:'), await openStore(join(dir, `model-${++n}.db`)), await openStore({ pglite, schema: uniqueSchema() })]
        try {
          for (const o of ops) {
            const [expected, ...others] = await Promise.all(stores.map((s) => apply(s.poison, o)))
            for (const got of others) expect(got, JSON.stringify(o)).toEqual(expected)
          }
        } finally {
          await Promise.all(stores.map((s) => s.close()))
        }
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    )
  })
})
