/*
 * Model-based test of the event store: random operation sequences run against the memory store (the reference
 * model, `src/events/memory-event-store.ts`), a SQLite file and PGlite, and every operation must give the same result
 * on all three: the same value (events compared field by field with their positions, without the clock-dependent
 * `timestamp`; cursors as strings; pageInfo exactly) or an error with the same code (plus, for
 * INVALID_ORIGINAL_VERSION, the same aggregate and versions).
 *
 * Reproduce a failure with the seed (and path) fast-check prints:
 *   HOLDFAST_MODEL_SEED=<seed> HOLDFAST_MODEL_PATH=<path> npx vitest run test/event-store-model.test.ts
 * The failure message also lists the calls that led to it, as code that can be pasted into a script.
 * HOLDFAST_MODEL_RUNS overrides the number of runs (for a longer soak).
 */
import { isDeepStrictEqual } from 'node:util'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { encodeCursor, openStore, type Args, type Event, type EventStore, type NewEvent, type ReadAggregator, type ReadResult, type RoutingKey, type Store } from '../src/index.js'
import { readAll } from '../src/testing/helpers.js'
import { tempDir, uniqueSchema } from './backends.js'

const NUM_RUNS = Number(process.env.HOLDFAST_MODEL_RUNS ?? 100)
const SEED = process.env.HOLDFAST_MODEL_SEED === undefined ? undefined : Number(process.env.HOLDFAST_MODEL_SEED)
const PATH = process.env.HOLDFAST_MODEL_PATH

// ---------------------------------------------------------------------------------------------------------------
// Small pools, so that operations collide often.

const TYPES = ['shop/Order', 'shop/Cart'] as const
const AGG_IDS = ['o1', 'o2', 'o3'] as const
/** The 6 aggregates writes draw from. */
const AGGREGATES: { aggregatorType: string; aggregatorId: string }[] = TYPES.flatMap((aggregatorType) => AGG_IDS.map((aggregatorId) => ({ aggregatorType, aggregatorId })))
const ALL_AGGREGATES = AGGREGATES.map((_, i) => i)
const NAMES = ['Placed', 'Paid', 'Shipped'] as const
const SUB_KEYS = ['s1', 's2'] as const
const WORKERS = ['w1', 'w2'] as const
const REVISIONS = ['r1', 'r2'] as const
/** `hf1.01`: shaped like a cursor but not canonical, so INVALID_ARGUMENT. */
const NON_CANONICAL_CURSOR = Buffer.from('hf1.01').toString('base64url')

// ---------------------------------------------------------------------------------------------------------------
// Abstract operations. Choices that depend on the state (the next version, stored ids, cursors seen) are resolved
// when the operation runs, against what the oracle has accepted so far, so shrunk sequences stay meaningful.

type VersionMode = 'next' | 'skip' | 'back' | 'repeat' | 'zero'
type IdChoice = { kind: 'fresh' } | { kind: 'stored'; pick: number } | { kind: 'batch'; pick: number }
type CursorChoice = { kind: 'seen'; pick: number } | { kind: 'pos'; k: number } | { kind: 'bad'; text: string }

interface EventSpec {
  agg: number
  version: VersionMode
  name: (typeof NAMES)[number]
  routingKey: string | null | undefined
  data: Uint8Array
  metadata: Uint8Array | undefined
  id: IdChoice
}

interface WriteSpec {
  events: EventSpec[]
  /** Swap events `swap % (n - 1)` and the next one (out-of-order versions). */
  swap: number | null
}

type ArgsSpec =
  | { kind: 'none' }
  | { kind: 'empty' }
  | { kind: 'first'; n: number }
  | { kind: 'last'; n: number }
  | { kind: 'after'; n: number | undefined; cursor: CursorChoice }
  | { kind: 'before'; n: number | undefined; cursor: CursorChoice }
  | { kind: 'invalid'; args: Args }

type Op =
  | { op: 'write'; write: WriteSpec }
  | { op: 'concurrent'; writes: WriteSpec[] }
  | { op: 'read'; filters: ReadAggregator[] | null | undefined; routingKey: RoutingKey | null | undefined; args: ArgsSpec }
  | { op: 'upsertSubscriber'; key: string; worker: string }
  | { op: 'isSubscriberRunning'; key: string; worker: string }
  | { op: 'getSubscriberCursor'; key: string }
  | { op: 'getSubscriber'; key: string }
  | { op: 'acknowledge'; key: string; cursor: CursorChoice; lag: number; worker: string | undefined }
  | { op: 'saveSnapshot'; type: string; revision: string; id: string; data: Uint8Array; cursor: CursorChoice }
  | { op: 'getSnapshot'; type: string; revision: string; id: string }

const smallBytes = (max: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max }).map((b) => new Uint8Array(b))

const versionMode: fc.Arbitrary<VersionMode> = fc.oneof(
  { arbitrary: fc.constant<VersionMode>('next'), weight: 30 },
  { arbitrary: fc.constant<VersionMode>('skip'), weight: 2 },
  { arbitrary: fc.constant<VersionMode>('back'), weight: 2 },
  { arbitrary: fc.constant<VersionMode>('repeat'), weight: 2 },
  { arbitrary: fc.constant<VersionMode>('zero'), weight: 1 },
)

const idChoice: fc.Arbitrary<IdChoice> = fc.oneof(
  { arbitrary: fc.constant<IdChoice>({ kind: 'fresh' }), weight: 30 },
  { arbitrary: fc.nat(50).map<IdChoice>((pick) => ({ kind: 'stored', pick })), weight: 2 },
  { arbitrary: fc.nat(50).map<IdChoice>((pick) => ({ kind: 'batch', pick })), weight: 1 },
)

const eventSpec: fc.Arbitrary<EventSpec> = fc.record({
  agg: fc.nat(AGGREGATES.length - 1),
  version: versionMode,
  name: fc.constantFrom(...NAMES),
  routingKey: fc.constantFrom<string | null | undefined>(null, undefined, 'a', 'b'),
  data: smallBytes(3),
  metadata: fc.option(smallBytes(2), { nil: undefined, freq: 3 }),
  id: idChoice,
})

const writeSpec: fc.Arbitrary<WriteSpec> = fc.record({
  events: fc.array(eventSpec, { maxLength: 4, size: 'max' }),
  swap: fc.option(fc.nat(10), { nil: null, freq: 6 }),
})

const cursorChoice: fc.Arbitrary<CursorChoice> = fc.oneof(
  { arbitrary: fc.nat(100).map<CursorChoice>((pick) => ({ kind: 'seen', pick })), weight: 3 },
  { arbitrary: fc.nat(100).map<CursorChoice>((k) => ({ kind: 'pos', k })), weight: 3 },
)
const ackCursor: fc.Arbitrary<CursorChoice> = fc.oneof(
  { arbitrary: cursorChoice, weight: 12 },
  { arbitrary: fc.constantFrom('nope!', '', NON_CANONICAL_CURSOR).map<CursorChoice>((text) => ({ kind: 'bad', text })), weight: 1 },
)

const pageSize = fc.integer({ min: 1, max: 5 })
const argsSpec: fc.Arbitrary<ArgsSpec> = fc.oneof(
  { arbitrary: fc.constant<ArgsSpec>({ kind: 'none' }), weight: 2 },
  { arbitrary: fc.constant<ArgsSpec>({ kind: 'empty' }), weight: 1 },
  { arbitrary: pageSize.map<ArgsSpec>((n) => ({ kind: 'first', n })), weight: 3 },
  { arbitrary: pageSize.map<ArgsSpec>((n) => ({ kind: 'last', n })), weight: 3 },
  { arbitrary: fc.record({ n: fc.option(pageSize, { nil: undefined, freq: 5 }), cursor: cursorChoice }).map<ArgsSpec>((r) => ({ kind: 'after', ...r })), weight: 5 },
  { arbitrary: fc.record({ n: fc.option(pageSize, { nil: undefined, freq: 5 }), cursor: cursorChoice }).map<ArgsSpec>((r) => ({ kind: 'before', ...r })), weight: 5 },
  {
    arbitrary: fc
      .constantFrom<Args>(
        { first: 0 },
        { last: 0 },
        { first: -1 },
        { first: 1.5 },
        { last: 10_001 },
        { first: 2, last: 2 },
        { first: 2, before: encodeCursor(1) },
        { last: 2, after: encodeCursor(1) },
        { after: encodeCursor(1), before: encodeCursor(2) },
        { after: 'nope!' },
        { before: NON_CANONICAL_CURSOR },
      )
      .map<ArgsSpec>((args) => ({ kind: 'invalid', args })),
    weight: 1,
  },
)

const readFilter: fc.Arbitrary<ReadAggregator> = fc
  .record({
    aggregatorType: fc.oneof({ arbitrary: fc.constantFrom<string>(...TYPES), weight: 6 }, { arbitrary: fc.constant('shop/Other'), weight: 1 }),
    aggregatorId: fc.option(fc.constantFrom<string>(...AGG_IDS), { nil: undefined }),
    name: fc.option(fc.constantFrom<string>(...NAMES), { nil: undefined, freq: 3 }),
  })
  .map((r) => ({
    aggregatorType: r.aggregatorType,
    ...(r.aggregatorId === undefined ? {} : { aggregatorId: r.aggregatorId }),
    ...(r.name === undefined ? {} : { name: r.name }),
  }))

const readOp: fc.Arbitrary<Op> = fc.record({
  op: fc.constant('read' as const),
  filters: fc.oneof(
    { arbitrary: fc.constantFrom<ReadAggregator[] | null | undefined>(null, undefined, []), weight: 3 },
    { arbitrary: fc.array(readFilter, { minLength: 1, maxLength: 2 }), weight: 3 },
  ),
  routingKey: fc.constantFrom<RoutingKey | null | undefined>(undefined, undefined, undefined, null, { all: true }, { all: true }, { value: 'a' }, { value: 'b' }, { value: null }),
  args: argsSpec,
})

const subKey = fc.constantFrom<string>(...SUB_KEYS)
const worker = fc.constantFrom<string>(...WORKERS)

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: writeSpec.map<Op>((write) => ({ op: 'write', write })), weight: 8 },
  { arbitrary: fc.array(writeSpec, { minLength: 2, maxLength: 3 }).map<Op>((writes) => ({ op: 'concurrent', writes })), weight: 2 },
  { arbitrary: readOp, weight: 8 },
  { arbitrary: fc.record({ key: subKey, worker }).map<Op>((r) => ({ op: 'upsertSubscriber', ...r })), weight: 3 },
  { arbitrary: fc.record({ key: subKey, worker }).map<Op>((r) => ({ op: 'isSubscriberRunning', ...r })), weight: 1 },
  { arbitrary: subKey.map<Op>((key) => ({ op: 'getSubscriberCursor', key })), weight: 1 },
  { arbitrary: subKey.map<Op>((key) => ({ op: 'getSubscriber', key })), weight: 1 },
  {
    arbitrary: fc
      .record({
        key: subKey,
        cursor: ackCursor,
        lag: fc.oneof({ arbitrary: fc.nat(20), weight: 12 }, { arbitrary: fc.constantFrom(-1, 0.5), weight: 1 }),
        worker: fc.option(worker, { nil: undefined }),
      })
      .map<Op>((r) => ({ op: 'acknowledge', ...r })),
    weight: 3,
  },
  {
    arbitrary: fc
      .record({ type: fc.constantFrom<string>(...TYPES), revision: fc.constantFrom<string>(...REVISIONS), id: fc.constantFrom<string>('o1', 'o2'), data: smallBytes(3), cursor: ackCursor })
      .map<Op>((r) => ({ op: 'saveSnapshot', ...r })),
    weight: 1,
  },
  {
    arbitrary: fc
      .record({ type: fc.constantFrom<string>(...TYPES), revision: fc.constantFrom<string>(...REVISIONS), id: fc.constantFrom<string>('o1', 'o2') })
      .map<Op>((r) => ({ op: 'getSnapshot', ...r })),
    weight: 1,
  },
)

const opsArb = fc.array(opArb, { minLength: 1, maxLength: 40, size: 'max' })

// ---------------------------------------------------------------------------------------------------------------
// Resolving abstract choices against what the oracle has accepted so far.

class Tracker {
  /** Stored version per aggregate (`type/id`). */
  readonly versions = new Map<string, number>()
  /** Ids stored, in commit order. */
  readonly ids: string[] = []
  /** Cursors returned by earlier reads. */
  readonly cursors: string[] = []
  events = 0
  #nextId = 0

  freshId(): string {
    return `ev-${this.#nextId++}`
  }

  cursor(c: CursorChoice): string {
    if (c.kind === 'bad') return c.text
    if (c.kind === 'seen' && this.cursors.length > 0) return this.cursors[c.pick % this.cursors.length]!
    // encodeCursor(k) for k in 0..events+2: before the first, at every event, and past the end.
    return encodeCursor((c.kind === 'pos' ? c.k : c.pick) % (this.events + 3))
  }

  committed(events: NewEvent[]): void {
    for (const e of events) {
      this.versions.set(`${e.aggregatorType}/${e.aggregatorId}`, e.version)
      this.ids.push(e.id)
    }
    this.events += events.length
  }

  seen(page: ReadResult<Event>): void {
    for (const c of [...page.edges.map((e) => e.cursor), page.pageInfo.startCursor, page.pageInfo.endCursor])
      if (c !== null && !this.cursors.includes(c)) this.cursors.push(c)
  }

  /** The batch of `spec`, drawing aggregates from `allowed` (indexes into AGGREGATES). */
  batch(spec: WriteSpec, allowed: readonly number[]): NewEvent[] {
    const out: NewEvent[] = []
    const local = new Map<string, number>()
    for (const e of spec.events) {
      let { aggregatorType, aggregatorId } = AGGREGATES[allowed[e.agg % allowed.length]!]!
      let version: number
      const prev = out[out.length - 1]
      if (e.version === 'repeat' && prev) {
        // The same aggregate and version as the previous event of the batch.
        ;({ aggregatorType, aggregatorId, version } = prev)
      } else {
        const key = `${aggregatorType}/${aggregatorId}`
        const next = (local.get(key) ?? this.versions.get(key) ?? 0) + 1
        version = e.version === 'skip' ? next + 1 : e.version === 'back' ? Math.max(1, next - 1) : e.version === 'zero' ? 0 : next
      }
      local.set(`${aggregatorType}/${aggregatorId}`, version)
      let id: string
      if (e.id.kind === 'stored' && this.ids.length > 0) id = this.ids[e.id.pick % this.ids.length]!
      else if (e.id.kind === 'batch' && out.length > 0) id = out[e.id.pick % out.length]!.id
      else id = this.freshId()
      const event: NewEvent = { id, aggregatorType, aggregatorId, version, name: e.name, data: e.data }
      if (e.routingKey !== undefined) event.routingKey = e.routingKey
      if (e.metadata !== undefined) event.metadata = e.metadata
      out.push(event)
    }
    if (spec.swap !== null && out.length >= 2) {
      const i = spec.swap % (out.length - 1)
      ;[out[i], out[i + 1]] = [out[i + 1]!, out[i]!]
    }
    return out
  }

  args(spec: ArgsSpec): Args | undefined {
    switch (spec.kind) {
      case 'none':
        return undefined
      case 'empty':
        return {}
      case 'first':
        return { first: spec.n }
      case 'last':
        return { last: spec.n }
      case 'after':
        return spec.n === undefined ? { after: this.cursor(spec.cursor) } : { first: spec.n, after: this.cursor(spec.cursor) }
      case 'before':
        return spec.n === undefined ? { before: this.cursor(spec.cursor) } : { last: spec.n, before: this.cursor(spec.cursor) }
      case 'invalid':
        return spec.args
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Normalising results so that they compare exactly across backends.

type Outcome = { ok: unknown } | { error: Record<string, unknown> }

function normEvent(e: Event): unknown {
  return {
    id: e.id,
    aggregatorType: e.aggregatorType,
    aggregatorId: e.aggregatorId,
    version: e.version,
    name: e.name,
    routingKey: e.routingKey,
    data: Array.from(e.data),
    metadata: Array.from(e.metadata),
    position: e.position,
    // The value is clock-dependent; only its type is compared.
    timestamp: Number.isSafeInteger(e.timestamp) ? 'ms' : e.timestamp,
  }
}

function normPage(page: ReadResult<Event>): unknown {
  return { edges: page.edges.map((e) => ({ cursor: e.cursor, node: normEvent(e.node) })), pageInfo: page.pageInfo }
}

function normError(err: unknown): Record<string, unknown> {
  const e = err as { code?: unknown; aggregatorType?: unknown; aggregatorId?: unknown; expectedVersion?: unknown; foundVersion?: unknown }
  if (typeof e?.code !== 'string') return { unexpected: String(err) }
  if (e.code !== 'INVALID_ORIGINAL_VERSION') return { code: e.code }
  return { code: e.code, aggregatorType: e.aggregatorType, aggregatorId: e.aggregatorId, expectedVersion: e.expectedVersion, foundVersion: e.foundVersion }
}

async function settle<T>(call: () => Promise<T>, norm: (value: T) => unknown = (v) => v): Promise<Outcome> {
  try {
    return { ok: norm(await call()) }
  } catch (err) {
    return { error: normError(err) }
  }
}

/** The call as code, for the failure message. */
function show(value: unknown): string {
  if (value === undefined) return 'undefined'
  if (value instanceof Uint8Array) return `new Uint8Array([${Array.from(value).join(', ')}])`
  if (Array.isArray(value)) return `[${value.map(show).join(', ')}]`
  if (value !== null && typeof value === 'object')
    return `{ ${Object.entries(value)
      .map(([k, v]) => `${k}: ${show(v)}`)
      .join(', ')} }`
  return JSON.stringify(value)
}
const call = (method: string, ...args: unknown[]): string => `events.${method}(${args.map(show).join(', ')})`

// ---------------------------------------------------------------------------------------------------------------

interface Backend {
  name: string
  store: Store
}

describe('event store model: memory (oracle) = SQLite file = PGlite', () => {
  const dir = tempDir()
  let pglite: PGlite
  let files = 0
  beforeAll(async () => {
    pglite = await PGlite.create()
  })
  afterAll(async () => {
    await pglite?.close()
  })

  async function openAll(): Promise<Backend[]> {
    const opened: Backend[] = []
    try {
      opened.push({ name: 'memory', store: await openStore('memory:') })
      opened.push({ name: 'SQLite file', store: await openStore(join(dir, `model-${++files}.db`)) })
      opened.push({ name: 'PGlite', store: await openStore({ pglite, schema: uniqueSchema() }) })
      return opened
    } catch (err) {
      await Promise.all(opened.map((b) => b.store.close()))
      throw err
    }
  }

  /** Runs one sequence; throws on the first divergence from the oracle. */
  async function runOps(backends: Backend[], ops: Op[]): Promise<void> {
    const t = new Tracker()
    const trace: string[] = []
    const [oracle] = backends as [Backend, ...Backend[]]

    /** Runs the same call on every backend (in parallel: they are independent) and checks the outcomes agree. */
    const same = async <T>(label: string, fn: (events: EventStore) => Promise<T>, norm?: (value: T) => unknown): Promise<Outcome> => {
      trace.push(label)
      const outcomes = await Promise.all(backends.map((b) => settle(() => fn(b.store.events), norm)))
      check(outcomes)
      return outcomes[0]!
    }
    const check = (outcomes: Outcome[]): void => {
      const expected = outcomes[0]!
      if ('error' in expected && 'unexpected' in expected.error) fail(`the oracle threw a non-Holdfast error: ${String(expected.error.unexpected)}`, outcomes)
      outcomes.forEach((o, i) => {
        if (!isDeepStrictEqual(o, expected)) fail(`${backends[i]!.name} differs from ${oracle.name}`, outcomes)
      })
    }
    const fail = (why: string, outcomes: Outcome[]): never => {
      const lines = backends.map((b, i) => `  ${b.name}: ${show(outcomes[i])}`)
      throw new Error(`${why} at the last of these calls:\n${trace.map((l) => `  ${l}`).join('\n')}\noutcomes:\n${lines.join('\n')}`)
    }

    for (const op of ops) {
      switch (op.op) {
        case 'write': {
          const batch = t.batch(op.write, ALL_AGGREGATES)
          const o = await same(`await ${call('write', batch)}`, (events) => events.write(batch))
          if ('ok' in o) t.committed(batch)
          break
        }
        case 'concurrent': {
          // Group commit: the writes are submitted in the same tick, so SQLite and PGlite commit them in one flush.
          // To keep the oracle exact, the writes of a group touch disjoint aggregates (write j gets the aggregates
          // with index ≡ j mod n) and never share an id with each other (fresh ids are unique; a reused stored id
          // fails alike whoever goes first): each write's outcome then depends only on what was stored before the
          // group and on its own batch, never on the order the backend commits the group in, so outcomes are
          // compared write by write. Positions do depend on that order; every backend commits a group in
          // submission order (memory at the call, GroupCommit's queue in order, PostgreSQL chunks in order), and
          // the full read after the group checks exactly that.
          const n = op.writes.length
          const batches = op.writes.map((w, j) => t.batch(w, ALL_AGGREGATES.filter((a) => a % n === j)))
          trace.push(`await Promise.allSettled([${batches.map((b) => call('write', b)).join(', ')}])`)
          const results = await Promise.all(
            backends.map(async (b) => {
              const settled = batches.map((batch) => settle(() => b.store.events.write(batch)))
              return Promise.all(settled)
            }),
          )
          for (let j = 0; j < n; j++) {
            check(results.map((r) => r[j]!))
            if ('ok' in results[0]![j]!) t.committed(batches[j]!)
          }
          await same(`await readAll(events)`, (events) => readAll(events), (all) => all.map(normEvent))
          break
        }
        case 'read': {
          const args = t.args(op.args)
          const o = await same(`await ${call('read', op.filters, op.routingKey, args)}`, (events) => events.read(op.filters, op.routingKey, args), normPage)
          if ('ok' in o) t.seen(await oracle.store.events.read(op.filters, op.routingKey, args))
          break
        }
        case 'upsertSubscriber':
          await same(`await ${call('upsertSubscriber', op.key, op.worker)}`, (events) => events.upsertSubscriber(op.key, op.worker))
          break
        case 'isSubscriberRunning':
          await same(`await ${call('isSubscriberRunning', op.key, op.worker)}`, (events) => events.isSubscriberRunning(op.key, op.worker))
          break
        case 'getSubscriberCursor':
          await same(`await ${call('getSubscriberCursor', op.key)}`, (events) => events.getSubscriberCursor(op.key))
          break
        case 'getSubscriber':
          await same(
            `await ${call('getSubscriber', op.key)}`,
            (events) => events.getSubscriber(op.key),
            // Times are clock-dependent: compare whether there was an acknowledgement, and the types.
            (s) =>
              s && {
                key: s.key,
                workerId: s.workerId,
                cursor: s.cursor,
                lag: s.lag,
                acknowledged: s.acknowledgedAt === null ? null : Number.isSafeInteger(s.acknowledgedAt) ? 'ms' : s.acknowledgedAt,
                updatedAt: Number.isSafeInteger(s.updatedAt) ? 'ms' : s.updatedAt,
              },
          )
          break
        case 'acknowledge': {
          const cursor = t.cursor(op.cursor)
          const { key, lag, worker } = op
          const label = worker === undefined ? call('acknowledge', key, cursor, lag) : call('acknowledge', key, cursor, lag, worker)
          await same(`await ${label}`, (events) => (worker === undefined ? events.acknowledge(key, cursor, lag) : events.acknowledge(key, cursor, lag, worker)))
          break
        }
        case 'saveSnapshot': {
          const cursor = t.cursor(op.cursor)
          await same(`await ${call('saveSnapshot', op.type, op.revision, op.id, op.data, cursor)}`, (events) =>
            events.saveSnapshot(op.type, op.revision, op.id, op.data, cursor),
          )
          break
        }
        case 'getSnapshot':
          await same(
            `await ${call('getSnapshot', op.type, op.revision, op.id)}`,
            (events) => events.getSnapshot(op.type, op.revision, op.id),
            (s) => s && { data: Array.from(s.data), cursor: s.cursor },
          )
          break
      }
    }

    const all = await same(`await readAll(events)`, (events) => readAll(events), (list) => list.map(normEvent))
    if ('ok' in all && (all.ok as unknown[]).length !== t.events) fail(`the oracle holds ${(all.ok as unknown[]).length} events, the tracker ${t.events}`, [all])
    for (const key of SUB_KEYS) await same(`await ${call('getSubscriberCursor', key)}`, (events) => events.getSubscriberCursor(key))
  }

  it(`agrees on ${NUM_RUNS} random operation sequences`, { timeout: 300_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(opsArb, async (ops) => {
        const backends = await openAll()
        try {
          await runOps(backends, ops)
        } finally {
          await Promise.all(backends.map((b) => b.store.close()))
        }
      }),
      { numRuns: NUM_RUNS, ...(SEED === undefined ? {} : { seed: SEED }), ...(PATH === undefined ? {} : { path: PATH }) },
    )
  })
})
