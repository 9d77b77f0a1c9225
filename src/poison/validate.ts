import { InvalidArgumentError } from '../errors.js'
import { assertKey, describe } from '../validate.js'

/** Checks a key and a token. */
export function checkKeyToken(key: unknown, token: unknown): void {
  assertKey('key', key)
  assertKey('token', token)
}

/** An optional prefix: absent or `''` means every key. */
export function checkPrefix(prefix: unknown): string {
  if (prefix === undefined || prefix === '') return ''
  assertKey('prefix', prefix)
  return prefix
}

/** Checks `clearPoison`'s arguments. */
export function checkClear(key: unknown, by: unknown, reason: unknown): void {
  assertKey('key', key)
  assertKey('by', by)
  if (reason !== undefined && reason !== null && typeof reason !== 'string')
    throw new InvalidArgumentError(`reason must be a string, got ${describe(reason)}`)
  if (typeof reason === 'string' && reason.length > 4096) throw new InvalidArgumentError(`reason must be at most 4,096 characters, got ${reason.length}`)
}

/** Checks `withPoison`'s callback. */
export function checkGuard(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`fn must be a function, got ${describe(fn)}`)
}
