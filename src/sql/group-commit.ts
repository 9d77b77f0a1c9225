/**
 * Batches concurrent submissions into shared flushes without a timer: a flush starts on the next turn of the event
 * loop after the first submission, and whatever queues while a flush is on disk goes into the next one. A lone
 * writer waits for nothing but its own commit; 32 concurrent writers share one.
 *
 * A submission chained to the last flush (made by the continuations that flush resolved, before they settle) flushes
 * on a microtask instead: it cannot be batched with I/O still to come in this turn, since those callbacks run only
 * after the chain settles, and writers resolved together still queue together before the microtask runs. A
 * sequential writer thus skips the turn of the event loop, which costs 15–35 µs after a blocking SQLite fsync.
 *
 * `flush` returns one outcome per item (an error fails that item only); if it throws, every item of the batch fails.
 */
export class GroupCommit<T> {
  #queue: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = []
  #scheduled = false
  #running = false
  /** From the end of a flush until the continuations it resolved settle (a `process.nextTick` runs then). */
  #chained = false
  #idle: (() => void)[] = []

  /**
   * @param flush - commits a batch and reports each item's outcome
   * @param maxItems - most items in one flush
   */
  constructor(
    private readonly flush: (items: T[]) => Promise<(Error | undefined)[]>,
    private readonly maxItems = 1024,
  ) {}

  /** Queues `item`; resolves when its flush committed it, rejects with its own error otherwise. */
  submit(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      if (!this.#scheduled && !this.#running) {
        this.#scheduled = true
        if (this.#chained) queueMicrotask(() => void this.#drain())
        else setImmediate(() => void this.#drain())
      }
    })
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#scheduled && !this.#running && this.#queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  async #drain(): Promise<void> {
    this.#scheduled = false
    this.#running = true
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.maxItems)
      let outcomes: (Error | undefined)[]
      try {
        outcomes = await this.flush(batch.map((b) => b.item))
      } catch (err) {
        outcomes = batch.map(() => err as Error)
      }
      batch.forEach((b, i) => {
        const err = outcomes[i]
        if (err) b.reject(err)
        else b.resolve()
      })
    }
    this.#running = false
    if (!this.#chained) {
      this.#chained = true
      process.nextTick(() => (this.#chained = false))
    }
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}
