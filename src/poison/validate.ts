import { InvalidArgumentError } from '../errors.js'
import { assertKey, assertText, describe } from '../validate.js'

/** Longest `clearPoison` reason, in UTF-16 code units (what `String.length` counts). */
const MAX_REASON = 4096

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

/**
 * Checks `clearPoison`'s arguments. `by` is a key; `reason` is free text (possibly empty) stored as it is, so it
 * must be storable as text on every backend: no lone surrogate, no NUL.
 */
export function checkClear(key: unknown, by: unknown, reason: unknown): void {
  assertKey('key', key)
  assertKey('by', by)
  if (reason === undefined || reason === null) return
  if (typeof reason === 'string' && reason.length > MAX_REASON)
    throw new InvalidArgumentError(`reason must be at most 4,096 characters, got ${reason.length}`)
  assertText('reason', reason)
}

/** Checks `auditPoison`'s arguments: `clearPoison`'s, and a token. */
export function checkAudit(key: unknown, token: unknown, by: unknown, reason: unknown): void {
  checkClear(key, by, reason)
  assertKey('token', token)
}

/** Checks `withPoison`'s callback. */
export function checkGuard(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidArgumentError(`fn must be a function, got ${describe(fn)}`)
}
