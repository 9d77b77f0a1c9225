import { StoreClosedError } from './errors.js'

/** Shared open/closed state of one store: every public method passes through {@link Lifecycle.check}. */
export class Lifecycle {
  #closed = false

  /** Whether `close()` has begun. */
  get closed(): boolean {
    return this.#closed
  }

  /** Throws `STORE_CLOSED` once the store is closing or closed. */
  check(): void {
    if (this.#closed) throw new StoreClosedError()
  }

  /** Marks the store closed; returns false if it already was. */
  close(): boolean {
    if (this.#closed) return false
    this.#closed = true
    return true
  }
}

/** Calls every listener, keeping one listener's exception from reaching the others or the writer. */
export function notifyAll(listeners: Iterable<() => void>): void {
  for (const listener of listeners) {
    try {
      listener()
    } catch (err) {
      process.emitWarning(`holdfast: an onCommitted listener threw: ${String(err)}`)
    }
  }
}
