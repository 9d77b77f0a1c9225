/**
 * Serialises work on a single connection (one SQLite handle, one PGlite instance), so an async transaction never
 * shares its connection with a statement that does not belong to it. Uncontended calls run without queueing.
 */
export class Mutex {
  #locked = false
  #waiters: (() => void)[] = []

  /** Runs `fn` alone, after every earlier caller has finished. */
  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.#locked) await new Promise<void>((resolve) => this.#waiters.push(resolve))
    else this.#locked = true
    try {
      return await fn()
    } finally {
      const next = this.#waiters.shift()
      if (next) next()
      else this.#locked = false
    }
  }

  /** Whether a caller holds the lock. */
  get locked(): boolean {
    return this.#locked
  }
}
