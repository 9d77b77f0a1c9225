import { InvalidArgumentError } from '../../errors.js'
import { MAX_LEASE_MS } from '../../events/validate.js'
import { assertInteger, assertKey, describe, jsonText, mapArray, readEntries, readFields } from '../../validate.js'
import { assertStore, checkRetry } from '../subscriptions/options.js'
import { newEventId } from '../ulid.js'
import type { ProcedureStatus, ProcedureStep } from './types.js'

/** Longest procedure id in UTF-8 bytes: its checkpoint ids (`procedure/<id>/<n>`) must stay keys. */
export const MAX_ID_BYTES = 900

/** The runner's options after validation, with defaults. */
export interface RunnerSettings {
  retention: number | null
  attempts: number
  minBackoffMs: number
  maxBackoffMs: number
  runnerId: string
  leaseMs: number
}

/** A definition after validation: its steps copied, so that a later change to the caller's object changes nothing. */
export interface Definition {
  type: string
  poisonKeys: (input: unknown) => unknown
  steps: Map<string, ProcedureStep>
}

/** Checks the constructor's arguments, each read once. */
export function checkRunner(store: unknown, options: unknown): RunnerSettings {
  assertStore(store)
  const o = readFields('options', options === undefined ? {} : options, ['retention', 'retry', 'runnerId', 'leaseMs'] as const)
  const retention = o.retention ?? null
  if (retention !== null) assertInteger('options.retention', retention, 1, 1_000_000)
  const runnerId = o.runnerId ?? newEventId()
  assertKey('options.runnerId', runnerId)
  if (Buffer.byteLength(runnerId) > MAX_ID_BYTES) throw new InvalidArgumentError(`options.runnerId must be at most ${MAX_ID_BYTES} bytes of UTF-8`)
  const leaseMs = o.leaseMs ?? 10_000
  assertInteger('options.leaseMs', leaseMs, 100, MAX_LEASE_MS)
  const { attempts, minBackoffMs, maxBackoffMs } = checkRetry('options.retry', o.retry)
  return { retention, attempts, minBackoffMs, maxBackoffMs, runnerId, leaseMs }
}

/** A procedure type name: a key of at most 900 bytes. */
export function checkType(name: string, type: unknown): asserts type is string {
  assertKey(name, type)
  if (Buffer.byteLength(type) > MAX_ID_BYTES) throw new InvalidArgumentError(`${name} must be at most ${MAX_ID_BYTES} bytes of UTF-8`)
}

/** A procedure id: a key of at most 900 bytes. */
export function checkId(name: string, id: unknown): asserts id is string {
  assertKey(name, id)
  if (Buffer.byteLength(id) > MAX_ID_BYTES) throw new InvalidArgumentError(`${name} must be at most ${MAX_ID_BYTES} bytes of UTF-8`)
}

/** Checks `define`'s arguments. */
export function checkDefine(type: unknown, definition: unknown): Definition {
  checkType('type', type)
  const d = readFields('definition', definition, ['poisonKeys', 'steps'] as const)
  if (typeof d.poisonKeys !== 'function') throw new InvalidArgumentError(`definition.poisonKeys must be a function, got ${describe(d.poisonKeys)}`)
  const steps = new Map<string, ProcedureStep>()
  for (const [name, step] of Object.entries(readEntries('definition.steps', d.steps))) {
    if (name === 'done' || name.startsWith('__')) throw new InvalidArgumentError(`definition.steps.${name}: the step names "done" and "__…" are reserved`)
    checkType(`definition.steps: the step name ${describe(name)}`, name)
    if (typeof step !== 'function') throw new InvalidArgumentError(`definition.steps.${name} must be a function, got ${describe(step)}`)
    steps.set(name, step as ProcedureStep)
  }
  if (!steps.has('start')) throw new InvalidArgumentError('definition.steps must have a "start" step')
  return { type, poisonKeys: d.poisonKeys as (input: unknown) => unknown, steps }
}

/** Checks `run`'s options and input (stored as JSON in every checkpoint's metadata). */
export function checkRun(input: unknown, options: unknown): { id: string | undefined } {
  const o = readFields('options', options === undefined ? {} : options, ['id'] as const)
  if (o.id !== undefined) checkId('options.id', o.id)
  jsonText('input', input)
  return { id: o.id }
}

/** `poisonKeys(input)`'s result: keys, deduplicated and sorted, so that overlapping procedures contend on the same first key. */
export function checkKeys(type: string, keys: unknown): string[] {
  const name = `poisonKeys(input) of ${JSON.stringify(type)}`
  const checked = mapArray(name, keys, (k, at) => {
    assertKey(at, k)
    return k
  })
  return [...new Set(checked)].sort()
}

const STATUSES: readonly ProcedureStatus[] = ['running', 'done', 'failed', 'poisoned']

/** Checks `list`'s options. */
export function checkList(options: unknown): { status: ProcedureStatus | undefined; after: string | undefined; limit: number } {
  if (options === undefined) return { status: undefined, after: undefined, limit: Number.POSITIVE_INFINITY }
  const o = readFields('options', options, ['status', 'after', 'limit'] as const)
  if (o.status !== undefined && !STATUSES.includes(o.status as ProcedureStatus))
    throw new InvalidArgumentError(`options.status must be one of ${STATUSES.join(', ')}, got ${describe(o.status)}`)
  if (o.after !== undefined) checkId('options.after', o.after)
  if (o.limit !== undefined) assertInteger('options.limit', o.limit, 1, 10_000)
  return { status: o.status as ProcedureStatus | undefined, after: o.after, limit: o.limit ?? Number.POSITIVE_INFINITY }
}
