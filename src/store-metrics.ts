/**
 * A store's in-process figures ({@link Store.metrics}): plain counters and fixed-bucket histograms, a few ns on the
 * write path and nothing more, so they are always on; reading them copies them.
 * @module
 */

/** The stores whose writes are group-committed, each with its own commit figures. */
export type CommitKind = 'events' | 'checkpoints' | 'automerge'

/** A histogram's state, in Prometheus' shape. */
export interface HistogramSnapshot {
  /** The buckets' upper bounds, ascending (the `le` labels; `+Inf` is implied). */
  readonly bounds: readonly number[]
  /** Cumulative counts: `counts[i]` observations were ≤ `bounds[i]`. */
  readonly counts: readonly number[]
  /** The sum of every observation. */
  readonly sum: number
  /** How many observations (the `+Inf` bucket). */
  readonly count: number
}

/** One store's group commits: items per commit and how long each commit took, in seconds. */
export interface CommitMetrics {
  /** Items (writes, saves) per commit: 1 for a lone writer, up to the batch limit under load. */
  readonly batchSize: HistogramSnapshot
  /** From the start of a commit to its outcome, in seconds (fsync or round trip included). */
  readonly duration: HistogramSnapshot
}

/** What {@link Store.metrics} returns: everything since the store was opened, in this process. */
export interface StoreMetrics {
  /** Events committed by `events.write` (a retry of a stored write counts again). */
  readonly eventsAppended: number
  /** `events.read` calls that returned a page. */
  readonly reads: number
  /** Their latency, in seconds. */
  readonly readDuration: HistogramSnapshot
  /** Checkpoints saved (LangGraph thread checkpoints included). */
  readonly checkpointsSaved: number
  /**
   * Commits per store. The memory backend has no commits, so its histograms stay empty; on PostgreSQL each Automerge
   * write is its own commit of one.
   */
  readonly commits: { readonly [K in CommitKind]: CommitMetrics }
}

/** Upper bounds of the batch-size histograms (the group commit's default limit is 1,024). */
export const BATCH_SIZE_BOUNDS: readonly number[] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]
/** Upper bounds of the latency histograms, in seconds: 50 µs (a SQLite read) to 5 s. */
export const DURATION_BOUNDS: readonly number[] = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

/** A fixed-bucket histogram: one array slot per bucket, found by a linear scan (at most 16 compares). */
export class Histogram {
  readonly #bounds: readonly number[]
  /** Non-cumulative, the last slot for values above every bound. */
  readonly #counts: Float64Array
  #sum = 0
  #count = 0

  /** @param bounds - the buckets' upper bounds, ascending */
  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
    this.#counts = new Float64Array(bounds.length + 1)
  }

  /** Counts one observation. */
  observe(value: number): void {
    const bounds = this.#bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]!) i++
    this.#counts[i]!++
    this.#sum += value
    this.#count++
  }

  /** A copy, with cumulative counts. */
  snapshot(): HistogramSnapshot {
    const counts: number[] = []
    let acc = 0
    for (let i = 0; i < this.#bounds.length; i++) counts.push((acc += this.#counts[i]!))
    return { bounds: this.#bounds, counts, sum: this.#sum, count: this.#count }
  }
}

/** What a group commit reports after each commit. */
export class CommitRecorder {
  readonly #size = new Histogram(BATCH_SIZE_BOUNDS)
  readonly #duration = new Histogram(DURATION_BOUNDS)

  /** One commit of `size` items that took `ms` milliseconds. */
  observe(size: number, ms: number): void {
    this.#size.observe(size)
    this.#duration.observe(ms / 1000)
  }

  /** A copy. */
  snapshot(): CommitMetrics {
    return { batchSize: this.#size.snapshot(), duration: this.#duration.snapshot() }
  }
}

/**
 * The figures one store records: the stores bump its fields on their write and read paths (it rides on the store's
 * `Lifecycle`, which every store of one `openStore` shares).
 */
export class MetricsRecorder {
  /** Events committed. */
  eventsAppended = 0
  /** Checkpoints saved. */
  checkpointsSaved = 0
  #reads = 0
  readonly #readDuration = new Histogram(DURATION_BOUNDS)
  /** Commit figures by store. */
  readonly commits: { readonly [K in CommitKind]: CommitRecorder } = {
    events: new CommitRecorder(),
    checkpoints: new CommitRecorder(),
    automerge: new CommitRecorder(),
  }

  /** A read that started at `started` (`performance.now()`) returned. */
  read(started: number): void {
    this.#reads++
    this.#readDuration.observe((performance.now() - started) / 1000)
  }

  /** A copy of every figure. */
  snapshot(): StoreMetrics {
    return {
      eventsAppended: this.eventsAppended,
      reads: this.#reads,
      readDuration: this.#readDuration.snapshot(),
      checkpointsSaved: this.checkpointsSaved,
      commits: { events: this.commits.events.snapshot(), checkpoints: this.commits.checkpoints.snapshot(), automerge: this.commits.automerge.snapshot() },
    }
  }
}
