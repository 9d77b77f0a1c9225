import { PoisonConflictError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import { assertKey, compareText } from '../validate.js'
import { withPoison } from './guard.js'
import type { PoisonAuditRecord, PoisonRecord, PoisonStore } from './types.js'
import { checkAudit, checkClear, checkGuard, checkKeyToken, checkPrefix } from './validate.js'

/** The reference model of the poison store. */
export class MemoryPoisonStore implements PoisonStore {
  readonly #life: Lifecycle
  readonly #keys = new Map<string, PoisonRecord>()
  readonly #audit: PoisonAuditRecord[] = []

  /** @param life - the owning store's lifecycle */
  constructor(life: Lifecycle) {
    this.#life = life
  }

  async tryPutPoison(key: string, token: string): Promise<void> {
    this.#life.check()
    checkKeyToken(key, token)
    const held = this.#keys.get(key)
    if (!held) this.#keys.set(key, { key, token, createdAt: Date.now() })
    else if (held.token !== token) throw new PoisonConflictError(key, held.token)
  }

  async deletePoison(key: string, token: string): Promise<void> {
    this.#life.check()
    checkKeyToken(key, token)
    const held = this.#keys.get(key)
    if (!held) return
    if (held.token !== token) throw new PoisonConflictError(key, held.token)
    this.#keys.delete(key)
  }

  async getPoison(key: string): Promise<string | null> {
    this.#life.check()
    assertKey('key', key)
    return this.#keys.get(key)?.token ?? null
  }

  async listPoison(prefix?: string): Promise<PoisonRecord[]> {
    this.#life.check()
    const p = checkPrefix(prefix)
    return [...this.#keys.values()]
      .filter((r) => r.key.startsWith(p))
      .sort((a, b) => compareText(a.key, b.key))
      .map((r) => ({ ...r }))
  }

  async clearPoison(key: string, by: string, reason?: string): Promise<string | null> {
    this.#life.check()
    checkClear(key, by, reason)
    const held = this.#keys.get(key)
    if (!held) return null
    this.#keys.delete(key)
    this.#audit.push({ key, token: held.token, by, reason: reason ?? null, at: Date.now() })
    return held.token
  }

  async auditPoison(key: string, token: string, by: string, reason?: string): Promise<void> {
    this.#life.check()
    checkAudit(key, token, by, reason)
    this.#audit.push({ key, token, by, reason: reason ?? null, at: Date.now() })
  }

  async listPoisonAudit(key?: string): Promise<PoisonAuditRecord[]> {
    this.#life.check()
    if (key !== undefined) assertKey('key', key)
    return this.#audit.filter((a) => key === undefined || a.key === key).map((a) => ({ ...a }))
  }

  async withPoison<T>(key: string, token: string, fn: () => Promise<T> | T): Promise<T> {
    this.#life.check()
    checkKeyToken(key, token)
    checkGuard(fn)
    return withPoison(this, key, token, fn)
  }
}
