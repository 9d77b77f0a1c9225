import { InvalidArgumentError } from '../../errors.js'
import { describe } from '../../validate.js'

/** A value that `JSON.stringify` writes as it is: what every operation returns, for the CLI's `--json` and the API. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue }

/**
 * A payload as an operator sees it: JSON where the bytes are UTF-8 that parses, UTF-8 text where they are only text,
 * else base64. `bytes` is the stored length.
 */
export type DecodedPayload =
  | { encoding: 'json'; value: JsonValue; bytes: number }
  | { encoding: 'utf8'; value: string; bytes: number }
  | { encoding: 'base64'; value: string; bytes: number }

const strict = new TextDecoder('utf-8', { fatal: true })

/** Decodes stored bytes for display (see {@link DecodedPayload}). */
export function decodePayload(data: Uint8Array): DecodedPayload {
  const bytes = data.byteLength
  let text: string
  try {
    text = strict.decode(data)
  } catch {
    return { encoding: 'base64', value: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), bytes }
  }
  // Text with control characters other than whitespace is binary that happens to be valid UTF-8.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) return { encoding: 'base64', value: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64'), bytes }
  const trimmed = text.trimStart()
  if (trimmed !== '' && '{["-0123456789tfn'.includes(trimmed[0]!)) {
    try {
      return { encoding: 'json', value: JSON.parse(text) as JsonValue, bytes }
    } catch {
      // Not JSON: plain text.
    }
  }
  return { encoding: 'utf8', value: text, bytes }
}

/**
 * A state as JSON for display: what a rich serializer restores (bytes, dates, maps, sets, bigints, non-finite
 * numbers, `undefined`) becomes a tagged object, so nothing is lost silently and `JSON.stringify` cannot throw.
 */
export function toJson(value: unknown, seen: Set<object> = new Set()): JsonValue {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      return Number.isFinite(value) ? value : { $number: String(value) }
    case 'bigint':
      return { $bigint: value.toString() }
    case 'undefined':
      return { $undefined: true }
    case 'function':
    case 'symbol':
      return { [`$${typeof value}`]: String(value) }
  }
  if (value === null) return null
  const obj = value as object
  if (seen.has(obj)) return { $cycle: true }
  seen.add(obj)
  try {
    if (obj instanceof Uint8Array) return { $bytes: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64') }
    if (obj instanceof Date) return { $date: Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString() }
    if (obj instanceof Map) return { $map: [...obj].map(([k, v]) => [toJson(k, seen), toJson(v, seen)]) }
    if (obj instanceof Set) return { $set: [...obj].map((v) => toJson(v, seen)) }
    if (Array.isArray(obj)) return obj.map((v) => toJson(v, seen))
    const out: { [key: string]: JsonValue } = {}
    for (const [k, v] of Object.entries(obj)) out[k] = toJson(v, seen)
    return out
  } finally {
    seen.delete(obj)
  }
}

/** Bytes as lowercase hex (Automerge actor and peer ids). */
export function hexOf(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** A required boolean-or-absent option, checked like the stores check theirs. */
export function optionalBoolean(name: string, value: unknown): boolean | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'boolean') throw new InvalidArgumentError(`${name} must be a boolean, got ${describe(value)}`)
  return value
}
