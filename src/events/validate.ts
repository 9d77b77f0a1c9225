import { InvalidArgumentError, InvalidOriginalVersionError } from '../errors.js'
import { assertBytes, assertInteger, assertKey, assertObject, copyBytes, describe } from '../validate.js'
import { decodeCursor } from './cursor.js'
import type { Args, NewEvent, ReadAggregator } from './types.js'

/** A write after validation: private copies, and the version each touched aggregate must be at. */
export interface CheckedWrite {
  /** The events, copied, with `routingKey` and `metadata` filled in. */
  events: Required<NewEvent>[]
  /** One entry per aggregate touched: the stored version the write expects (first version − 1). */
  aggregates: AggregateExpectation[]
}

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

/** Validates a write batch and copies it; throws before anything is written. */
export function checkWrite(events: unknown): CheckedWrite {
  if (!Array.isArray(events)) throw new InvalidArgumentError(`events must be an array, got ${describe(events)}`)
  const out: Required<NewEvent>[] = []
  const ids = new Set<string>()
  const aggregates = new Map<string, AggregateExpectation>()
  for (let i = 0; i < events.length; i++) {
    const e: unknown = events[i]
    const at = `events[${i}]`
    assertObject(at, e)
    assertKey(`${at}.id`, e.id)
    assertKey(`${at}.aggregatorType`, e.aggregatorType)
    assertKey(`${at}.aggregatorId`, e.aggregatorId)
    assertInteger(`${at}.version`, e.version, 1)
    assertKey(`${at}.name`, e.name)
    if (e.routingKey !== undefined && e.routingKey !== null) assertKey(`${at}.routingKey`, e.routingKey)
    assertBytes(`${at}.data`, e.data)
    if (e.metadata !== undefined) assertBytes(`${at}.metadata`, e.metadata)
    if (ids.has(e.id)) throw new InvalidArgumentError(`${at}.id ${describe(e.id)} appears twice in the batch`)
    ids.add(e.id)
    out.push({
      id: e.id,
      aggregatorType: e.aggregatorType,
      aggregatorId: e.aggregatorId,
      version: e.version,
      name: e.name,
      routingKey: (e.routingKey as string | null | undefined) ?? null,
      data: copyBytes(e.data),
      metadata: e.metadata === undefined ? new Uint8Array(0) : copyBytes(e.metadata as Uint8Array),
    })
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

/** Validates `read`'s arguments. */
export function planRead(aggregators: unknown, routingKey: unknown, args: unknown): ReadPlan {
  const filters: ReadAggregator[] = []
  if (aggregators !== undefined && aggregators !== null) {
    if (!Array.isArray(aggregators)) throw new InvalidArgumentError(`aggregators must be an array or null, got ${describe(aggregators)}`)
    aggregators.forEach((a: unknown, i) => {
      assertObject(`aggregators[${i}]`, a)
      assertKey(`aggregators[${i}].aggregatorType`, a.aggregatorType)
      if (a.aggregatorId !== undefined) assertKey(`aggregators[${i}].aggregatorId`, a.aggregatorId)
      if (a.name !== undefined) assertKey(`aggregators[${i}].name`, a.name)
      const f: ReadAggregator = { aggregatorType: a.aggregatorType }
      if (a.aggregatorId !== undefined) f.aggregatorId = a.aggregatorId as string
      if (a.name !== undefined) f.name = a.name as string
      filters.push(f)
    })
  }
  let rk: string | null | undefined
  if (routingKey !== undefined && routingKey !== null) {
    assertObject('routingKey', routingKey)
    const r = routingKey as Partial<{ all: unknown; value: unknown }>
    if ('all' in r && 'value' in r) throw new InvalidArgumentError('routingKey must be either { all: true } or { value }, not both')
    if ('all' in r) {
      if (r.all !== true) throw new InvalidArgumentError(`routingKey.all must be true, got ${describe(r.all)}`)
    } else if ('value' in r) {
      if (r.value !== null) assertKey('routingKey.value', r.value)
      rk = r.value as string | null
    } else {
      throw new InvalidArgumentError('routingKey must be { all: true } or { value: string | null }')
    }
  }
  const a = (args ?? {}) as Args
  if (args !== undefined && args !== null) assertObject('args', args)
  const { first, after, last, before } = a
  const forward = first !== undefined || after !== undefined
  const backward = last !== undefined || before !== undefined
  if (first !== undefined && last !== undefined) throw new InvalidArgumentError('args.first and args.last cannot be used together')
  if (after !== undefined && before !== undefined) throw new InvalidArgumentError('args.after and args.before cannot be used together')
  if (forward && backward) throw new InvalidArgumentError('args mixes forward (first/after) and backward (last/before) pagination')
  if (first !== undefined) assertInteger('args.first', first, 1, MAX_PAGE)
  if (last !== undefined) assertInteger('args.last', last, 1, MAX_PAGE)
  if (backward) {
    return { filters, routingKey: rk, direction: 'backward', limit: last ?? DEFAULT_PAGE, cursor: before === undefined ? null : decodeCursor(before, 'args.before') }
  }
  return { filters, routingKey: rk, direction: 'forward', limit: first ?? DEFAULT_PAGE, cursor: after === undefined ? null : decodeCursor(after, 'args.after') }
}

/** Checks the three keys of a snapshot. */
export function checkSnapshotKeys(aggregatorType: unknown, aggregatorRevision: unknown, id: unknown): void {
  assertKey('aggregatorType', aggregatorType)
  assertKey('aggregatorRevision', aggregatorRevision)
  assertKey('id', id)
}

/** Checks `saveSnapshot`'s arguments. */
export function checkSnapshot(aggregatorType: unknown, aggregatorRevision: unknown, id: unknown, data: unknown, cursor: unknown): void {
  checkSnapshotKeys(aggregatorType, aggregatorRevision, id)
  assertBytes('data', data)
  decodeCursor(cursor)
}

/** Checks `acknowledge`'s arguments. */
export function checkAcknowledge(key: unknown, cursor: unknown, lag: unknown, workerId: unknown): void {
  assertKey('key', key)
  decodeCursor(cursor)
  assertInteger('lag', lag, 0)
  if (workerId !== undefined) assertKey('workerId', workerId)
}
