import { InvalidArgumentError } from '../errors.js'
import { MAX_KEY_BYTES, assertInteger, assertKey, assertObject, assertText, checkBytes, describe, jsonText, mapArray, readEntries, readFields } from '../validate.js'
import type { ChannelValue, ChannelVersion, ThreadAddress, ThreadCheckpointInput, ThreadQuery, ThreadWrite, TypedValue } from './thread-types.js'

/** A namespace: like a key, but `""` (the root graph's) is allowed. */
export function assertNamespace(name: string, value: unknown): asserts value is string {
  if (value !== '') assertKey(name, value)
}

/** The checkpoint store id of a thread's checkpoint. */
export function threadKey(threadId: string, namespace: string, checkpointId: string): string {
  return JSON.stringify([threadId, namespace, checkpointId])
}

/** The coordinates in a checkpoint store id made by {@link threadKey}; `null` for any other id. */
export function parseThreadKey(key: string): [string, string, string] | null {
  if (!key.startsWith('["')) return null
  // Without a backslash no string holds an escaped quote, so `","` splits it; the round trip keeps it to keys we made.
  if (!key.includes('\\')) {
    const parts = key.slice(2, -2).split('","')
    return parts.length === 3 && JSON.stringify(parts) === key ? (parts as [string, string, string]) : null
  }
  try {
    const a: unknown = JSON.parse(key)
    return Array.isArray(a) && a.length === 3 && a.every((x) => typeof x === 'string') ? (a as [string, string, string]) : null
  } catch {
    return null
  }
}

/**
 * The id range `[low, high)` holding every checkpoint of the thread (and namespace, when given). JSON closes each
 * string with `"`, so the prefix ends in `,`; the next code unit, `-`, bounds it.
 */
export function threadRange(threadId: string, namespace?: string): [string, string] {
  const open = JSON.stringify(namespace === undefined ? [threadId] : [threadId, namespace]).slice(0, -1) + ','
  return [open, open.slice(0, -1) + '-']
}

const ADDRESS = ['threadId', 'namespace', 'checkpointId'] as const

function checkCoordinates(a: { threadId: unknown; namespace: unknown; checkpointId: unknown }): ThreadAddress {
  assertKey('threadId', a.threadId)
  assertNamespace('namespace', a.namespace)
  assertKey('checkpointId', a.checkpointId)
  return { threadId: a.threadId, namespace: a.namespace, checkpointId: a.checkpointId }
}

/** Validates a checkpoint's address, each field read once; returns the copy. */
export function checkAddress(a: unknown): ThreadAddress {
  return checkCoordinates(readFields('address', a, ADDRESS))
}

/** A value: its tag and a copy of its bytes (the copy is stored, or encoded later, so the caller may reuse its buffer). */
function checkValue(name: string, v: unknown): TypedValue {
  const { type, data } = readFields(name, v, ['type', 'data'])
  assertText(`${name}.type`, type, MAX_KEY_BYTES)
  return { type, data: checkBytes(`${name}.data`, data) }
}

/** A version as stored: JSON, so the number 1 and the string "1" stay apart. */
export const versionText = (v: ChannelVersion): string => (typeof v === 'number' ? String(v) : JSON.stringify(v))

function assertVersion(name: string, v: unknown): asserts v is ChannelVersion {
  if (typeof v === 'number' ? !Number.isFinite(v) : typeof v !== 'string')
    throw new InvalidArgumentError(`${name} must be a string or a finite number, got ${describe(v)}`)
  assertKey(name, versionText(v as ChannelVersion))
}

/** The (channel, stored version) pairs a checkpoint's `channel_versions` names. */
export function versionsOf(checkpoint: Record<string, unknown>): [string, string][] {
  const versions = checkpoint.channel_versions as Record<string, ChannelVersion> | undefined
  return versions === undefined ? [] : Object.entries(versions).map(([channel, v]) => [channel, versionText(v)])
}

const INPUT = [...ADDRESS, 'parentId', 'checkpoint', 'metadata', 'createdAt', 'values'] as const

/**
 * Validates `put`'s argument. Every field is read once and only the copies go on: `checkpoint` is copied one level
 * deep (its `channel_versions` two), since the store reads `channel_versions` again after serialising the whole;
 * the values' bytes are copied. `metadata` is left to the checkpoint store, which reads it once, as JSON.
 */
export function checkThreadCheckpoint(c: unknown): ThreadCheckpointInput {
  const f = readFields('checkpoint', c, INPUT)
  const address = checkCoordinates(f)
  const parentId = f.parentId
  if (parentId !== null) assertKey('parentId', parentId)
  const checkpoint = readEntries('checkpoint', f.checkpoint)
  const versions = checkpoint.channel_versions
  if (versions !== undefined) {
    const copy = readEntries('checkpoint.channel_versions', versions)
    for (const [channel, v] of Object.entries(copy)) {
      assertKey('checkpoint.channel_versions key', channel)
      assertVersion(`checkpoint.channel_versions.${channel}`, v)
    }
    checkpoint.channel_versions = copy
  }
  const metadata = f.metadata
  assertObject('metadata', metadata)
  const createdAt = f.createdAt
  if (createdAt !== undefined) assertInteger('createdAt', createdAt, 0)
  const values = mapArray('values', f.values, (v, at): ChannelValue => {
    const { channel, version, value } = readFields(at, v, ['channel', 'version', 'value'])
    assertKey(`${at}.channel`, channel)
    assertVersion(`${at}.version`, version)
    return { channel, version, value: checkValue(`${at}.value`, value) }
  })
  // Spelled out: a spread followed by more properties is a slow path in V8 (~6 µs of a put here).
  return { threadId: address.threadId, namespace: address.namespace, checkpointId: address.checkpointId, parentId, checkpoint, metadata, createdAt, values }
}

const WRITE = ['taskId', 'taskPath', 'idx', 'channel', 'value'] as const

/** Validates `putWrites`' writes, each field read once; the bytes are copied. */
export function checkWrites(writes: unknown): ThreadWrite[] {
  return mapArray('writes', writes, (w, at): ThreadWrite => {
    const { taskId, taskPath, idx, channel, value } = readFields(at, w, WRITE)
    assertKey(`${at}.taskId`, taskId)
    assertText(`${at}.taskPath`, taskPath, MAX_KEY_BYTES)
    assertInteger(`${at}.idx`, idx, -(2 ** 31), 2 ** 31 - 1)
    assertKey(`${at}.channel`, channel)
    return { taskId, taskPath, idx, channel, value: checkValue(`${at}.value`, value) }
  })
}

/** A checked query, with its limit. */
export type CheckedQuery = ThreadQuery & { limit: number }

const QUERY = ['threadId', 'namespace', 'checkpointId', 'before', 'filter', 'olderThan', 'limit'] as const

/**
 * Validates `list`'s query, each field read once, into a fresh query. Filter values are copied through JSON, which
 * is how they are compared (PostgreSQL compares them as `jsonb`, so they must be valid `jsonb` too).
 */
export function checkThreadQuery(query: unknown): CheckedQuery {
  if (query === undefined) return { limit: 100 }
  const q = readFields('query', query, QUERY)
  const limit = q.limit ?? 100
  assertInteger('query.limit', limit, 1, 10_000)
  const out: CheckedQuery = { limit }
  if (q.threadId !== undefined) {
    assertKey('query.threadId', q.threadId)
    out.threadId = q.threadId
  }
  if (q.namespace !== undefined) {
    assertNamespace('query.namespace', q.namespace)
    out.namespace = q.namespace
  }
  if (q.checkpointId !== undefined) {
    assertKey('query.checkpointId', q.checkpointId)
    out.checkpointId = q.checkpointId
  }
  if (q.before !== undefined) {
    assertKey('query.before', q.before)
    out.before = q.before
  }
  if (q.olderThan !== undefined) {
    assertInteger('query.olderThan', q.olderThan, 0)
    out.olderThan = q.olderThan
  }
  if (q.filter !== undefined) {
    const filter = readEntries('query.filter', q.filter)
    for (const [k, v] of Object.entries(filter)) {
      assertKey('query.filter key', k)
      if (v === undefined) throw new InvalidArgumentError(`query.filter.${k} must be a JSON value, got undefined`)
      filter[k] = JSON.parse(jsonText(`query.filter.${k}`, v))
    }
    out.filter = filter
  }
  return out
}

/** Whether `metadata` has every key of `filter` with a JSON-equal value (key order aside). */
export function matchesFilter(metadata: Record<string, unknown>, filter: Record<string, unknown> | undefined): boolean {
  if (filter === undefined) return true
  return Object.entries(filter).every(([k, v]) => Object.hasOwn(metadata, k) && jsonEqual(metadata[k], v))
}

function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const ka = Object.keys(a)
  const kb = Object.keys(b)
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
}

/** Writes in (task path, task id, index) order, strings by code point as LangGraph's `compareWritesSortKeys`. */
export function sortWrites(writes: ThreadWrite[]): ThreadWrite[] {
  return writes.length < 2 ? writes : writes.sort((a, b) => codePointCompare(a.taskPath, b.taskPath) || codePointCompare(a.taskId, b.taskId) || a.idx - b.idx)
}

/** UTF-16 units, with surrogates moved above U+E000–U+FFFF: the order of code points. */
function codePointCompare(a: string, b: string): number {
  if (a === b) return 0
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return unit(x) - unit(y)
  }
  return a.length - b.length
}

const unit = (c: number): number => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c)
