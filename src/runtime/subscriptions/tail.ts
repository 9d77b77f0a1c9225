import type { Edge, Event, ReadAggregator, RoutingKey } from '../../events/types.js'
import type { Store } from '../../store.js'

/** Which events a subscription takes: `read`'s filter, applied in memory (the same rules, byte-for-byte strings). */
export type Match = (e: Event) => boolean

/** The in-memory form of `read(aggregators, routingKey)`'s filter. */
export function matcher(aggregators: ReadAggregator[] | null, routingKey: RoutingKey): Match {
  const byType = aggregators && aggregators.length > 0 ? aggregators : null
  const key = 'value' in routingKey ? routingKey.value : undefined
  return (e) =>
    (key === undefined || e.routingKey === key) &&
    (byType === null ||
      byType.some((f) => f.aggregatorType === e.aggregatorType && (f.aggregatorId === undefined || f.aggregatorId === e.aggregatorId) && (f.name === undefined || f.name === e.name)))
}

/** A batch the tail handed out. */
export interface TailBatch {
  /** The matching events after the position asked for, in position order, at most the limit. */
  events: Event[]
  /** The cursors of the first and the last of them. */
  first: string
  last: string
  /** Whether more matching events may follow at once (the batch was cut at the limit, or the tail is not at the head). */
  more: boolean
  /** Matching events the tail holds after the batch. */
  lag: number
  /** Where every event is accounted for once this batch is handled: what to ask for next. */
  scanned: Mark
}

/** A place in the event order: a position and its cursor (`null` before the first event). */
export interface Mark {
  position: number
  cursor: string | null
}

/** Events a tail keeps at least (at most twice as many); a subscription further behind reads on its own. */
const KEEP = 4096
/** Events one extending read fetches. */
const PAGE = 1000

/**
 * The newest events of a store, read once for all the live subscriptions of this process and filtered for each in
 * memory. Sixteen subscriptions that each read their few new events per commit cost the writers more than the
 * events themselves (a read is a query, or two with `read`'s `hasPreviousPage`); one unfiltered read per wake-up
 * costs one query whatever their number.
 *
 * It holds every event in positions `(start, end]`, in order, read with `read` (so whatever `read` guarantees about
 * commit order holds here too). It is stale after a commit (`onCommitted`) until it reads again; a subscription
 * whose position is before `start` (far behind, or rewound) gets `null` and reads on its own.
 */
export class Tail {
  readonly #store: Store
  #edges: Edge<Event>[] = []
  #positions: number[] = []
  #start = -1
  /** The end: the last edge held, or, before any, where the tail started. */
  #endPosition = -1
  #endEdge: Edge<Event> | undefined
  #base: Mark = { position: -1, cursor: null }
  /** Whether the last read reached the head. */
  #complete = false
  #stale = true
  #reading: Promise<void> | undefined
  #users = 0
  #unlisten: (() => void) | undefined

  private constructor(store: Store) {
    this.#store = store
  }

  /** The tail of `store`, shared by this process's subscriptions on it. */
  static of(store: Store): Tail {
    let tail = tails.get(store)
    if (!tail) tails.set(store, (tail = new Tail(store)))
    return tail
  }

  /** The last place read (position -1 when none): whatever a read started after this call sees, the tail saw up to here. */
  get end(): Mark {
    return this.#endEdge ? { position: this.#endPosition, cursor: this.#endEdge.cursor } : this.#base
  }

  /** Starts following commits (with a subscription's tenure); returns the matching release. */
  use(): () => void {
    if (this.#users++ === 0) this.#unlisten = this.#store.events.onCommitted((committed) => (committed ? this.#feed(committed) : void (this.#stale = true)))
    let released = false
    return () => {
      if (released) return
      released = true
      if (--this.#users > 0) return
      this.#unlisten?.()
      this.#unlisten = undefined
      this.#clear()
    }
  }

  /**
   * The matching events after position `after`, at most `limit`, or `null` if the tail does not reach back there.
   * `refresh` reads again even if no commit was announced (the fallback check for a lost wake-up).
   */
  async next(after: Mark, match: Match, limit: number, refresh = false): Promise<TailBatch | null> {
    if (refresh) this.#stale = true
    for (let i = 0; i < 3 && (this.#stale || !this.#complete || after.position > this.#endPosition); i++) {
      const read = this.#reading ?? (this.#reading = this.#extend(after).finally(() => (this.#reading = undefined)))
      await read
      if (this.#start < 0 || after.position < this.#start) return null
    }
    if (this.#start < 0 || after.position < this.#start || after.position > this.#endPosition) return null
    let i = firstAfter(this.#positions, after.position)
    const events: Event[] = []
    let first: Edge<Event> | undefined
    let last: Edge<Event> | undefined
    for (; i < this.#edges.length && events.length < limit; i++) {
      const edge = this.#edges[i]!
      if (!match(edge.node)) continue
      events.push(edge.node)
      first ??= edge
      last = edge
    }
    let lag = 0
    for (let j = i; j < this.#edges.length; j++) if (match(this.#edges[j]!.node)) lag++
    const cut = events.length === limit && lag > 0
    return {
      events,
      first: first?.cursor ?? '',
      last: last?.cursor ?? '',
      more: cut || !this.#complete,
      lag,
      scanned: cut ? { position: last!.node.position, cursor: last!.cursor } : this.end,
    }
  }

  /** One read from the end of what is held (or from `after`, when nothing is); a commit meanwhile leaves it stale. */
  async #extend(after: Mark): Promise<void> {
    this.#stale = false
    const empty = this.#start < 0
    const from = empty ? after : this.end
    const page = await this.#store.events.read(null, { all: true }, from.cursor === null ? { first: PAGE } : { first: PAGE, after: from.cursor })
    // A subscription that far behind reads on its own; the tail starts where subscriptions are live.
    if (empty && page.pageInfo.hasNextPage) return
    if (empty) {
      this.#start = this.#endPosition = Math.max(0, from.position)
      this.#base = { position: this.#start, cursor: from.cursor }
    }
    // Everything after `from` is in the page, so what the page holds after the end (which a commit of this store
    // may have moved meanwhile) follows on without a gap.
    this.#append(page.edges, false)
    this.#complete = !page.pageInfo.hasNextPage
  }

  /**
   * A commit of this store, with its events: they extend the tail without a read when they follow its end without
   * a gap; otherwise the tail reads (it cannot know what lies between).
   */
  #feed(edges: readonly Edge<Event>[]): void {
    if (this.#start < 0 || !this.#append(edges, true)) this.#stale = true
  }

  /** Appends the edges after the end; with `adjacent`, only if each follows the last by one position. */
  #append(edges: readonly Edge<Event>[], adjacent: boolean): boolean {
    for (const edge of edges) {
      const position = edge.node.position
      if (position <= this.#endPosition) continue
      if (adjacent && position !== this.#endPosition + 1) return false
      this.#edges.push(edge)
      this.#positions.push(position)
      this.#endPosition = position
      this.#endEdge = edge
    }
    // Trimmed to KEEP when twice that, so that the copy is paid once per KEEP events.
    const drop = this.#edges.length - KEEP
    if (drop >= KEEP) {
      this.#start = this.#positions[drop - 1]!
      this.#edges.splice(0, drop)
      this.#positions.splice(0, drop)
    }
    return true
  }

  #clear(): void {
    this.#edges = []
    this.#positions = []
    this.#start = this.#endPosition = -1
    this.#endEdge = undefined
    this.#base = { position: -1, cursor: null }
    this.#complete = false
    this.#stale = true
  }
}

const tails = new WeakMap<Store, Tail>()

/** Index of the first position after `after` (positions ascending). */
function firstAfter(positions: number[], after: number): number {
  let lo = 0
  let hi = positions.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (positions[mid]! <= after) lo = mid + 1
    else hi = mid
  }
  return lo
}
