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

  /**
   * Runs synchronous `fn` at once when nothing holds the lock (no other work can interleave with synchronous work,
   * so there is nothing to take), else after the holders; saves the hops through the queue on every statement.
   */
  runSync<T>(fn: () => T): Promise<T> {
    if (this.#locked) return this.run(fn)
    try {
      return Promise.resolve(fn())
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }
}
