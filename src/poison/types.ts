/** A held poison key, as the operator sees it. */
export interface PoisonRecord {
  /** The fenced resource. */
  key: string
  /** The token that holds it (e.g. the procedure id). */
  token: string
  /** When it was put (ms since epoch). */
  createdAt: number
}

/** One operator clear, kept in the audit trail. */
export interface PoisonAuditRecord {
  /** The key that was cleared. */
  key: string
  /** The token it held. */
  token: string
  /** Who cleared it. */
  by: string
  /** Why, if given. */
  reason: string | null
  /** When (ms since epoch). */
  at: number
}

/**
 * The poison store contract (GreptimeDB's `PoisonStore`, restated in `spec/poison.md`): compare-and-set keys with
 * tokens that fence a resource until its operation finishes cleanly or an operator clears it.
 */
export interface PoisonStore {
  /** Puts `key` with `token` if absent; succeeds if it already holds `token`; otherwise `POISON_CONFLICT`. */
  tryPutPoison(key: string, token: string): Promise<void>
  /** Removes `key` if it holds `token`; absent is a success; another token is `POISON_CONFLICT`. */
  deletePoison(key: string, token: string): Promise<void>
  /** The token holding `key`, or `null`. */
  getPoison(key: string): Promise<string | null>
  /** Every held key starting with `prefix` (all when absent or empty), in key text order. */
  listPoison(prefix?: string): Promise<PoisonRecord[]>
  /** Operator path: removes `key` whatever its token, records the clear, and returns the token removed (or `null`). */
  clearPoison(key: string, by: string, reason?: string): Promise<string | null>
  /**
   * Records an operator action on `key` in the audit trail, as `clearPoison` does, without changing any key (beyond
   * the original): `token` says what was done (e.g. a subscription rewind and its target), `by` who, `reason` why.
   */
  auditPoison(key: string, token: string, by: string, reason?: string): Promise<void>
  /** The audit trail of clears, oldest first, for one key or all. */
  listPoisonAudit(key?: string): Promise<PoisonAuditRecord[]>
  /** Puts the key, runs `fn`, deletes the key if `fn` resolves and keeps it (rethrowing) if `fn` throws. */
  withPoison<T>(key: string, token: string, fn: () => Promise<T> | T): Promise<T>
}
