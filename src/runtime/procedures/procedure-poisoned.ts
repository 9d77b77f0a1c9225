/**
 * Thrown by a step whose resource may be left inconsistent (GreptimeDB's `Poisoned`): the procedure ends
 * `poisoned`, is not retried, and keeps its poison keys, so nothing else can take the resource until an operator
 * has repaired it and cleared the keys (`store.poison.clearPoison`). Its state and this message are kept.
 *
 * @example
 * if (changed.length > 0 && failed.length > 0) throw new ProcedurePoisoned(`altered ${changed.length} of ${all} regions`)
 */
export class ProcedurePoisoned extends Error {
  /** The state to keep for the operator instead of the last checkpointed one, unless `undefined`. */
  readonly state: unknown

  /**
   * @param message - what was left inconsistent
   * @param options - `cause`: the underlying error; `state`: what the step had done, for the operator
   */
  constructor(message: string, options?: { cause?: unknown; state?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ProcedurePoisoned'
    this.state = options?.state
  }
}
