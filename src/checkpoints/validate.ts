import { InvalidArgumentError } from '../errors.js'
import { assertInteger, assertKey, assertObject, describe } from '../validate.js'
import type { Checkpoint } from './types.js'

/** A checked checkpoint, minus its state (serialised separately). */
export interface CheckedCheckpoint {
  id: string
  metadata: string
  parentId: string | null
  createdAt: number | undefined
}

/** Validates `saveWithTrace`'s arguments. */
export function checkCheckpoint(traceId: unknown, checkpoint: unknown): CheckedCheckpoint {
  assertKey('traceId', traceId)
  assertObject('checkpoint', checkpoint)
  const c = checkpoint as Partial<Checkpoint>
  assertKey('checkpoint.id', c.id)
  if (!('state' in c)) throw new InvalidArgumentError('checkpoint.state is missing')
  if (c.parentId !== undefined && c.parentId !== null) assertKey('checkpoint.parentId', c.parentId)
  if (c.createdAt !== undefined) assertInteger('checkpoint.createdAt', c.createdAt, 0)
  let metadata = '{}'
  if (c.metadata !== undefined) {
    assertObject('checkpoint.metadata', c.metadata)
    try {
      metadata = JSON.stringify(c.metadata)
    } catch (err) {
      throw new InvalidArgumentError(`checkpoint.metadata cannot be serialised as JSON: ${(err as Error).message}`)
    }
  }
  return { id: c.id, metadata, parentId: c.parentId ?? null, createdAt: c.createdAt }
}

/** Validates `prune`'s `keep`. */
export function checkKeep(keep: unknown): number {
  assertInteger('keep', keep, 0)
  return keep
}

/** Validates `listTraces`' arguments. */
export function checkTraceArgs(args: unknown): { limit: number; after: string | undefined } {
  if (args === undefined || args === null) return { limit: 100, after: undefined }
  assertObject('args', args)
  const { limit = 100, after } = args as { limit?: unknown; after?: unknown }
  assertInteger('args.limit', limit, 1, 10_000)
  if (after !== undefined) assertKey('args.after', after)
  return { limit, after: after as string | undefined }
}

/** Refuses a serializer that returned something other than bytes. */
export function checkSerialized(bytes: unknown): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new InvalidArgumentError(`the checkpoint serializer returned ${describe(bytes)}, not a Uint8Array`)
  return bytes
}
