import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { afterAll, expect } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { tempDir, uniqueSchema } from './backends.js'

const RUNS = process.env.HOLDFAST_MODEL_RUNS === undefined ? undefined : Number(process.env.HOLDFAST_MODEL_RUNS)
const SEED = process.env.HOLDFAST_MODEL_SEED === undefined ? undefined : Number(process.env.HOLDFAST_MODEL_SEED)

/** An operation's outcome: its value, or the code of the error it threw. */
export async function outcome(run: () => Promise<unknown>): Promise<unknown> {
  try {
    return await run()
  } catch (err) {
    return { error: (err as { code?: string }).code ?? (err as Error).message }
  }
}

/**
 * Runs random operation sequences on memory (the oracle), a SQLite file and PGlite, and asserts that every operation
 * has the same outcome on all three. `apply` must leave out clock-dependent fields. Reproduce a failure with
 * HOLDFAST_MODEL_SEED=<seed> (printed by fast-check); HOLDFAST_MODEL_RUNS sets the number of runs.
 */
export function compareBackends<Op>(ops: fc.Arbitrary<Op>, apply: (store: Store, op: Op) => Promise<unknown>, runs = 60): () => Promise<void> {
  const dir = tempDir()
  let pglite: PGlite | undefined
  afterAll(async () => pglite?.close())
  let n = 0
  return () =>
    fc.assert(
      fc.asyncProperty(fc.array(ops, { minLength: 1, maxLength: 30 }), async (sequence) => {
        pglite ??= await PGlite.create()
        const stores = [await openStore('memory:'), await openStore(join(dir, `model-${++n}.db`)), await openStore({ pglite, schema: uniqueSchema() })]
        try {
          for (const op of sequence) {
            const [expected, ...others] = await Promise.all(stores.map((s) => apply(s, op)))
            for (const got of others) expect(got, JSON.stringify(op)).toEqual(expected)
          }
        } finally {
          await Promise.all(stores.map((s) => s.close()))
        }
      }),
      { numRuns: RUNS ?? runs, ...(SEED === undefined ? {} : { seed: SEED }) },
    )
}
