// Model-based test of the package registry: random deploy / route / rollback / undeploy sequences (with `also`) on
// memory, SQLite and PGlite against a plain in-memory model of spec/runtime.md §3.
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { contentHashOf, openStore, PackageRegistry, type Store } from '../src/index.js'
import { bytes } from '../src/testing/index.js'
import { tempDir, uniqueSchema } from './backends.js'
import { outcome } from './model-harness.js'

const RUNS = process.env.HOLDFAST_MODEL_RUNS === undefined ? 50 : Number(process.env.HOLDFAST_MODEL_RUNS)
const SEED = process.env.HOLDFAST_MODEL_SEED === undefined ? undefined : Number(process.env.HOLDFAST_MODEL_SEED)

const ARCHIVES = ['v1', 'v2', 'v3', 'v4'].map(bytes)
const HASHES = ARCHIVES.map(contentHashOf)
const types = ['a', 'b', 'c'] as const
const type = fc.constantFrom(...types)
const version = fc.nat({ max: ARCHIVES.length - 1 })

const op = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('deploy' as const), type, version, also: fc.subarray([...types], { maxLength: 2 }) }), weight: 5 },
  { arbitrary: fc.record({ op: fc.constant('routeTo' as const), type, version }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('rollback' as const), type }), weight: 3 },
  { arbitrary: fc.record({ op: fc.constant('undeploy' as const), type, version }), weight: 2 },
  fc.record({ op: fc.constant('current' as const), type }),
  fc.record({ op: fc.constant('history' as const), type }),
  fc.record({ op: fc.constant('reload' as const), reject: fc.option(version, { nil: undefined }) }),
)
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

interface Change {
  action: string
  contentHash: string
  previousHash: string | null
  packageType: string
}

/** The registry as the spec states it: maps and arrays, deploys in call order. */
class Model {
  readonly packages = new Map<string, { workflowType: string; contentHash: string; seq: number }>()
  readonly routes = new Map<string, string>()
  readonly history = new Map<string, Change[]>()
  readonly stacks = new Map<string, string[]>()
  #seq = 0

  #changes(t: string): Change[] {
    return this.history.get(t) ?? (this.history.set(t, []), this.history.get(t)!)
  }

  #record(t: string, action: string, h: string, packageType: string): void {
    this.#changes(t).push({ action, contentHash: h, previousHash: this.routes.get(t) ?? null, packageType })
    const stack = this.stacks.get(t) ?? []
    if (action === 'rollback') stack.pop()
    if (stack.at(-1) !== h) stack.push(h)
    this.stacks.set(t, stack)
    this.routes.set(t, h)
  }

  /** The package of `h` serving `t`: its own, or the primary type's of a deploy that listed `t` in `also`. */
  #resolve(t: string, h: string): string | null {
    if (this.packages.has(`${t}|${h}`)) return `${t}|${h}`
    const via = this.#changes(t).findLast((c) => c.action === 'deploy' && c.contentHash === h && c.packageType !== t)
    return via && this.packages.has(`${via.packageType}|${h}`) ? `${via.packageType}|${h}` : null
  }

  apply(o: Op): unknown {
    switch (o.op) {
      case 'deploy': {
        const h = HASHES[o.version]!
        const all = [...new Set([o.type, ...o.also])]
        if (!(this.packages.has(`${o.type}|${h}`) && all.every((t) => this.routes.get(t) === h))) {
          this.packages.set(`${o.type}|${h}`, { workflowType: o.type, contentHash: h, seq: ++this.#seq })
          for (const t of all) this.#record(t, 'deploy', h, o.type)
        }
        return [o.type, h]
      }
      case 'routeTo': {
        const h = HASHES[o.version]!
        const key = this.#resolve(o.type, h)
        if (!key) return { error: 'NOT_FOUND' }
        if (this.routes.get(o.type) !== h) this.#record(o.type, 'route', h, key.split('|')[0]!)
        return key.split('|')
      }
      case 'rollback': {
        const target = this.stacks.get(o.type)?.at(-2)
        const key = target === undefined ? null : this.#resolve(o.type, target)
        if (!key) return { error: 'NOT_FOUND' }
        this.#record(o.type, 'rollback', target!, key.split('|')[0]!)
        return key.split('|')
      }
      case 'undeploy': {
        const h = HASHES[o.version]!
        for (const [t, routed] of [...this.routes].sort(([x], [y]) => (x < y ? -1 : 1)))
          if (routed === h && (t === o.type || !this.packages.has(`${t}|${h}`))) return { error: 'INVALID_ARGUMENT' }
        this.packages.delete(`${o.type}|${h}`)
        return undefined
      }
      case 'current': {
        const h = this.routes.get(o.type)
        const key = h === undefined ? null : this.#resolve(o.type, h)
        return key && key.split('|')
      }
      case 'history':
        return this.#changes(o.type).map((c) => [c.action, c.contentHash, c.previousHash, c.packageType])
      case 'reload': {
        const rejected = o.reject === undefined ? undefined : HASHES[o.reject]
        const order = [...this.packages.values()].sort((x, y) => x.seq - y.seq)
        const loaded = order.filter((p) => p.contentHash !== rejected)
        const routes = [...this.routes]
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([t, h]) => {
            const own = loaded.find((p) => p.workflowType === t && p.contentHash === h)
            const any = loaded.findLast((p) => p.contentHash === h)
            const p = own ?? any
            return [t, h, p ? `${p.workflowType}|${p.contentHash}` : null]
          })
        return {
          loaded: loaded.map((p) => [p.workflowType, p.contentHash]),
          skipped: order.filter((p) => p.contentHash === rejected).map((p) => [p.workflowType, p.contentHash]),
          routes,
        }
      }
    }
  }
}

async function run(registry: PackageRegistry, o: Op): Promise<unknown> {
  return outcome(async () => {
    switch (o.op) {
      case 'deploy': {
        const r = await registry.deploy(o.type, ARCHIVES[o.version]!, { by: 'model', also: o.also })
        return [r.workflowType, r.contentHash]
      }
      case 'routeTo': {
        const r = await registry.routeTo(o.type, HASHES[o.version]!, { by: 'model' })
        return [r.workflowType, r.contentHash]
      }
      case 'rollback': {
        const r = await registry.rollback(o.type, { by: 'model' })
        return [r.workflowType, r.contentHash]
      }
      case 'undeploy':
        return registry.undeploy(o.type, HASHES[o.version]!)
      case 'current': {
        const r = await registry.current(o.type)
        return r && [r.workflowType, r.contentHash]
      }
      case 'history':
        return (await registry.history(o.type)).map((c) => [c.action, c.contentHash, c.previousHash, c.packageType])
      case 'reload': {
        const rejected = o.reject === undefined ? undefined : HASHES[o.reject]
        const report = await registry.reload((p) => {
          if (p.contentHash === rejected) throw new Error('rejected')
        })
        return {
          loaded: report.loaded.map((p) => [p.workflowType, p.contentHash]),
          skipped: report.skipped.map((p) => [p.workflowType, p.contentHash]),
          routes: report.routes.map((r) => [r.workflowType, r.contentHash, r.package && `${r.package.workflowType}|${r.package.contentHash}`]),
        }
      }
    }
  })
}

describe('package registry model', () => {
  const dir = tempDir()
  let pglite: PGlite | undefined
  afterAll(async () => pglite?.close())
  // Deploy times strictly increase, so listPackages' order is call order on every backend, as in the model.
  beforeEach(() => {
    let now = Date.now()
    vi.spyOn(Date, 'now').mockImplementation(() => ++now)
  })
  afterEach(() => {
    vi.restoreAllMocks()
  })
  let n = 0

  it('agrees with the model on memory, SQLite and PGlite', { timeout: 300_000 }, () =>
    fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (sequence) => {
        pglite ??= await PGlite.create()
        const stores: Store[] = [await openStore('memory:'), await openStore(join(dir, `registry-${++n}.db`)), await openStore({ pglite, schema: uniqueSchema() })]
        const registries = stores.map((s) => new PackageRegistry(s))
        const model = new Model()
        try {
          for (const o of sequence) {
            const expected = model.apply(o)
            const got = await Promise.all(registries.map((r) => run(r, o)))
            for (const [i, g] of got.entries()) expect(g, `${['memory', 'SQLite', 'PGlite'][i]}: ${JSON.stringify(o)}`).toEqual(expected)
          }
        } finally {
          await Promise.all(stores.map((s) => s.close()))
        }
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }) },
    ),
  )
})
