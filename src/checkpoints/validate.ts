import { types } from 'node:util'
import { HoldfastError, InvalidArgumentError } from '../errors.js'
import {
  MAX_PAYLOAD_BYTES,
  assertInteger,
  assertKey,
  assertObject,
  byteLengthOf,
  describe,
  hasField,
  isBytes,
  jsonText,
  messageOf,
  readFields,
} from '../validate.js'
import type { CheckpointSerializer } from './types.js'

/** A checked checkpoint: its fields read once, the state serialised, the metadata as JSON text. */
export interface CheckedCheckpoint {
  id: string
  /** The state as the store's serializer wrote it, at most 64 MiB. */
  state: Uint8Array
  /** The metadata as JSON text, at most 64 MiB of UTF-8. */
  metadata: string
  parentId: string | null
  createdAt: number | undefined
}

const FIELDS = ['id', 'state', 'metadata', 'parentId', 'createdAt'] as const

/**
 * Validates `saveWithTrace`'s arguments: every field of `checkpoint` is read once, and the copy is what is checked,
 * serialised and stored. The metadata is stored as JSON text that PostgreSQL's `jsonb` must accept (thread queries
 * compare it as `jsonb`), so a NUL or a lone surrogate in it is refused on every backend.
 */
export function checkCheckpoint(traceId: unknown, checkpoint: unknown, serializer: CheckpointSerializer): CheckedCheckpoint {
  assertKey('traceId', traceId)
  const c = readFields('checkpoint', checkpoint, FIELDS)
  assertKey('checkpoint.id', c.id)
  if (c.state === undefined && !hasField('checkpoint', checkpoint as object, 'state')) throw new InvalidArgumentError('checkpoint.state is missing')
  const parentId = c.parentId ?? null
  if (parentId !== null) assertKey('checkpoint.parentId', parentId)
  if (c.createdAt !== undefined) assertInteger('checkpoint.createdAt', c.createdAt, 0)
  let metadata = '{}'
  if (c.metadata !== undefined) {
    assertObject('checkpoint.metadata', c.metadata)
    metadata = jsonText('checkpoint.metadata', c.metadata)
  }
  return { id: c.id, state: serializeState(serializer, c.state, 'checkpoint.state'), metadata, parentId, createdAt: c.createdAt }
}

/**
 * `serializer.serialize(state)`, with every way it can fail made `INVALID_ARGUMENT` naming `name`: a throw (a
 * `RangeError` on a very deep or huge state, a custom serializer's own error, kept as `cause`), a result that is not
 * bytes, more than 64 MiB.
 */
export function serializeState(serializer: CheckpointSerializer, state: unknown, name: string): Uint8Array {
  let bytes: unknown
  try {
    bytes = serializer.serialize(state)
  } catch (err) {
    // Our serializers' own refusals already name the state; anything else is wrapped.
    if (types.isNativeError(err) && err instanceof HoldfastError && err.code === 'INVALID_ARGUMENT') throw err
    throw new InvalidArgumentError(`${name} cannot be serialised: ${messageOf(err)}`, { cause: err })
  }
  return checkSerialized(bytes, name)
}

/** Refuses a serializer's result that is not bytes or is larger than 64 MiB. */
export function checkSerialized(bytes: unknown, name = 'checkpoint.state'): Uint8Array {
  if (!isBytes(bytes)) throw new InvalidArgumentError(`the checkpoint serializer returned ${describe(bytes)} for ${name}, not a Uint8Array`)
  const n = byteLengthOf(bytes)
  if (n > MAX_PAYLOAD_BYTES) throw new InvalidArgumentError(`${name} is ${n} bytes serialised, more than the ${MAX_PAYLOAD_BYTES} allowed`)
  // A view of a detached buffer reads as empty here but fails when the driver binds it, inside a shared commit.
  return n === 0 ? new Uint8Array(0) : bytes
}

/** Validates `prune`'s `keep`. */
export function checkKeep(keep: unknown): number {
  assertInteger('keep', keep, 0)
  return keep
}

/** Validates `listTraces`' arguments, each read once. */
export function checkTraceArgs(args: unknown): { limit: number; after: string | undefined } {
  if (args === undefined || args === null) return { limit: 100, after: undefined }
  const { limit = 100, after } = readFields('args', args, ['limit', 'after'])
  assertInteger('args.limit', limit, 1, 10_000)
  if (after !== undefined) assertKey('args.after', after)
  return { limit, after }
}
