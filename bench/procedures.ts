// Durable procedures: ProcedureRunner running procedures of 5 steps with a ~200-byte state, 20 at once, against the
// same work issued directly on the stores (per procedure: tryPutPoison, 5 saveWithTrace, deletePoison), 20 at once.
// The runner's extra work is its record before the keys (a sixth save), the checkpoint metadata, the lease fence
// (a clock check, the lease renewed on a timer) and its bookkeeping. Target: ≥ 0.7x the direct rate.
import { compare, loadBuilt, removeDb, tempDbPath, ulid, type BenchOptions, type Contender } from './lib.js'
import { freshDatabase } from './postgres.js'
import type { Report } from './report.js'

const CONCURRENCY = 20
const STEPS = ['start', 's2', 's3', 's4', 's5']

interface BenchState {
  step: number
  messages: { role: string; content: string }[]
  done: boolean
}
/** A fresh ~200-byte state (JSON), as the checkpoint bench uses. */
const state = (step: number): BenchState => ({
  step,
  messages: [
    { role: 'user', content: 'Plan three days in Lisbon for under 900 euros.' },
    { role: 'assistant', content: 'Day 1: Alfama and the castle. Day 2: Belem. Day 3: Sintra by train.' },
  ],
  done: false,
})

// The few calls the bench makes, declared structurally (see holdfast.ts).
interface Store {
  checkpoints: { saveWithTrace(traceId: string, c: { id: string; state: unknown; metadata?: Record<string, unknown>; parentId?: string | null }): Promise<void> }
  poison: { tryPutPoison(key: string, token: string): Promise<void>; deletePoison(key: string, token: string): Promise<void> }
  close(): Promise<void>
}
type Step = (s: BenchState) => Promise<{ next: string; state: BenchState }>
interface Runner {
  define(type: string, def: { poisonKeys: (input: { key: string }) => string[]; steps: Record<string, Step> }): void
  run(type: string, input: { key: string }): Promise<{ id: string; result: unknown }>
  close(): Promise<void>
}
interface Built {
  openStore(target: string): Promise<Store>
  ProcedureRunner: new (store: Store, options?: { runnerId?: string }) => Runner
}

type Open = (name: string) => Promise<{ store: Store; close: () => Promise<void> }>

function runner(open: Open, name: string): Contender['open'] {
  return async () => {
    const { ProcedureRunner } = await loadBuilt<Built>('index.js')
    const { store, close } = await open(name)
    const procedures = new ProcedureRunner(store, { runnerId: `bench-${ulid()}` })
    const steps: Record<string, Step> = {}
    STEPS.forEach((step, i) => (steps[step] = async (s) => ({ next: STEPS[i + 1] ?? 'done', state: state(s.step + 1) })))
    procedures.define('bench/five', { poisonKeys: (input) => [`res/${input.key}`], steps })
    return {
      op: async () => {
        await procedures.run('bench/five', { key: ulid() })
        return STEPS.length
      },
      close: async () => {
        await procedures.close()
        await close()
      },
    }
  }
}

function direct(open: Open, name: string): Contender['open'] {
  return async () => {
    const { store, close } = await open(name)
    return {
      op: async () => {
        const id = ulid()
        const key = `res/${id}`
        await store.poison.tryPutPoison(key, id)
        for (let i = 0; i < STEPS.length; i++)
          await store.checkpoints.saveWithTrace(`procedure/${id}`, { id: `procedure/${id}/${i + 1}`, state: state(i + 1), metadata: { step: STEPS[i + 1] ?? '__done__' } })
        await store.poison.deletePoison(key, id)
        return STEPS.length
      },
      close,
    }
  }
}

async function group(report: Report, opts: BenchOptions, engine: 'sqlite' | 'postgres', open: Open): Promise<void> {
  const c = { concurrency: CONCURRENCY, warmupOps: 1, unit: 'steps/s' as const }
  await compare(report, opts, [
    { ...c, id: `${engine}.procedures.runner`, label: `${engine} ProcedureRunner, 5 steps, 20 at once`, open: runner(open, 'proc_runner') },
    { ...c, id: `${engine}.procedures.direct`, label: `${engine} the same saves + poison ops on the stores, 20 at once`, open: direct(open, 'proc_direct') },
  ])
  report.ratio(`${engine}.procedures.runner-vs-direct`, `${engine} procedures: runner / direct store calls`, `${engine}.procedures.runner`, `${engine}.procedures.direct`, { op: '>=', value: 0.7 })
}

export async function sqliteProcedures(report: Report, opts: BenchOptions): Promise<void> {
  const { openStore } = await loadBuilt<Built>('index.js')
  await group(report, opts, 'sqlite', async (name) => {
    const path = tempDbPath(name)
    const store = await openStore(path)
    return { store, close: async () => (await store.close(), removeDb(path)) }
  })
}

export async function postgresProcedures(report: Report, opts: BenchOptions): Promise<void> {
  const { openStore } = await loadBuilt<Built>('index.js')
  await group(report, opts, 'postgres', async (name) => {
    const store = await openStore(await freshDatabase(opts, name))
    return { store, close: () => store.close() }
  })
}
