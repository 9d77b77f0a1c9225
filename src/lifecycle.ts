import { StoreClosedError } from './errors.js'
import { MetricsRecorder } from './store-metrics.js'

/** Shared open/closed state of one store: every public method passes through {@link Lifecycle.check}. */
export class Lifecycle {
  #closed = false
  /** The store's in-process figures, here because every store of one `openStore` shares its lifecycle. */
  readonly metrics = new MetricsRecorder()

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
export function notifyAll<A extends unknown[]>(listeners: Iterable<(...args: A) => void>, ...args: A): void {
  for (const listener of listeners) {
    try {
      listener(...args)
    } catch (err) {
      process.emitWarning(`holdfast: an onCommitted listener threw: ${String(err)}`)
    }
  }
}
