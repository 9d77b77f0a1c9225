import { types } from 'node:util'
import { InvalidArgumentError } from './errors.js'

/** Longest key string, in UTF-8 bytes (`spec/store.md`). */
export const MAX_KEY_BYTES = 1024
/** Largest byte payload: 64 MiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

const encoder = new TextEncoder()

/*
 * The intrinsic getter, called directly: `value.byteLength` runs whatever a subclass or an own property defines, and
 * a caller's code may throw or answer differently each time. This one reads the internal slot (0 once detached).
 */
const typedArrayByteLength = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype) as object, 'byteLength')!.get as (
  this: Uint8Array,
) => number

/** The byte length of a real `Uint8Array` (checked with {@link isBytes}), from its internal slot. */
export function byteLengthOf(value: Uint8Array): number {
  return typedArrayByteLength.call(value)
}

/**
 * Whether `value` is a real `Uint8Array` (or `Buffer`). `instanceof` is fooled both ways: a Proxy of one passes it
 * (and then throws or lies on every access) and one from another realm fails it; this checks the internal slot.
 */
export function isBytes(value: unknown): value is Uint8Array {
  return types.isUint8Array(value)
}

/**
 * Short, safe rendering of a bad value for an error message. Never throws and never runs the caller's code (no
 * `toString`, no getters, no Proxy traps): it builds the message of an error that must itself be a Holdfast error.
 */
export function describe(value: unknown): string {
  try {
    switch (typeof value) {
      case 'string':
        return value.length > 60 ? `a string of ${value.length} characters` : JSON.stringify(value)
      case 'function':
        return 'a function'
      case 'undefined':
        return 'undefined'
      case 'symbol':
        return 'a symbol'
      case 'number':
      case 'boolean':
      case 'bigint':
        return `${typeof value} ${String(value)}`
      default:
        if (value === null) return 'null'
        if (types.isProxy(value)) return 'a Proxy'
        if (types.isUint8Array(value)) return `${byteLengthOf(value)} bytes`
        // A real array's length is an own data property: reading it runs nothing.
        if (Array.isArray(value)) return `an array of ${value.length}`
        return 'an object'
    }
  } catch {
    return 'a value that cannot be described'
  }
}

/**
 * The message of something a caller's code threw, for our own error's message, without running that code: only a
 * native error's own `message` data property is used.
 */
export function messageOf(err: unknown): string {
  try {
    if (types.isNativeError(err)) {
      const message: unknown = Object.getOwnPropertyDescriptor(err, 'message')?.value
      if (typeof message === 'string') return message.length > 200 ? `${message.slice(0, 200)}…` : message
    }
  } catch {
    // A Proxy that is not one of ours; nothing to say about it.
  }
  return describe(err)
}

/** The error for a property whose read threw (a revoked Proxy, a getter that throws). */
export function unreadable(name: string, err: unknown): InvalidArgumentError {
  return new InvalidArgumentError(`${name} cannot be read: ${messageOf(err)}`, { cause: err })
}

/** `Array.isArray`, which throws for a revoked Proxy. */
function isArray(name: string, value: unknown): boolean {
  try {
    return Array.isArray(value)
  } catch (err) {
    throw unreadable(name, err)
  }
}

/** UTF-8 length without allocating when the string is obviously short enough. */
function utf8Length(value: string): number {
  return value.length * 3 <= MAX_KEY_BYTES ? value.length : encoder.encode(value).byteLength
}

/** A key string: non-empty UTF-8 of at most 1,024 bytes, with no lone surrogates (they cannot be stored as UTF-8). */
export function assertKey(name: string, value: unknown): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${name} must be a string, got ${describe(value)}`)
  if (value.length === 0) throw new InvalidArgumentError(`${name} must not be empty`)
  if (value.length > MAX_KEY_BYTES || utf8Length(value) > MAX_KEY_BYTES)
    throw new InvalidArgumentError(`${name} must be at most ${MAX_KEY_BYTES} bytes of UTF-8, got ${encoder.encode(value).byteLength}`)
  if (!value.isWellFormed()) throw new InvalidArgumentError(`${name} contains a lone surrogate and is not valid UTF-8: ${describe(value)}`)
  if (value.includes('\0')) throw new InvalidArgumentError(`${name} must not contain a NUL character`)
}

/**
 * Free text that is stored as text but is not a key (a reason, a path, a tag): a string, possibly empty, of
 * well-formed UTF-16 (a lone surrogate cannot be stored as UTF-8, SQLite would store U+FFFD instead), without NUL
 * (PostgreSQL's text refuses it), and of at most `maxBytes` bytes of UTF-8 when given.
 */
export function assertText(name: string, value: unknown, maxBytes?: number): asserts value is string {
  if (typeof value !== 'string') throw new InvalidArgumentError(`${name} must be a string, got ${describe(value)}`)
  // At most 3 bytes per UTF-16 unit, at least 1: the length decides unless it is in between.
  if (maxBytes !== undefined && value.length * 3 > maxBytes && (value.length > maxBytes || Buffer.byteLength(value) > maxBytes))
    throw new InvalidArgumentError(`${name} must be at most ${maxBytes} bytes of UTF-8, got ${describe(value)}`)
  if (!value.isWellFormed()) throw new InvalidArgumentError(`${name} contains a lone surrogate and is not valid UTF-8: ${describe(value)}`)
  if (value.includes('\0')) throw new InvalidArgumentError(`${name} must not contain a NUL character`)
}

/** A byte payload of at most 64 MiB: a real `Uint8Array` (see {@link isBytes}). Prefer {@link checkBytes}, which copies. */
export function assertBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!types.isUint8Array(value)) throw new InvalidArgumentError(`${name} must be a Uint8Array, got ${describe(value)}`)
  const n = byteLengthOf(value)
  if (n > MAX_PAYLOAD_BYTES) throw new InvalidArgumentError(`${name} is ${n} bytes, more than the ${MAX_PAYLOAD_BYTES} allowed`)
}

/**
 * A byte payload of at most 64 MiB, copied: the copy is what the store keeps, so the caller can reuse (or detach)
 * its buffer at once. A view of a detached buffer is refused.
 */
export function checkBytes(name: string, value: unknown): Uint8Array {
  assertBytes(name, value)
  try {
    // Reads the source's internal slots only; throws (TypeError) for a detached or out-of-bounds view.
    return new Uint8Array(value)
  } catch (err) {
    throw new InvalidArgumentError(`${name} cannot be copied (is its buffer detached?): ${messageOf(err)}`, { cause: err })
  }
}

/** An integer in `[min, max]`. */
export function assertInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${describe(value)}`)
}

/** An object (not null, not an array, not a function). A revoked Proxy is refused here, not with a `TypeError`. */
export function assertObject(name: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || isArray(name, value)) throw new InvalidArgumentError(`${name} must be an object, got ${describe(value)}`)
}

/**
 * An object's named fields, each read exactly once, into a fresh object: validate the copy and use only the copy, so
 * a getter or Proxy that answers differently on a second read cannot slip a value past the checks. Named reads (not
 * a spread) so that getters on a prototype (class instances) work; a read that throws is `INVALID_ARGUMENT`.
 */
export function readFields<K extends string>(name: string, value: unknown, keys: readonly K[]): { [P in K]: unknown } {
  assertObject(name, value)
  const out = {} as { [P in K]: unknown }
  for (const key of keys) {
    try {
      out[key] = value[key]
    } catch (err) {
      throw unreadable(`${name}.${key}`, err)
    }
  }
  return out
}

/** `key in value`, which runs a Proxy's `has` trap: a throw is `INVALID_ARGUMENT`. */
export function hasField(name: string, value: object, key: string): boolean {
  try {
    return key in value
  } catch (err) {
    throw unreadable(`${name}.${key}`, err)
  }
}

/**
 * An array checked and copied element by element: `length` read once, each index once, each element handed to
 * `check` as it is read (so a huge sparse array fails at its first hole instead of being walked).
 */
export function mapArray<T>(name: string, value: unknown, check: (item: unknown, at: string, index: number) => T): T[] {
  if (!isArray(name, value)) throw new InvalidArgumentError(`${name} must be an array, got ${describe(value)}`)
  const array = value as unknown[]
  let length: number
  try {
    length = array.length
  } catch (err) {
    throw unreadable(`${name}.length`, err)
  }
  const out: T[] = []
  for (let i = 0; i < length; i++) {
    let item: unknown
    try {
      item = array[i]
    } catch (err) {
      throw unreadable(`${name}[${i}]`, err)
    }
    out.push(check(item, `${name}[${i}]`, i))
  }
  return out
}

/**
 * The own enumerable string-keyed properties of an object (what `JSON.stringify` and `Object.entries` see), each
 * read once, into a plain copy.
 */
export function readEntries(name: string, value: unknown): Record<string, unknown> {
  assertObject(name, value)
  let keys: string[]
  try {
    keys = Object.keys(value)
  } catch (err) {
    throw unreadable(name, err)
  }
  const out: Record<string, unknown> = {}
  for (const key of keys) {
    let item: unknown
    try {
      item = value[key]
    } catch (err) {
      throw unreadable(`${name}.${key}`, err)
    }
    // Assigned, `__proto__` would set the copy's prototype instead of making a key (JSON.parse makes it a key).
    if (key === '__proto__') Object.defineProperty(out, key, { value: item, enumerable: true, writable: true, configurable: true })
    else out[key] = item
  }
  return out
}

/** A copy that the caller can no longer mutate under us, as a plain `Uint8Array`. */
export function copyBytes(value: Uint8Array): Uint8Array {
  return new Uint8Array(value)
}

/** A driver's byte value (Buffer, Uint8Array) as a plain `Uint8Array` view, without copying. */
export function asBytes(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) {
    return value.constructor === Uint8Array ? value : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  }
  if (value === null || value === undefined) return new Uint8Array(0)
  throw new TypeError(`expected bytes from the database, got ${typeof value}`)
}

/** "Text order" of `spec/store.md`: by Unicode code point, which is UTF-8 byte order (not UTF-16 unit order). */
export function compareText(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b))
}

/*
 * JSON.stringify escapes U+0000 as \u0000 and a lone surrogate as \udXXX (well-formed pairs it writes as they are),
 * so either shows as such an escape in its output; an even run of backslashes before it is an escaped backslash
 * followed by ordinary text instead.
 */
const JSONB_UNSAFE = /(?<!\\)(?:\\\\)*\\u(?:0000|d[89a-f][0-9a-f]{2})/i

/**
 * A value as JSON text that PostgreSQL's `jsonb` accepts (stored as text, and compared as `jsonb` by thread
 * queries): JSON.stringify'd once, refused if it cannot be, is not JSON (`undefined`, a function), is larger than
 * `maxBytes` of UTF-8, or holds a NUL or a lone surrogate in a string or key (`jsonb` refuses both).
 */
export function jsonText(name: string, value: unknown, maxBytes = MAX_PAYLOAD_BYTES): string {
  let text: string | undefined
  try {
    text = JSON.stringify(value)
  } catch (err) {
    throw new InvalidArgumentError(`${name} cannot be serialised as JSON: ${messageOf(err)}`, { cause: err })
  }
  if (typeof text !== 'string') throw new InvalidArgumentError(`${name} is not a JSON value, got ${describe(value)}`)
  if (text.length * 3 > maxBytes && (text.length > maxBytes || Buffer.byteLength(text) > maxBytes))
    throw new InvalidArgumentError(`${name} is more than the ${maxBytes} bytes allowed as JSON`)
  if (text.includes('\\u') && JSONB_UNSAFE.test(text))
    throw new InvalidArgumentError(`${name} contains a NUL character or a lone surrogate, which PostgreSQL's jsonb cannot hold`)
  return text
}
