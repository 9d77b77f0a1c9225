import type { CommitRecorder } from '../store-metrics.js'

/** One outcome per item of a flush: `undefined` when it committed, its own error otherwise. */
export type Outcomes = (Error | undefined)[]

/**
 * How long a chain of flushes may keep the event loop waiting (see {@link GroupCommit}), in ms. Subscriptions are
 * woken on the next turn after a commit, so this bounds their latency under busy writers too; a turn costs 15–35 µs,
 * so 2 ms costs a sequential writer ~1–2%.
 */
const CHAIN_MS = 2

/**
 * Batches concurrent submissions into shared flushes without a timer: a flush starts on the next turn of the event
 * loop after the first submission, and whatever queues while a flush is on disk goes into the next one. A lone
 * writer waits for nothing but its own commit; 32 concurrent writers share one.
 *
 * A submission chained to the last flush (made by the continuations that flush resolved, before they settle) does not
 * wait for a turn of the event loop, which costs 15–35 µs after a blocking SQLite fsync: it cannot be batched with I/O
 * still to come in this turn, since those callbacks run only after the chain settles. It flushes on the next tick,
 * once every continuation queued so far has run, so that writers resolved together queue together. If the last flush
 * held one item (a sequential writer), a synchronous flush runs at once, inside `submit`, unless the submission asks
 * to `gather`: to wait for that tick, for the writes its caller makes next without awaiting it (LangGraph saves a
 * superstep's pending writes, then at once its checkpoint). A chain yields to the event loop after {@link CHAIN_MS},
 * so a tight loop of writes cannot hold off timers and I/O for longer.
 *
 * `flush` returns one outcome per item (an error fails that item only), as a promise or, when it committed
 * synchronously, as is; if it throws, every item of the batch fails.
 */
export class GroupCommit<T> {
  #queue: Queued<T>[] = []
  #scheduled = false
  #running = false
  /** From the end of a flush until the continuations it resolved settle (see {@link GroupCommit.#watch}). */
  #chained = false
  /**
   * When a flush last started from the event loop (`setImmediate`, `performance.now()`): a chain may hold off the
   * event loop for {@link CHAIN_MS} from then. Not from the chain's start: a chain ends and a new one begins between
   * two flushes of 32 concurrent writers, and timers and I/O then never got a turn while they wrote.
   */
  #turn = -Infinity
  /** Items in the last flush. */
  #lastSize = 0
  /** Flushes so far: the chain's watch ends it only if none came since it looked. */
  #flushes = 0
  #idle: (() => void)[] = []
  readonly #drain = (): void => {
    this.#scheduled = false
    this.#running = true
    this.#next(0)
  }
  readonly #drainTurn = (): void => {
    this.#turn = performance.now()
    this.#drain()
  }

  /**
   * @param flush - commits a batch and reports each item's outcome
   * @param options - `maxItems`: most items in one flush (1024); `onTick`: always flush on the next tick, never wait
   *   for a turn of the event loop, for small writes made by continuations (acknowledgements), which batch well within
   *   a tick and must not wait behind a writers' chain; `chainMs`: {@link CHAIN_MS}, for tests; `metrics`: told
   *   each flush's size and duration
   */
  constructor(
    private readonly flush: (items: T[]) => Promise<Outcomes> | Outcomes,
    options: { maxItems?: number; onTick?: boolean; chainMs?: number; metrics?: CommitRecorder } = {},
  ) {
    this.#metrics = options.metrics
    this.maxItems = options.maxItems ?? 1024
    this.onTick = options.onTick ?? false
    this.chainMs = options.chainMs ?? CHAIN_MS
  }

  private readonly maxItems: number
  private readonly onTick: boolean
  private readonly chainMs: number
  readonly #metrics: CommitRecorder | undefined

  /** Reports a flush of `size` items that started at `started` (`performance.now()`). */
  #observe(size: number, started: number): void {
    this.#metrics?.observe(size, performance.now() - started)
  }

  /**
   * Queues `item`; resolves when its flush committed it, rejects with its own error otherwise.
   * @param gather - never flush inside this call: let what the caller submits next, before it awaits, share the commit
   */
  submit(item: T, gather = false): Promise<void> {
    const chained = this.#chained && performance.now() - this.#turn < this.chainMs
    if (chained && !gather && this.#lastSize === 1 && !this.#scheduled && !this.#running) return this.#now(item)
    return new Promise((resolve, reject) => {
      this.#queue.push({ item, resolve, reject })
      if (!this.#scheduled && !this.#running) {
        this.#scheduled = true
        if (chained || this.onTick) process.nextTick(this.#drain)
        else setImmediate(this.#drainTurn)
      }
    })
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (!this.#scheduled && !this.#running && this.#queue.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /** A lone item flushed at once: its outcome as a settled promise if the flush was synchronous. */
  #now(item: T): Promise<void> {
    let outcomes: Promise<Outcomes> | Outcomes
    const started = performance.now()
    try {
      outcomes = this.flush([item])
    } catch (err) {
      this.#observe(1, started)
      this.#settled(1)
      return Promise.reject(err as Error)
    }
    if (!(outcomes instanceof Promise)) {
      this.#observe(1, started)
      this.#settled(1)
      const err = outcomes[0]
      return err ? Promise.reject(err) : Promise.resolve()
    }
    // An async flush (PostgreSQL, or a SQLite connection held by a transaction): later submissions queue behind it.
    this.#running = true
    return outcomes.then(
      (o) => {
        this.#observe(1, started)
        this.#next(1)
        if (o[0]) throw o[0]
      },
      (err: unknown) => {
        this.#observe(1, started)
        this.#next(1)
        throw err
      },
    )
  }

  /** Flushes what is queued, synchronously for as long as the flushes are; `size`: items in the last flush. */
  #next(size: number): void {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.maxItems)
      size = batch.length
      let outcomes: Promise<Outcomes> | Outcomes
      const started = performance.now()
      try {
        outcomes = this.flush(batch.map((b) => b.item))
      } catch (err) {
        outcomes = batch.map(() => err as Error)
      }
      if (outcomes instanceof Promise) {
        outcomes.then(
          (o) => (this.#observe(batch.length, started), settle(batch, o), this.#next(batch.length)),
          (err: unknown) => (this.#observe(batch.length, started), settle(batch, batch.map(() => err as Error)), this.#next(batch.length)),
        )
        return
      }
      this.#observe(batch.length, started)
      settle(batch, outcomes)
    }
    this.#running = false
    this.#settled(size)
  }

  /** After a flush of `size` items: the continuations it resolved are a chain until they settle. */
  #settled(size: number): void {
    this.#lastSize = size
    this.#flushes++
    if (!this.#chained) {
      this.#chained = true
      this.#watch()
    }
    if (!this.#running && !this.#scheduled && this.#queue.length === 0) for (const resolve of this.#idle.splice(0)) resolve()
  }

  /**
   * Ends the chain once the continuations of its last flush have run: they are microtasks, and a tick queued by a
   * microtask queued now runs after them all, and after a flush they queued on a tick first (then it looks again).
   */
  #watch(): void {
    const seen = this.#flushes
    queueMicrotask(() => process.nextTick(() => (seen === this.#flushes ? (this.#chained = false) : this.#watch())))
  }
}

interface Queued<T> {
  item: T
  resolve: () => void
  reject: (err: unknown) => void
}

function settle<T>(batch: Queued<T>[], outcomes: Outcomes): void {
  batch.forEach((b, i) => {
    const err = outcomes[i]
    if (err) b.reject(err)
    else b.resolve()
  })
}
