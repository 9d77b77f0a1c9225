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

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The cursor of the event at `position`. */
export function encodeCursor(position: number): string {
  // base64url (unpadded) of ASCII text, by hand: a page makes one per event, and a Buffer round trip costs ~10× this.
  const text = PREFIX + position
  let out = ''
  let i = 0
  for (; i + 2 < text.length; i += 3) {
    const n = (text.charCodeAt(i) << 16) | (text.charCodeAt(i + 1) << 8) | text.charCodeAt(i + 2)
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + ALPHABET[(n >> 6) & 63]! + ALPHABET[n & 63]!
  }
  const rest = text.length - i
  if (rest > 0) {
    const n = (text.charCodeAt(i) << 16) | (rest === 2 ? text.charCodeAt(i + 1) << 8 : 0)
    out += ALPHABET[n >> 18]! + ALPHABET[(n >> 12) & 63]! + (rest === 2 ? ALPHABET[(n >> 6) & 63]! : '')
  }
  return out
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
