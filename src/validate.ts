import { InvalidArgumentError } from './errors.js'

/** Longest key string, in UTF-8 bytes (`spec/store.md`). */
export const MAX_KEY_BYTES = 1024
/** Largest byte payload: 64 MiB. */
export const MAX_PAYLOAD_BYTES = 64 * 1024 * 1024

const encoder = new TextEncoder()

/** Short, safe rendering of a bad value for an error message. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 60 ? `a string of ${value.length} characters` : JSON.stringify(value)
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`
  if (value === null) return 'null'
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (typeof value === 'object') return 'an object'
  return `${typeof value} ${String(value)}`
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

/** A byte payload of at most 64 MiB. */
export function assertBytes(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${name} must be a Uint8Array, got ${describe(value)}`)
  if (value.byteLength > MAX_PAYLOAD_BYTES)
    throw new InvalidArgumentError(`${name} is ${value.byteLength} bytes, more than the ${MAX_PAYLOAD_BYTES} allowed`)
}

/** An integer in `[min, max]`. */
export function assertInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got ${describe(value)}`)
}

/** A plain object (not null, not an array). */
export function assertObject(name: string, value: unknown): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new InvalidArgumentError(`${name} must be an object, got ${describe(value)}`)
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
