import { NotFoundError } from '../../errors.js'
import type { PoisonAuditRecord } from '../../poison/types.js'
import type { Store } from '../../store.js'
import { assertKey, assertText, readFields } from '../../validate.js'

/** A held poison key as `poison ls` shows it. */
export interface PoisonView {
  key: string
  token: string
  createdAt: number
  /** ms since it was put. */
  ageMs: number
}

/** `poison ls`: the held keys starting with `prefix` (all when absent), in key order, with token and age. */
export async function listPoison(store: Store, prefix?: string): Promise<PoisonView[]> {
  if (prefix !== undefined) assertText('prefix', prefix, 1024)
  const now = Date.now()
  return (await store.poison.listPoison(prefix)).map((p) => ({ ...p, ageMs: Math.max(0, now - p.createdAt) }))
}

/** `poison audit`: the audit trail of clears and operator actions, oldest first, for one key or all. */
export async function poisonAudit(store: Store, key?: string): Promise<PoisonAuditRecord[]> {
  if (key !== undefined) assertKey('key', key)
  return store.poison.listPoisonAudit(key)
}

/** Input of {@link clearPoison}. */
export interface ClearPoisonInput {
  by: string
  reason?: string
}

/** What `poison clear` removed. */
export interface ClearedPoison {
  key: string
  /** The token the key held. */
  token: string
  by: string
  reason: string | null
}

/**
 * `poison clear`: `clearPoison`, which removes the key whatever its token and writes the audit record in one
 * transaction. `NOT_FOUND` when the key is not held (nothing is written).
 */
export async function clearPoison(store: Store, key: string, input: ClearPoisonInput): Promise<ClearedPoison> {
  assertKey('key', key)
  const i = readFields('input', input, ['by', 'reason'] as const)
  assertKey('by', i.by)
  if (i.reason !== undefined) assertText('reason', i.reason, 4096)
  // Checked first so that a key nobody holds leaves no audit record either.
  if ((await store.poison.getPoison(key)) === null) throw new NotFoundError(`poison key ${JSON.stringify(key)} is not held`)
  const token = await store.poison.clearPoison(key, i.by, i.reason as string | undefined)
  if (token === null) throw new NotFoundError(`poison key ${JSON.stringify(key)} was cleared meanwhile`)
  return { key, token, by: i.by, reason: (i.reason as string | undefined) ?? null }
}
