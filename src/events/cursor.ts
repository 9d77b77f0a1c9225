import { InvalidArgumentError } from '../errors.js'
import { describe } from '../validate.js'

/*
 * A cursor is the base64url text of `hf1.<position>`. Opaque to users, but deterministic so that every backend
 * hands out the same cursor for the same position, and strict so that anything else (another library's cursor, a
 * truncated copy) is refused instead of silently read as some position.
 */
const PREFIX = 'hf1.'
const SHAPE = /^[A-Za-z0-9_-]{1,40}$/
const BODY = /^hf1\.(0|[1-9][0-9]{0,15})$/

/** The cursor of the event at `position`. */
export function encodeCursor(position: number): string {
  return Buffer.from(PREFIX + position).toString('base64url')
}

/** The position a cursor names; `INVALID_ARGUMENT` if it is not a Holdfast cursor. */
export function decodeCursor(cursor: unknown, name = 'cursor'): number {
  if (typeof cursor !== 'string' || !SHAPE.test(cursor)) throw new InvalidArgumentError(`${name} is not a Holdfast cursor: ${describe(cursor)}`)
  const text = Buffer.from(cursor, 'base64url').toString('latin1')
  const match = BODY.exec(text)
  const position = match ? Number(match[1]) : NaN
  // Round-tripping rejects non-canonical spellings (padding, trailing bits) that would decode to the same text.
  if (!Number.isSafeInteger(position) || encodeCursor(position) !== cursor)
    throw new InvalidArgumentError(`${name} is not a Holdfast cursor: ${describe(cursor)}`)
  return position
}
