import type { SqlExecutor } from '../sql/database.js'
import { InvalidArgumentError, InvalidOriginalVersionError } from '../errors.js'
import { assertInteger, assertKey, assertObject, checkBytes, describe, hasField, mapArray, readFields, unreadable } from '../validate.js'
import { decodeCursor } from './cursor.js'
import type { NewEvent, ReadAggregator, RoutingKey } from './types.js'

/** A write after validation: private copies, and the version each touched aggregate must be at. */
export interface CheckedWrite {
  /** The events, copied, with `routingKey` and `metadata` filled in. */
  events: Required<NewEvent>[]
  /** One entry per aggregate touched: the stored version the write expects (first version − 1). */
  aggregates: AggregateExpectation[]
  /** Set by an appender that knows them: each event's position once stored, and the stored `created_at`. */
  stored?: { positions: number[]; timestamp: number }
}

/**
 * Appends one checked write inside a transaction the caller holds open (a route change with its events), under the
 * event store's rules: `undefined` appended, `'stored'` a retry of a write already committed (nothing appended), an
 * error the conflict (nothing appended); on the last two the caller rolls back.
 */
export type AppendWithin = (tx: SqlExecutor, write: CheckedWrite) => Promise<Error | 'stored' | undefined>


/** The version one write expects an aggregate to be at. */
export interface AggregateExpectation {
  /** `aggregatorType` + NUL + `aggregatorId`: NUL cannot occur in keys, so this is unambiguous. */
  key: string
  aggregatorType: string
  aggregatorId: string
  /** The stored version the write builds on (its first event's version − 1). */
  expected: number
  /** The version the aggregate has after the write. */
  last: number
}

/** `aggregatorType` + NUL + `aggregatorId`. */
export function aggregateKey(aggregatorType: string, aggregatorId: string): string {
  return `${aggregatorType}\0${aggregatorId}`
}

/** One event of a write: each field read once (spelled out: the hot path), the copy checked, the payloads copied. */
function checkEvent(value: unknown, at: string): Required<NewEvent> {
  assertObject(at, value)
  let field = 'id'
  let id: unknown, aggregatorType: unknown, aggregatorId: unknown, version: unknown, name: unknown, routingKey: unknown, data: unknown, metadata: unknown
  try {
    id = value.id
    field = 'aggregatorType'
    aggregatorType = value.aggregatorType
    field = 'aggregatorId'
    aggregatorId = value.aggregatorId
    field = 'version'
    version = value.version
    field = 'name'
    name = value.name
    field = 'routingKey'
    routingKey = value.routingKey
    field = 'data'
    data = value.data
    field = 'metadata'
    metadata = value.metadata
  } catch (err) {
    throw unreadable(`${at}.${field}`, err)
  }
  assertKey(`${at}.id`, id)
  assertKey(`${at}.aggregatorType`, aggregatorType)
  assertKey(`${at}.aggregatorId`, aggregatorId)
  assertInteger(`${at}.version`, version, 1)
  assertKey(`${at}.name`, name)
  routingKey ??= null
  if (routingKey !== null) assertKey(`${at}.routingKey`, routingKey)
  return {
    id,
    aggregatorType,
    aggregatorId,
    version,
    name,
    routingKey,
    data: checkBytes(`${at}.data`, data),
    metadata: metadata === undefined ? new Uint8Array(0) : checkBytes(`${at}.metadata`, metadata),
  }
}

/** Validates a write batch and copies it; throws before anything is written. */
export function checkWrite(events: unknown): CheckedWrite {
  const out = mapArray('events', events, checkEvent)
  const ids = new Set<string>()
  const aggregates = new Map<string, AggregateExpectation>()
  for (let i = 0; i < out.length; i++) {
    const id = out[i]!.id
    if (ids.has(id)) throw new InvalidArgumentError(`events[${i}].id ${describe(id)} appears twice in the batch`)
    ids.add(id)
  }
  // Only after every event is known to be well-formed: consecutive versions per aggregate, in batch order.
  for (const e of out) {
    const key = aggregateKey(e.aggregatorType, e.aggregatorId)
    const agg = aggregates.get(key)
    if (!agg) {
      aggregates.set(key, { key, aggregatorType: e.aggregatorType, aggregatorId: e.aggregatorId, expected: e.version - 1, last: e.version })
    } else if (e.version !== agg.last + 1) {
      throw new InvalidOriginalVersionError({
        aggregatorType: e.aggregatorType,
        aggregatorId: e.aggregatorId,
        expectedVersion: agg.last + 1,
        foundVersion: e.version,
        reason: `versions in one write must be consecutive, event ${e.id} follows version ${agg.last}`,
      })
    } else {
      agg.last = e.version
    }
  }
  return { events: out, aggregates: [...aggregates.values()] }
}

/** A validated read: filters, direction, page size and the exclusive bound. */
export interface ReadPlan {
  /** OR-ed filters; empty means all events. */
  filters: ReadAggregator[]
  /** `undefined`: any routing key; otherwise exactly this value (`null`: none). */
  routingKey: string | null | undefined
  /** `forward`: ascending from `cursor`; `backward`: the last `limit` before `cursor`. */
  direction: 'forward' | 'backward'
  /** Page size, 1..10,000. */
  limit: number
  /** Exclusive position bound, or `null` for the start (forward) or the end (backward). */
  cursor: number | null
}

/** Largest `first` / `last`. */
export const MAX_PAGE = 10_000
/** Page size when neither `first` nor `last` is given. */
export const DEFAULT_PAGE = 100

/** `read` without `args`. */
const NO_ARGS: { first?: unknown; after?: unknown; last?: unknown; before?: unknown } = {}

/** Validates `read`'s arguments, each field read once. */
export function planRead(aggregators: unknown, routingKey: unknown, args: unknown): ReadPlan {
  const filters: ReadAggregator[] = aggregators === undefined || aggregators === null ? [] : checkAggregators('aggregators', aggregators)
  let rk: string | null | undefined
  if (routingKey !== undefined && routingKey !== null) {
    const checked = checkRoutingKey('routingKey', routingKey)
    if ('value' in checked) rk = checked.value
  }
  const { first, after, last, before } = args === undefined || args === null ? NO_ARGS : readFields('args', args, ['first', 'after', 'last', 'before'])
  const forward = first !== undefined || after !== undefined
  const backward = last !== undefined || before !== undefined
  if (first !== undefined && last !== undefined) throw new InvalidArgumentError('args.first and args.last cannot be used together')
  if (after !== undefined && before !== undefined) throw new InvalidArgumentError('args.after and args.before cannot be used together')
  if (forward && backward) throw new InvalidArgumentError('args mixes forward (first/after) and backward (last/before) pagination')
  if (first !== undefined) assertInteger('args.first', first, 1, MAX_PAGE)
  if (last !== undefined) assertInteger('args.last', last, 1, MAX_PAGE)
  if (backward) {
    return {
      filters,
      routingKey: rk,
      direction: 'backward',
      limit: (last as number | undefined) ?? DEFAULT_PAGE,
      cursor: before === undefined ? null : decodeCursor(before, 'args.before'),
    }
  }
  return {
    filters,
    routingKey: rk,
    direction: 'forward',
    limit: (first as number | undefined) ?? DEFAULT_PAGE,
    cursor: after === undefined ? null : decodeCursor(after, 'args.after'),
  }
}

/** Checks the three keys of a snapshot. */
export function checkSnapshotKeys(aggregatorType: unknown, aggregatorRevision: unknown, id: unknown): void {
  assertKey('aggregatorType', aggregatorType)
  assertKey('aggregatorRevision', aggregatorRevision)
  assertKey('id', id)
}

/** Checks `saveSnapshot`'s arguments; returns the copy of `data` to store. */
export function checkSnapshot(aggregatorType: unknown, aggregatorRevision: unknown, id: unknown, data: unknown, cursor: unknown): Uint8Array {
  checkSnapshotKeys(aggregatorType, aggregatorRevision, id)
  const copy = checkBytes('data', data)
  decodeCursor(cursor)
  return copy
}

/** Checks `acknowledge`'s arguments. */
export function checkAcknowledge(key: unknown, cursor: unknown, lag: unknown, workerId: unknown, generation?: unknown): void {
  assertKey('key', key)
  decodeCursor(cursor)
  assertInteger('lag', lag, 0)
  if (workerId !== undefined) assertKey('workerId', workerId)
  if (generation !== undefined) {
    if (workerId === undefined) throw new InvalidArgumentError('generation fences a worker: give workerId with it')
    assertInteger('generation', generation, 0)
  }
}

/** Longest lease: a day. A longer one would keep a dead worker's key for longer than anyone waits. */
export const MAX_LEASE_MS = 86_400_000

/** `read`'s aggregator filters, each field read once: also what `subscribe` checks its `aggregators` with. */
export function checkAggregators(name: string, value: unknown): ReadAggregator[] {
  return mapArray(name, value, (item, at) => {
    const a = readFields(at, item, ['aggregatorType', 'aggregatorId', 'name'])
    assertKey(`${at}.aggregatorType`, a.aggregatorType)
    const f: ReadAggregator = { aggregatorType: a.aggregatorType }
    if (a.aggregatorId !== undefined) {
      assertKey(`${at}.aggregatorId`, a.aggregatorId)
      f.aggregatorId = a.aggregatorId
    }
    if (a.name !== undefined) {
      assertKey(`${at}.name`, a.name)
      f.name = a.name
    }
    return f
  })
}

/** `read`'s routing-key filter, each field read once, as a fresh `RoutingKey`: also what `subscribe` checks. */
export function checkRoutingKey(name: string, value: unknown): RoutingKey {
  assertObject(name, value)
  const hasAll = hasField(name, value, 'all')
  const hasValue = hasField(name, value, 'value')
  if (hasAll && hasValue) throw new InvalidArgumentError(`${name} must be either { all: true } or { value }, not both`)
  if (hasAll) {
    const { all } = readFields(name, value, ['all'])
    if (all !== true) throw new InvalidArgumentError(`${name}.all must be true, got ${describe(all)}`)
    return { all: true }
  }
  if (hasValue) {
    const { value: v } = readFields(name, value, ['value'])
    if (v === null) return { value: null }
    assertKey(`${name}.value`, v)
    return { value: v }
  }
  throw new InvalidArgumentError(`${name} must be { all: true } or { value: string | null }`)
}

/** Checks `claimSubscriber`'s arguments. */
export function checkClaim(key: unknown, workerId: unknown, leaseMs: unknown): void {
  checkKeyWorker(key, workerId)
  assertInteger('leaseMs', leaseMs, 1, MAX_LEASE_MS)
}

/** Checks a subscriber key and a worker id. */
export function checkKeyWorker(key: unknown, workerId: unknown): void {
  assertKey('key', key)
  assertKey('workerId', workerId)
}

/** Checks `rewindSubscriber`'s arguments. */
export function checkRewind(key: unknown, cursor: unknown): void {
  assertKey('key', key)
  if (cursor !== null) decodeCursor(cursor, 'cursor')
}

/** Validates `listSubscribers`' arguments, each read once: `limit` 1..10,000 (default 100), `after` a key. */
export function checkListSubscribers(args: unknown): { limit: number; after: string | undefined } {
  if (args === undefined || args === null) return { limit: DEFAULT_PAGE, after: undefined }
  const { limit = DEFAULT_PAGE, after } = readFields('args', args, ['limit', 'after'])
  assertInteger('args.limit', limit, 1, MAX_PAGE)
  if (after !== undefined) assertKey('args.after', after)
  return { limit, after }
}
