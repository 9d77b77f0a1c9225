import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HoldfastError } from '../errors.js'
import { encodeCursor } from '../events/cursor.js'
import type { Store } from '../store.js'
import { MAX_PAYLOAD_BYTES } from '../validate.js'
import { bytes, readAll, type ConformanceTarget } from './helpers.js'

/*
 * Arguments that misbehave: getters and Proxies that answer one thing on the first read and another afterwards,
 * revoked Proxies (every access throws a TypeError, even `Array.isArray`), detached buffers, Proxies of a Uint8Array
 * (they pass `instanceof`, then every getter throws), functions whose `toString` throws, class instances whose fields
 * are prototype getters, and payloads over the limits. Each public method of each contract gets them at every
 * position of its arguments, found by walking a valid call's arguments, and must answer with a Holdfast error (or,
 * for values that turn bad only on a second read, act on the first read), change nothing it refused, and, where
 * writes share a group commit, leave other callers' writes of the same tick alone.
 */

type Key = string | number
type Path = Key[]
type Container = Record<Key, unknown>

/** What a hostile call must do. */
type Expect =
  /** Reject with `INVALID_ARGUMENT` and change nothing. */
  | 'invalid'
  /** Act on what the first read gave (verified like a valid call), or reject with `INVALID_ARGUMENT` changing nothing. */
  | 'consistent'
  /** Succeed, as the valid call does. */
  | 'success'

/** One way to spoil a call's arguments: modifies the fresh arguments in place. */
interface Variant {
  label: string
  expect: Expect
  apply(args: unknown[]): void
}

/** How a successful hostile call is checked against the valid one. */
type Kind =
  /** Changes nothing; its result (through `view`) must equal the valid call's. */
  | 'read'
  /** Idempotent: repeating the valid call after a successful hostile one must change nothing. */
  | 'write'
  /** Not idempotent: `verify` checks what it stored. */
  | 'append'

interface MethodCase {
  /** E.g. `events.write`. */
  method: string
  kind: Kind
  /** Valid arguments, fresh on every call; `n` is unique per call (cases that cannot repeat themselves use it). */
  args(n: number): unknown[]
  call(store: Store, args: unknown[]): unknown
  /** Run before every call (e.g. re-create what a delete removes). */
  setup?(store: Store): Promise<unknown>
  /** For `read`: the part of the result to compare (default: all of it). */
  view?(result: unknown): unknown
  /** For `append`: a problem with what the valid arguments `args` stored, or `undefined`. */
  verify?(store: Store, args: unknown[]): Promise<string | undefined>
  /** Dotted paths of opaque JSON (state, metadata): only values that make serialising fail are put inside. */
  json?: string[]
  /** Dotted paths inside `json` that the store reads itself (a checkpoint's `channel_versions`). */
  structured?: string[]
  /** Dotted paths of records read by their own keys (not by name), which a class instance would empty. */
  noInstance?: string[]
  /** A bad value for a dotted path where the default one (by type) is valid. */
  bad?: Record<string, unknown>
}

/** A contract's cases, on one store. */
interface Area {
  name: string
  /** Run once after the store opens. */
  seed?(store: Store): Promise<unknown>
  /** What the area holds, canonical, leaving out store-assigned times and the bystanders' writes. */
  snapshot(store: Store): Promise<unknown>
  /** A valid write in another scope, issued in the same tick as each hostile call to a group-committed method. */
  bystander?: { write(store: Store, n: number): Promise<unknown>; count(store: Store): Promise<number> }
  /** The methods whose calls share a group commit with the bystanders. */
  grouped?: string[]
  cases: MethodCase[]
  /** Explicit bad calls: each must reject with `INVALID_ARGUMENT` and change nothing. */
  refused?: { label: string; call(store: Store): unknown }[]
}

let bigBytes: Uint8Array | undefined
/** One byte over the payload limit, made once. */
const oversizeBytes = (): Uint8Array => (bigBytes ??= new Uint8Array(MAX_PAYLOAD_BYTES + 1))
let bigText: string | undefined
/** A string whose JSON is over the payload limit, made once. */
const oversizeText = (): string => (bigText ??= 'x'.repeat(MAX_PAYLOAD_BYTES))

function revoked(): object {
  const { proxy, revoke } = Proxy.revocable({}, {})
  revoke()
  return proxy
}

function throwingFunction(): () => number {
  const fn = (): number => 0
  const boom = (): never => {
    throw new Error('toString called')
  }
  Object.defineProperty(fn, 'toString', { value: boom })
  Object.defineProperty(fn, 'valueOf', { value: boom })
  Object.defineProperty(fn, Symbol.toPrimitive, { value: boom })
  return fn
}

function detached(): Uint8Array {
  const u8 = Uint8Array.of(1, 2, 3)
  structuredClone(u8.buffer, { transfer: [u8.buffer] })
  return u8
}

const isBytes = (v: unknown): v is Uint8Array => v instanceof Uint8Array
const isRecord = (v: unknown): v is Container => typeof v === 'object' && v !== null && !Array.isArray(v) && !isBytes(v)

/** A value that must be refused where `value` was valid, for a second (or first) read. */
function badFor(value: unknown, jsonRoot: boolean): unknown {
  if (jsonRoot) return throwingFunction()
  if (typeof value === 'string') return 'lone \ud800 surrogate'
  if (typeof value === 'number') return NaN
  if (typeof value === 'boolean') return 'maybe'
  if (value === null) return 42
  if (isBytes(value)) return oversizeBytes()
  return revoked()
}

/** An instance of a class whose prototype has a getter per field: how class instances (and ORMs' rows) look. */
function asInstance(record: Container): object {
  const values = { ...record }
  class Row {}
  for (const key of Object.keys(values)) Object.defineProperty(Row.prototype, key, { get: () => values[key], configurable: true })
  return new Row()
}

function node(args: unknown[], path: Path): unknown {
  let v: unknown = args
  for (const k of path) v = (v as Container)[k]
  return v
}

/** Makes `parent[key]` answer `first` on its first read and `later` afterwards: a getter, or for an array a Proxy. */
function flip(args: unknown[], path: Path, first: unknown, later: unknown): void {
  const key = path[path.length - 1]!
  const parent = node(args, path.slice(0, -1)) as Container
  let reads = 0
  const read = (): unknown => (reads++ === 0 ? first : later)
  if (Array.isArray(parent)) {
    const grand = node(args, path.slice(0, -2)) as Container
    grand[path[path.length - 2]!] = new Proxy(parent, {
      get: (t, k, r) => (k === String(key) ? read() : Reflect.get(t, k, r)),
    })
  } else {
    Object.defineProperty(parent, key, { get: read, enumerable: true, configurable: true })
  }
}

function replace(args: unknown[], path: Path, value: unknown): void {
  ;(node(args, path.slice(0, -1)) as Container)[path[path.length - 1]!] = value
}

/** Every variant for a case: for each position found in a valid call's arguments, the values that fit there. */
function variants(c: MethodCase): Variant[] {
  const out: Variant[] = []
  const under = (paths: string[] | undefined, at: string): boolean => (paths ?? []).some((p) => at === p || at.startsWith(`${p}.`))
  const visit = (value: unknown, path: Path): void => {
    const at = path.join('.')
    const structured = under(c.structured, at)
    const jsonRoot = (c.json ?? []).includes(at)
    // Inside opaque JSON only what makes serialising fail is bad: any value at all may be valid there.
    const opaque = under(c.json, at) && !structured && !jsonRoot
    const nested = path.length >= 2
    const add = (label: string, expect: Expect, apply: (args: unknown[]) => void): void => {
      out.push({ label: `${label} at ${at}`, expect, apply })
    }
    const children = (): void => {
      if (Array.isArray(value)) value.forEach((v, i) => visit(v, [...path, i]))
      else if (isRecord(value)) for (const [k, v] of Object.entries(value)) visit(v, [...path, k])
    }
    add('a revoked Proxy', 'invalid', (a) => replace(a, path, revoked()))
    if (nested) {
      add('a getter that throws', 'invalid', (a) => {
        const parent = node(a, path.slice(0, -1))
        Object.defineProperty(parent, path[path.length - 1]!, {
          get: () => {
            throw new Error('getter throws')
          },
          enumerable: true,
          configurable: true,
        })
      })
    }
    if (opaque) return children()
    if (typeof value !== 'function') add('a function whose toString throws', 'invalid', (a) => replace(a, path, throwingFunction()))
    if (isBytes(value)) {
      add('a Proxy of a Uint8Array', 'invalid', (a) => replace(a, path, new Proxy(Uint8Array.of(1, 2), {})))
      add('a detached Uint8Array', 'invalid', (a) => replace(a, path, detached()))
      add('an oversize Uint8Array', 'invalid', (a) => replace(a, path, oversizeBytes()))
    }
    if (nested && typeof value !== 'function') {
      const bad = c.bad && at in c.bad ? c.bad[at] : badFor(value, jsonRoot)
      add('a value that turns bad on its second read', 'consistent', (a) => flip(a, path, node(a, path), bad))
      add('a value that is bad on its first read only', 'invalid', (a) => flip(a, path, bad, node(a, path)))
    }
    if (jsonRoot) return children()
    if (Array.isArray(value)) {
      const proxied = (a: unknown[], lengths: [number, number]): void => {
        let reads = 0
        const target = node(a, path) as unknown[]
        replace(
          a,
          path,
          new Proxy(target, { get: (t, k, r) => (k === 'length' ? lengths[Math.min(reads++, 1)] : Reflect.get(t, k, r)) }),
        )
      }
      add('an array whose length grows after its first read', 'consistent', (a) => proxied(a, [value.length, value.length + 1]))
      add('an array whose length shrinks after its first read', 'invalid', (a) => proxied(a, [value.length + 1, value.length]))
    } else if (isRecord(value) && !under(c.noInstance, at)) {
      add('a class instance with prototype getters', 'success', (a) => replace(a, path, asInstance(node(a, path) as Container)))
    }
    children()
  }
  c.args(0).forEach((v, i) => visit(v, [i]))
  return out
}

/** Plain data for comparison: bytes as hex, so that any backend's byte type compares equal. */
function canon(value: unknown): string {
  const norm = (v: unknown): unknown => {
    if (isBytes(v)) return `hex:${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`
    if (Array.isArray(v)) return v.map(norm)
    if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]))
    return v
  }
  return JSON.stringify(norm(value)) ?? String(value)
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/** Starts the call now (so that calls made next share its tick) and settles it, whether it throws or rejects. */
function outcome(fn: () => unknown): Promise<Outcome> {
  try {
    return Promise.resolve(fn()).then(
      (value) => ({ ok: true, value }),
      (error: unknown) => ({ ok: false, error }),
    )
  } catch (error) {
    return Promise.resolve({ ok: false, error })
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.constructor.name} ${(error as { code?: string }).code ?? ''}: ${error.message}`
  return typeof error
}

/** Runs one area's cases on one store. */
function runArea(target: ConformanceTarget, area: Area): void {
  describe(`hostile input: ${area.name}: ${target.name}`, () => {
    let store: Store
    let n = 0
    let bystanders = 0
    beforeAll(async () => {
      store = await target.open()
      await area.seed?.(store)
    })
    afterAll(async () => {
      await store?.close()
    })

    /** A hostile call, with bystanders before and after it in the same tick when the method is group-committed. */
    async function attempt(c: MethodCase, args: unknown[], problems: string[], label: string): Promise<Outcome> {
      const grouped = area.bystander && area.grouped?.includes(c.method)
      const before = grouped ? outcome(() => area.bystander!.write(store, ++n)) : undefined
      const result = outcome(() => c.call(store, args))
      const after = grouped ? outcome(() => area.bystander!.write(store, ++n)) : undefined
      for (const b of [before, after]) {
        if (!b) continue
        bystanders++
        const r = await b
        if (!r.ok) problems.push(`${label}: a valid write in the same tick failed: ${describeError(r.error)}`)
      }
      return result
    }

    for (const c of area.cases) {
      it(`${c.method} refuses hostile arguments with a Holdfast error, or uses only what it read once`, async () => {
        const problems: string[] = []
        const all = variants(c)
        await c.setup?.(store)
        // The valid call, for what a successful hostile one must match.
        const valid = c.args(++n)
        const first = await attempt(c, valid, problems, 'the valid call')
        if (!first.ok) throw new Error(`${c.method}: the valid call failed: ${describeError(first.error)}`)
        const expected = c.kind === 'read' ? canon(c.view ? c.view(first.value) : first.value) : undefined
        let state: string | undefined
        for (const v of all) {
          const label = `${c.method}, ${v.label}`
          if (c.setup) {
            await c.setup(store)
            state = undefined
          }
          state ??= canon(await area.snapshot(store))
          const id = ++n
          const args = c.args(id)
          v.apply(args)
          const r = await attempt(c, args, problems, label)
          if (!r.ok) {
            const error = r.error
            if (!(error instanceof HoldfastError)) problems.push(`${label}: threw ${describeError(error)}, not a HoldfastError`)
            else if (error.code !== 'INVALID_ARGUMENT') problems.push(`${label}: ${error.code}, not INVALID_ARGUMENT: ${error.message}`)
            else if (v.expect === 'success') problems.push(`${label}: refused, but it is valid: ${error.message}`)
            if (canon(await area.snapshot(store)) !== state) problems.push(`${label}: refused, yet the store changed`)
            continue
          }
          if (v.expect === 'invalid') problems.push(`${label}: accepted`)
          // What a successful call did must be what the valid call does.
          if (c.kind === 'read') {
            if (canon(c.view ? c.view(r.value) : r.value) !== expected) problems.push(`${label}: returned another result than the valid call`)
            if (canon(await area.snapshot(store)) !== state) problems.push(`${label}: a read changed the store`)
          } else if (c.kind === 'write') {
            const after = canon(await area.snapshot(store))
            const replay = await outcome(() => c.call(store, c.args(id)))
            if (!replay.ok) problems.push(`${label}: the valid call after it failed: ${describeError(replay.error)}`)
            else if (canon(await area.snapshot(store)) !== after) problems.push(`${label}: stored something other than the valid call stores`)
          } else {
            const problem = await c.verify!(store, c.args(id))
            if (problem) problems.push(`${label}: ${problem}`)
          }
          state = undefined
        }
        if (area.bystander && area.grouped?.includes(c.method)) {
          const stored = await area.bystander.count(store)
          if (stored !== bystanders) problems.push(`${bystanders} valid writes in the same ticks as hostile ones, ${stored} stored`)
        }
        expect(problems).toEqual([])
      })
    }

    if (area.refused?.length) {
      it('refuses oversize and unstorable values without touching other writes', async () => {
        const problems: string[] = []
        for (const r of area.refused!) {
          const before = canon(await area.snapshot(store))
          const bystander = area.bystander ? outcome(() => area.bystander!.write(store, ++n)) : undefined
          const result = await outcome(() => r.call(store))
          if (bystander) {
            bystanders++
            const b = await bystander
            if (!b.ok) problems.push(`${r.label}: a valid write in the same tick failed: ${describeError(b.error)}`)
          }
          if (result.ok) problems.push(`${r.label}: accepted`)
          else if (!(result.error instanceof HoldfastError) || result.error.code !== 'INVALID_ARGUMENT')
            problems.push(`${r.label}: ${describeError(result.error)}, not INVALID_ARGUMENT`)
          if (canon(await area.snapshot(store)) !== before) problems.push(`${r.label}: refused, yet the store changed`)
        }
        if (area.bystander && (await area.bystander.count(store)) !== bystanders) problems.push('a valid write in the same tick was lost')
        expect(problems).toEqual([])
      })
    }
  })
}

const omit = <T extends object>(o: T | null, ...keys: string[]): unknown =>
  o === null ? null : Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)))

const A = Uint8Array.of(0xa1, 0x01)
const P = Uint8Array.of(0x0f, 0x01)
const Q = Uint8Array.of(0x0f, 0x02)
const R = Uint8Array.of(0x0f, 0x03)

function eventsArea(): Area {
  const run = Math.random().toString(36).slice(2, 8)
  const newEvents = (n: number) => [
    {
      id: `h-${run}-${n}-1`,
      aggregatorType: 'shop/Order',
      aggregatorId: `agg-${run}-${n}`,
      version: 1,
      name: 'Placed',
      routingKey: 'eu',
      data: bytes('d1'),
      metadata: bytes('m1'),
    },
    { id: `h-${run}-${n}-2`, aggregatorType: 'shop/Order', aggregatorId: `agg-${run}-${n}`, version: 2, name: 'Paid', routingKey: null, data: bytes('d2') },
  ]
  const sub = ['sub', 'w1']
  return {
    name: 'store.events',
    seed: async (s) => {
      for (let v = 1; v <= 3; v++)
        await s.events.write([{ id: `seed-${v}`, aggregatorType: 'shop/Order', aggregatorId: 'seed', version: v, name: 'Placed', data: bytes(`s${v}`) }])
      await s.events.upsertSubscriber('sub', 'w1')
      await s.events.saveSnapshot('T', 'r1', 's1', bytes('x'), encodeCursor(1))
    },
    snapshot: async (s) => ({
      events: (await readAll(s.events)).filter((e) => !e.aggregatorId.startsWith('bystander')).map((e) => omit(e, 'position', 'timestamp')),
      subscriber: omit(await s.events.getSubscriber('sub'), 'updatedAt', 'acknowledgedAt', 'leaseExpiresAt'),
      snapshot: await s.events.getSnapshot('T', 'r1', 's1'),
    }),
    bystander: {
      write: (s, n) => s.events.write([{ id: `bystander-${run}-${n}`, aggregatorType: 'shop/Order', aggregatorId: `bystander-${n}`, version: 1, name: 'B', data: bytes('b') }]),
      count: async (s) => (await readAll(s.events)).filter((e) => e.aggregatorId.startsWith('bystander')).length,
    },
    grouped: ['events.write'],
    cases: [
      {
        method: 'events.write',
        kind: 'append',
        args: (n) => [newEvents(n)],
        call: (s, [events]) => s.events.write(events as never),
        verify: async (s, [events]) => {
          const written = events as ReturnType<typeof newEvents>
          const page = await s.events.read([{ aggregatorType: 'shop/Order', aggregatorId: written[0]!.aggregatorId }], null, { first: 10 })
          const stored = page.edges.map((e) => omit(e.node, 'position', 'timestamp'))
          const want = written.map((e) => ({ ...e, routingKey: e.routingKey ?? null, metadata: e.metadata ?? new Uint8Array(0) }))
          return canon(stored) === canon(want) ? undefined : `stored ${canon(stored).slice(0, 500)}, not ${canon(want)}`
        },
      },
      {
        method: 'events.read (forward)',
        kind: 'read',
        args: () => [[{ aggregatorType: 'shop/Order', aggregatorId: 'seed', name: 'Placed' }], { value: null }, { first: 2, after: encodeCursor(1) }],
        call: (s, [a, r, p]) => s.events.read(a as never, r as never, p as never),
      },
      {
        method: 'events.read (backward)',
        kind: 'read',
        args: () => [[{ aggregatorType: 'shop/Order', aggregatorId: 'seed' }], { all: true }, { last: 2, before: encodeCursor(3) }],
        call: (s, [a, r, p]) => s.events.read(a as never, r as never, p as never),
      },
      { method: 'events.getSubscriberCursor', kind: 'read', args: () => ['sub'], call: (s, [k]) => s.events.getSubscriberCursor(k as string) },
      { method: 'events.upsertSubscriber', kind: 'write', args: () => [...sub], call: (s, [k, w]) => s.events.upsertSubscriber(k as string, w as string) },
      { method: 'events.isSubscriberRunning', kind: 'read', args: () => [...sub], call: (s, [k, w]) => s.events.isSubscriberRunning(k as string, w as string) },
      {
        method: 'events.acknowledge',
        kind: 'write',
        args: () => ['sub', encodeCursor(2), 1, 'w1'],
        call: (s, [k, c, l, w]) => s.events.acknowledge(k as string, c as string, l as number, w as string),
      },
      {
        method: 'events.getSubscriber',
        kind: 'read',
        args: () => ['sub'],
        call: (s, [k]) => s.events.getSubscriber(k as string),
        view: (r) => omit(r as object, 'updatedAt', 'acknowledgedAt', 'leaseExpiresAt'),
      },
      {
        method: 'events.listSubscribers',
        kind: 'read',
        args: () => [{ limit: 10, after: 'a' }],
        call: (s, [a]) => s.events.listSubscribers(a as never),
        view: (r) => (r as object[]).map((x) => omit(x, 'updatedAt', 'acknowledgedAt', 'leaseExpiresAt')),
      },
      {
        method: 'events.claimSubscriber',
        kind: 'write',
        args: () => ['sub', 'w1', 60_000],
        call: (s, [k, w, ms]) => s.events.claimSubscriber(k as string, w as string, ms as number),
        view: (r) => omit(r as object, 'updatedAt', 'acknowledgedAt', 'leaseExpiresAt'),
      },
      { method: 'events.releaseSubscriber', kind: 'write', args: () => ['sub', 'w1'], call: (s, [k, w]) => s.events.releaseSubscriber(k as string, w as string) },
      {
        method: 'events.rewindSubscriber',
        kind: 'append',
        args: () => ['sub', encodeCursor(1)],
        call: (s, [k, c]) => s.events.rewindSubscriber(k as string, c as string),
        verify: async (s) => ((await s.events.getSubscriberCursor('sub')) === encodeCursor(1) ? undefined : 'the cursor did not move'),
      },
      { method: 'events.getSnapshot', kind: 'read', args: () => ['T', 'r1', 's1'], call: (s, [t, r, i]) => s.events.getSnapshot(t as string, r as string, i as string) },
      {
        method: 'events.saveSnapshot',
        kind: 'write',
        args: () => ['T', 'r1', 's1', bytes('snap'), encodeCursor(2)],
        call: (s, [t, r, i, d, c]) => s.events.saveSnapshot(t as string, r as string, i as string, d as Uint8Array, c as string),
      },
      {
        method: 'events.onCommitted',
        kind: 'read',
        args: () => [() => {}],
        call: (s, [l]) => s.events.onCommitted(l as () => void),
        view: (stop) => {
          if (typeof stop === 'function') stop()
          return typeof stop
        },
      },
    ],
  }
}

function packagesArea(): Area {
  const run = Math.random().toString(36).slice(2, 8)
  const routeEvents = (n: number) => [
    { id: `p-${run}-${n}-1`, aggregatorType: 'holdfast/package-route', aggregatorId: `wf-${run}-${n}`, version: 1, name: 'Routed', routingKey: null, data: bytes('d1'), metadata: bytes('m') },
    { id: `p-${run}-${n}-2`, aggregatorType: 'holdfast/package-route', aggregatorId: `wf-${run}-${n}`, version: 2, name: 'Routed', data: bytes('d2') },
  ]
  const record = (contentHash: string, workflowType = 'wf') => ({ workflowType, contentHash, archive: bytes(`archive ${contentHash}`), deployedAt: 5 })
  return {
    name: 'store.packages',
    seed: (s) => s.packages.putPackage(record('sha256:seed')),
    snapshot: async (s) => ({
      packages: await s.packages.listPackages(),
      routes: (await s.packages.listPackageRoutes()).map((r) => omit(r, 'updatedAt')),
      events: (await readAll(s.events)).map((e) => omit(e, 'position', 'timestamp')),
    }),
    cases: [
      { method: 'packages.putPackage', kind: 'write', args: () => [record('sha256:aa')], call: (s, [r]) => s.packages.putPackage(r as never) },
      {
        method: 'packages.listPackages',
        kind: 'read',
        args: () => [{ withArchives: false }],
        call: (s, [o]) => s.packages.listPackages(o as { withArchives: false }),
      },
      {
        method: 'packages.deletePackage',
        kind: 'write',
        setup: (s) => s.packages.putPackage(record('sha256:del')),
        args: () => ['wf', 'sha256:del'],
        call: (s, [t, h]) => s.packages.deletePackage(t as string, h as string),
      },
      { method: 'packages.putPackageRoute', kind: 'write', args: () => ['wf2', 'sha256:aa'], call: (s, [t, h]) => s.packages.putPackageRoute(t as string, h as string) },
      { method: 'packages.listPackageRoutes', kind: 'read', args: () => [], call: (s) => s.packages.listPackageRoutes(), view: (r) => (r as object[]).map((x) => omit(x, 'updatedAt')) },
      { method: 'packages.getPackage', kind: 'read', args: () => ['wf', 'sha256:seed'], call: (s, [t, h]) => s.packages.getPackage(t as string, h as string) },
      {
        method: 'packages.getPackageRoute',
        kind: 'read',
        args: () => ['wf'],
        call: (s, [t]) => s.packages.getPackageRoute(t as string),
        view: (r) => omit(r as object | null, 'updatedAt'),
      },
      {
        method: 'packages.putPackageWithRoutes',
        kind: 'write',
        args: () => [record('sha256:bb', 'wf3'), ['wf3', 'wf4']],
        call: (s, [r, t]) => s.packages.putPackageWithRoutes(r as never, t as string[]),
      },
      // With events: repeating the valid call is a retry of one that committed, so it changes nothing.
      {
        method: 'packages.putPackageWithRoutes (with events)',
        kind: 'write',
        args: (n) => [record('sha256:ee', 'wf5'), ['wf5'], { events: routeEvents(n) }],
        call: (s, [r, t, o]) => s.packages.putPackageWithRoutes(r as never, t as string[], o as never),
      },
      {
        method: 'packages.putPackageRoute (with events)',
        kind: 'write',
        args: (n) => ['wf6', 'sha256:ff', { events: routeEvents(n) }],
        call: (s, [t, h, o]) => s.packages.putPackageRoute(t as string, h as string, o as never),
      },
    ],
  }
}

function poisonArea(): Area {
  return {
    name: 'store.poison',
    seed: (s) => s.poison.tryPutPoison('held', 'tok'),
    snapshot: async (s) => ({
      keys: (await s.poison.listPoison()).map((r) => omit(r, 'createdAt')),
      audit: (await s.poison.listPoisonAudit()).map((a) => omit(a, 'at')),
    }),
    cases: [
      { method: 'poison.tryPutPoison', kind: 'write', args: () => ['held', 'tok'], call: (s, [k, t]) => s.poison.tryPutPoison(k as string, t as string) },
      {
        method: 'poison.deletePoison',
        kind: 'write',
        setup: (s) => s.poison.tryPutPoison('gone', 'tok'),
        args: () => ['gone', 'tok'],
        call: (s, [k, t]) => s.poison.deletePoison(k as string, t as string),
      },
      { method: 'poison.getPoison', kind: 'read', args: () => ['held'], call: (s, [k]) => s.poison.getPoison(k as string) },
      { method: 'poison.listPoison', kind: 'read', args: () => ['he'], call: (s, [p]) => s.poison.listPoison(p as string), view: (r) => (r as object[]).map((x) => omit(x, 'createdAt')) },
      {
        method: 'poison.clearPoison',
        kind: 'append',
        setup: (s) => s.poison.tryPutPoison('victim', 'tok'),
        args: () => ['victim', 'operator', 'because'],
        call: (s, [k, b, r]) => s.poison.clearPoison(k as string, b as string, r as string),
        verify: async (s) => {
          const audit = await s.poison.listPoisonAudit('victim')
          const last = omit(audit[audit.length - 1] ?? null, 'at')
          const want = { key: 'victim', token: 'tok', by: 'operator', reason: 'because' }
          if ((await s.poison.getPoison('victim')) !== null) return 'the key is still held'
          return canon(last) === canon(want) ? undefined : `audited ${canon(last)}`
        },
      },
      {
        method: 'poison.auditPoison',
        kind: 'append',
        args: (n) => [`audited-${n}`, 'rewind:beginning', 'operator', 'rebuild'],
        call: (s, [k, t, b, r]) => s.poison.auditPoison(k as string, t as string, b as string, r as string),
        verify: async (s, [k]) => {
          const audit = await s.poison.listPoisonAudit(k as string)
          const want = { key: k, token: 'rewind:beginning', by: 'operator', reason: 'rebuild' }
          return audit.length === 1 && canon(omit(audit[0]!, 'at')) === canon(want) ? undefined : `audited ${canon(audit)}`
        },
      },
      {
        method: 'poison.listPoisonAudit',
        kind: 'read',
        args: () => ['held'],
        call: (s, [k]) => s.poison.listPoisonAudit(k as string),
        view: (r) => (r as object[]).map((x) => omit(x, 'at')),
      },
      {
        method: 'poison.withPoison',
        kind: 'read',
        args: () => ['guarded', 'tok', async () => 42],
        call: (s, [k, t, f]) => s.poison.withPoison(k as string, t as string, f as () => Promise<number>),
      },
    ],
    refused: [
      { label: 'a reason with a lone surrogate', call: (s) => s.poison.clearPoison('held', 'operator', 'half \ud800 a pair') },
      { label: 'a reason with a NUL', call: (s) => s.poison.clearPoison('held', 'operator', 'a\0b') },
      { label: 'a by with a NUL', call: (s) => s.poison.clearPoison('held', 'op\0erator', 'why') },
      { label: 'a by with a lone surrogate', call: (s) => s.poison.clearPoison('held', '\udc00', 'why') },
      { label: 'a reason that is not a string', call: (s) => s.poison.clearPoison('held', 'operator', throwingFunction() as never) },
    ],
  }
}

function checkpointsArea(): Area {
  const traces = async (s: Store) => (await s.checkpoints.listTraces({ limit: 10_000 })).filter((t) => t.traceId !== 'bystander')
  return {
    name: 'store.checkpoints',
    seed: (s) => s.checkpoints.saveWithTrace('t', { id: 'seed', state: { a: 1 }, metadata: { m: 1 } }),
    snapshot: async (s) => {
      const out: unknown[] = []
      for (const t of await traces(s)) {
        const ids = await s.checkpoints.list(t.traceId)
        out.push(t, await Promise.all(ids.map((id) => s.checkpoints.load(id))))
      }
      return out
    },
    bystander: {
      write: (s, n) => s.checkpoints.saveWithTrace('bystander', { id: `bystander-${n}`, state: n }),
      count: async (s) => (await s.checkpoints.list('bystander')).length,
    },
    grouped: ['checkpoints.saveWithTrace'],
    cases: [
      {
        method: 'checkpoints.saveWithTrace',
        kind: 'write',
        args: () => ['t', { id: 'c1', state: { step: 'a', n: [1, 2] }, metadata: { node: 'x', tags: ['a'] }, parentId: 'seed', createdAt: 5 }],
        call: (s, [t, c]) => s.checkpoints.saveWithTrace(t as string, c as never),
        json: ['1.state', '1.metadata'],
      },
      { method: 'checkpoints.load', kind: 'read', args: () => ['seed'], call: (s, [id]) => s.checkpoints.load(id as string) },
      { method: 'checkpoints.loadLatest', kind: 'read', args: () => ['t'], call: (s, [t]) => s.checkpoints.loadLatest(t as string) },
      { method: 'checkpoints.list', kind: 'read', args: () => ['t'], call: (s, [t]) => s.checkpoints.list(t as string) },
      {
        method: 'checkpoints.delete',
        kind: 'write',
        setup: (s) => s.checkpoints.saveWithTrace('t2', { id: 'doomed', state: 1 }),
        args: () => ['doomed'],
        call: (s, [id]) => s.checkpoints.delete(id as string),
      },
      {
        method: 'checkpoints.prune',
        kind: 'write',
        setup: async (s) => {
          await s.checkpoints.saveWithTrace('tp', { id: 'p1', state: 1, createdAt: 1 })
          await s.checkpoints.saveWithTrace('tp', { id: 'p2', state: 2, createdAt: 2 })
        },
        args: () => ['tp', 1],
        call: (s, [t, k]) => s.checkpoints.prune(t as string, k as number),
      },
      {
        method: 'checkpoints.listTraces',
        kind: 'read',
        args: () => [{ limit: 10, after: 'a' }],
        call: (s, [a]) => s.checkpoints.listTraces(a as never),
        view: (r) => (r as { traceId: string }[]).filter((t) => t.traceId !== 'bystander'),
      },
    ],
    refused: [
      { label: 'a state over 64 MiB as JSON', call: (s) => s.checkpoints.saveWithTrace('t', { id: 'big', state: oversizeText() }) },
      { label: 'metadata over 64 MiB as JSON', call: (s) => s.checkpoints.saveWithTrace('t', { id: 'big', state: 1, metadata: { text: oversizeText() } }) },
      { label: 'metadata with a NUL', call: (s) => s.checkpoints.saveWithTrace('t', { id: 'big', state: 1, metadata: { text: 'a\0b' } }) },
      { label: 'metadata with a lone surrogate', call: (s) => s.checkpoints.saveWithTrace('t', { id: 'big', state: 1, metadata: { ['\ud800']: 1 } }) },
      { label: 'a state too deep to serialise', call: (s) => s.checkpoints.saveWithTrace('t', { id: 'big', state: deep(200_000) }) },
      {
        label: 'a state whose toJSON throws',
        call: (s) =>
          s.checkpoints.saveWithTrace('t', {
            id: 'big',
            state: {
              toJSON() {
                throw new Error('toJSON throws')
              },
            },
          }),
      },
    ],
  }
}

/** Nested one-element arrays: serialisers recurse, and run out of stack. */
function deep(depth: number): unknown {
  let v: unknown = 0
  for (let i = 0; i < depth; i++) v = [v]
  return v
}

function threadsArea(): Area {
  const value = (text: string) => ({ type: 'json', data: bytes(JSON.stringify(text)) })
  const plain = (threadId: string, checkpointId: string) => ({
    threadId,
    namespace: '',
    checkpointId,
    parentId: null,
    checkpoint: { v: 4, id: checkpointId, channel_versions: { a: 1 } },
    metadata: { source: 'loop', step: 0 },
    values: [{ channel: 'a', version: 1, value: value('seed') }],
  })
  const entries = async (s: Store) => (await s.threads.list({ limit: 10_000 })).filter((e) => e.threadId !== 'bystander')
  return {
    name: 'store.threads',
    seed: (s) => s.threads.put(plain('t', 'c1')),
    snapshot: entries,
    bystander: {
      write: (s, n) => s.threads.put(plain('bystander', `b${n}`)),
      count: async (s) => (await s.threads.list({ threadId: 'bystander', limit: 10_000 })).length,
    },
    grouped: ['threads.put', 'threads.putWrites'],
    cases: [
      {
        method: 'threads.put',
        kind: 'write',
        args: () => [
          {
            threadId: 't',
            namespace: '',
            checkpointId: 'c2',
            parentId: 'c1',
            checkpoint: { v: 4, id: 'c2', channel_versions: { a: 1, b: '2', c: 3 } },
            metadata: { source: 'loop', step: 1 },
            createdAt: 5,
            values: [
              { channel: 'b', version: '2', value: value('bee') },
              { channel: 'c', version: 3, value: value('sea') },
            ],
          },
        ],
        call: (s, [c]) => s.threads.put(c as never),
        json: ['0.checkpoint', '0.metadata'],
        structured: ['0.checkpoint.channel_versions'],
        noInstance: ['0.checkpoint.channel_versions'],
        // A string version is stored as its JSON, so any string fits but one whose JSON is too long for a key.
        bad: { '0.checkpoint.channel_versions.b': 'v'.repeat(2000), '0.values.0.version': 'v'.repeat(2000) },
      },
      {
        method: 'threads.putWrites',
        kind: 'write',
        args: () => [
          { threadId: 't', namespace: '', checkpointId: 'c1' },
          [
            { taskId: 'task', taskPath: '', idx: -1, channel: 'ch', value: value('w') },
            { taskId: 'task', taskPath: 'p', idx: -2, channel: 'ch', value: value('x') },
          ],
        ],
        call: (s, [a, w]) => s.threads.putWrites(a as never, w as never),
      },
      { method: 'threads.get', kind: 'read', args: () => ['t', '', 'c1'], call: (s, [t, ns, c]) => s.threads.get(t as string, ns as string, c as string) },
      {
        method: 'threads.list',
        kind: 'read',
        args: () => [{ threadId: 't', namespace: '', checkpointId: 'c1', before: 'c9', olderThan: 1_000_000, filter: { source: 'loop' }, limit: 10 }],
        call: (s, [q]) => s.threads.list(q as never),
        noInstance: ['0.filter'],
      },
      {
        method: 'threads.deleteThread',
        kind: 'write',
        setup: (s) => s.threads.put(plain('doomed', 'x')),
        args: () => ['doomed'],
        call: (s, [t]) => s.threads.deleteThread(t as string),
      },
    ],
    refused: [
      { label: 'a checkpoint over 64 MiB as JSON', call: (s) => s.threads.put({ ...plain('t', 'big'), checkpoint: { v: 4, text: oversizeText() } }) },
      { label: 'metadata over 64 MiB as JSON', call: (s) => s.threads.put({ ...plain('t', 'big'), metadata: { text: oversizeText() } }) },
      { label: 'metadata with a NUL', call: (s) => s.threads.put({ ...plain('t', 'big'), metadata: { text: 'a\0b' } }) },
      { label: 'metadata with a lone surrogate', call: (s) => s.threads.put({ ...plain('t', 'big'), metadata: { text: '\udfff' } }) },
      { label: 'a filter value with a NUL', call: (s) => s.threads.list({ filter: { source: 'a\0b' } }) },
      { label: 'a filter value with a lone surrogate', call: (s) => s.threads.list({ filter: { source: '\ud800' } }) },
      { label: 'a value over 64 MiB', call: (s) => s.threads.put({ ...plain('t', 'big'), values: [{ channel: 'a', version: 1, value: { type: 'json', data: oversizeBytes() } }] }) },
    ],
  }
}

function automergeArea(): Area {
  const doc = (s: Store) => s.automerge('doc')
  return {
    name: 'store.automerge(id)',
    seed: async (s) => {
      await doc(s).insertChanges([[A, 1, bytes('c1')]])
      await doc(s).setSyncState(P, bytes('sync'))
    },
    snapshot: async (s) => {
      const d = doc(s)
      const peers = await d.getPeerIds()
      return {
        changes: (await d.getChanges()).map((c) => canon(c)).sort(),
        document: await d.getDocument(),
        peers: await Promise.all(peers.map(async (p) => [p, await d.getSyncState(p)])),
        sizes: await d.sizes(),
      }
    },
    bystander: {
      write: (s, n) => s.automerge('bystander').insertChanges([[A, n, bytes('b')]]),
      count: async (s) => (await s.automerge('bystander').getChanges()).length,
    },
    grouped: ['insertChanges', 'removeChanges', 'setDocument', 'compact', 'setSyncState', 'removeSyncStates'].map((m) => `automerge.${m}`),
    cases: [
      { method: 'automerge.getChanges', kind: 'read', args: () => [], call: (s) => doc(s).getChanges(), view: (r) => (r as Uint8Array[]).map((c) => canon(c)).sort() },
      { method: 'store.automergeDocuments', kind: 'read', args: () => [{ limit: 10, after: 'a' }], call: (s, [a]) => s.automergeDocuments(a as never) },
      {
        method: 'automerge.insertChanges',
        kind: 'write',
        args: () => [
          [
            [A, 2, bytes('c2')],
            ['a1b2', 3, bytes('c3')],
          ],
        ],
        call: (s, [c]) => doc(s).insertChanges(c as never),
      },
      {
        method: 'automerge.removeChanges',
        kind: 'write',
        setup: (s) => doc(s).insertChanges([[A, 9, bytes('c9')]]),
        args: () => [[[A, 9]]],
        call: (s, [c]) => doc(s).removeChanges(c as never),
      },
      { method: 'automerge.getDocument', kind: 'read', args: () => [], call: (s) => doc(s).getDocument() },
      { method: 'automerge.setDocument', kind: 'write', args: () => [bytes('document')], call: (s, [d]) => doc(s).setDocument(d as Uint8Array) },
      {
        method: 'automerge.compact',
        kind: 'write',
        setup: async (s) => {
          await doc(s).insertChanges([[A, 8, bytes('c8')]])
          await doc(s).setSyncState(Q, bytes('q'))
        },
        args: () => [bytes('compacted'), [[A, 8]], [Q]],
        call: (s, [d, c, p]) => doc(s).compact(d as Uint8Array, c as never, p as Uint8Array[]),
      },
      { method: 'automerge.getSyncState', kind: 'read', args: () => [P], call: (s, [p]) => doc(s).getSyncState(p as Uint8Array) },
      { method: 'automerge.setSyncState', kind: 'write', args: () => [P, bytes('sync2')], call: (s, [p, d]) => doc(s).setSyncState(p as Uint8Array, d as Uint8Array) },
      {
        method: 'automerge.removeSyncStates',
        kind: 'write',
        setup: (s) => doc(s).setSyncState(R, bytes('r')),
        args: () => [[R]],
        call: (s, [p]) => doc(s).removeSyncStates(p as Uint8Array[]),
      },
      { method: 'automerge.getPeerIds', kind: 'read', args: () => [], call: (s) => doc(s).getPeerIds() },
      { method: 'automerge.sizes', kind: 'read', args: () => [], call: (s) => doc(s).sizes() },
      { method: 'automerge.flush', kind: 'read', args: () => [], call: (s) => doc(s).flush(), view: (r) => typeof r },
    ],
  }
}

function chunksArea(): Area {
  const chunks = (s: Store) => s.chunks()
  return {
    name: 'store.chunks()',
    seed: (s) => chunks(s).save(['d', 'x'], bytes('1')),
    snapshot: (s) => chunks(s).loadRange([]),
    bystander: {
      write: (s, n) => s.chunks('bystander').save(['b', String(n)], bytes('b')),
      count: async (s) => (await s.chunks('bystander').loadRange(['b'])).length,
    },
    grouped: ['chunks.save', 'chunks.remove', 'chunks.removeRange'],
    cases: [
      { method: 'chunks.load', kind: 'read', args: () => [['d', 'x']], call: (s, [k]) => chunks(s).load(k as string[]) },
      { method: 'chunks.save', kind: 'write', args: () => [['d', 'y'], bytes('2')], call: (s, [k, d]) => chunks(s).save(k as string[], d as Uint8Array) },
      {
        method: 'chunks.remove',
        kind: 'write',
        setup: (s) => chunks(s).save(['d', 'r'], bytes('r')),
        args: () => [['d', 'r']],
        call: (s, [k]) => chunks(s).remove(k as string[]),
      },
      { method: 'chunks.loadRange', kind: 'read', args: () => [['d']], call: (s, [p]) => chunks(s).loadRange(p as string[]) },
      {
        method: 'chunks.removeRange',
        kind: 'write',
        setup: (s) => chunks(s).save(['rr', '1'], bytes('1')),
        args: () => [['rr']],
        call: (s, [p]) => chunks(s).removeRange(p as string[]),
      },
    ],
  }
}

function storeArea(): Area {
  return {
    name: 'store accessors',
    snapshot: async () => null,
    cases: [
      { method: 'store.automerge', kind: 'read', args: () => ['doc'], call: (s, [id]) => s.automerge(id as string), view: (p) => (p as { documentId: string }).documentId },
      { method: 'store.chunks', kind: 'read', args: () => ['ns'], call: (s, [ns]) => s.chunks(ns as string), view: (c) => (c as { namespace: string }).namespace },
    ],
  }
}

/**
 * Registers the hostile-input cases of every contract for `target` with vitest: misbehaving arguments at every
 * position of every public method, each refused with a Holdfast error (`INVALID_ARGUMENT`) that changed nothing, or
 * (for values that turn bad only on a later read) acted on as first read; group-committed writes of the same tick
 * unaffected.
 */
export function runHostileInputSuite(target: ConformanceTarget): void {
  for (const area of [eventsArea(), packagesArea(), poisonArea(), checkpointsArea(), threadsArea(), automergeArea(), chunksArea(), storeArea()]) runArea(target, area)
}
