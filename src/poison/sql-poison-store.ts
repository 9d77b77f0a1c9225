import { PoisonConflictError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { assertKey } from '../validate.js'
import { withPoison } from './guard.js'
import type { PoisonAuditRecord, PoisonRecord, PoisonStore } from './types.js'
import { checkAudit, checkClear, checkGuard, checkKeyToken, checkPrefix } from './validate.js'

interface PoisonRow {
  key: string
  token: string
  created_at: number | string
}

interface AuditRow {
  key: string
  token: string
  cleared_by: string
  reason: string | null
  cleared_at: number | string
}

/**
 * The poison store on any {@link SqlDatabase}. Compare-and-set is a single conditional statement (`INSERT … ON
 * CONFLICT DO NOTHING`, `DELETE … WHERE token = ?`), so exactly one of any number of concurrent putters wins, in any
 * number of processes, without a transaction; the follow-up read only explains a statement that changed nothing.
 */
export class SqlPoisonStore implements PoisonStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #t: { poison: string; audit: string }

  /** @param db - the database; @param life - the store's lifecycle */
  constructor(db: SqlDatabase, life: Lifecycle) {
    this.#db = db
    this.#life = life
    this.#t = { poison: db.table('poison'), audit: db.table('poison_audit') }
  }

  async #holder(key: string): Promise<string | null> {
    const [row] = await this.#db.all<{ token: string }>(`SELECT token FROM ${this.#t.poison} WHERE key = ?`, [key])
    return row?.token ?? null
  }

  async tryPutPoison(key: string, token: string): Promise<void> {
    this.#life.check()
    checkKeyToken(key, token)
    for (;;) {
      const put = await this.#db.run(`INSERT INTO ${this.#t.poison} (key, token, created_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING`, [key, token, Date.now()])
      if (put > 0) return
      const holder = await this.#holder(key)
      if (holder === token) return
      if (holder !== null) throw new PoisonConflictError(key, holder)
      // Deleted between the two statements: try again.
    }
  }

  async deletePoison(key: string, token: string): Promise<void> {
    this.#life.check()
    checkKeyToken(key, token)
    for (;;) {
      if ((await this.#db.run(`DELETE FROM ${this.#t.poison} WHERE key = ? AND token = ?`, [key, token])) > 0) return
      const holder = await this.#holder(key)
      if (holder === null) return
      if (holder !== token) throw new PoisonConflictError(key, holder)
      // Re-put with our token between the two statements: try again.
    }
  }

  async getPoison(key: string): Promise<string | null> {
    this.#life.check()
    assertKey('key', key)
    return this.#holder(key)
  }

  async listPoison(prefix?: string): Promise<PoisonRecord[]> {
    this.#life.check()
    const p = checkPrefix(prefix)
    // `key >= prefix` lets the primary key index start at the prefix; substr (in code points on both engines) decides.
    const rows = p
      ? await this.#db.all<PoisonRow>(`SELECT key, token, created_at FROM ${this.#t.poison} WHERE key >= ? AND substr(key, 1, ?) = ? ORDER BY key`, [p, [...p].length, p])
      : await this.#db.all<PoisonRow>(`SELECT key, token, created_at FROM ${this.#t.poison} ORDER BY key`)
    return rows.map((r) => ({ key: r.key, token: r.token, createdAt: Number(r.created_at) }))
  }

  async clearPoison(key: string, by: string, reason?: string): Promise<string | null> {
    this.#life.check()
    checkClear(key, by, reason)
    return this.#db.transaction(async (tx) => {
      const [row] = await tx.all<{ token: string }>(`DELETE FROM ${this.#t.poison} WHERE key = ? RETURNING token`, [key])
      if (!row) return null
      await tx.run(`INSERT INTO ${this.#t.audit} (key, token, cleared_by, reason, cleared_at) VALUES (?, ?, ?, ?, ?)`, [key, row.token, by, reason ?? null, Date.now()])
      return row.token
    })
  }

  async auditPoison(key: string, token: string, by: string, reason?: string): Promise<void> {
    this.#life.check()
    checkAudit(key, token, by, reason)
    await this.#db.run(`INSERT INTO ${this.#t.audit} (key, token, cleared_by, reason, cleared_at) VALUES (?, ?, ?, ?, ?)`, [key, token, by, reason ?? null, Date.now()])
  }

  async listPoisonAudit(key?: string): Promise<PoisonAuditRecord[]> {
    this.#life.check()
    if (key !== undefined) assertKey('key', key)
    const columns = 'key, token, cleared_by, reason, cleared_at'
    const rows =
      key === undefined
        ? await this.#db.all<AuditRow>(`SELECT ${columns} FROM ${this.#t.audit} ORDER BY seq`)
        : await this.#db.all<AuditRow>(`SELECT ${columns} FROM ${this.#t.audit} WHERE key = ? ORDER BY seq`, [key])
    return rows.map((r) => ({ key: r.key, token: r.token, by: r.cleared_by, reason: r.reason, at: Number(r.cleared_at) }))
  }

  async withPoison<T>(key: string, token: string, fn: () => Promise<T> | T): Promise<T> {
    this.#life.check()
    checkKeyToken(key, token)
    checkGuard(fn)
    return withPoison(this, key, token, fn)
  }
}
