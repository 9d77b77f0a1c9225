/** An event as a writer hands it to {@link EventStore.write}. */
export interface NewEvent {
  /** Unique across the store; a ULID is recommended. */
  id: string
  /** The aggregate's type, e.g. `'shop/Order'`. */
  aggregatorType: string
  /** The aggregate's id, e.g. `'order-42'`. */
  aggregatorId: string
  /** This event's version within its aggregate: an integer ≥ 1, consecutive per aggregate. */
  version: number
  /** The event's name, e.g. `'OrderPlaced'`. */
  name: string
  /** Optional routing key, used to partition readers; `null` or absent for none. */
  routingKey?: string | null
  /** Opaque payload. */
  data: Uint8Array
  /** Opaque metadata; empty when absent. */
  metadata?: Uint8Array
}

/** A stored event. */
export interface Event extends NewEvent {
  /** `null` when the event was written without one. */
  routingKey: string | null
  /** Empty when the event was written without metadata. */
  metadata: Uint8Array
  /** Global order, assigned at commit; strictly increasing in commit order. */
  position: number
  /** Milliseconds since the Unix epoch, assigned by the store. */
  timestamp: number
}

/** A read filter: events of this aggregate type, and of this id and name where given. */
export interface ReadAggregator {
  /** Required aggregate type. */
  aggregatorType: string
  /** Restricts to one aggregate. */
  aggregatorId?: string
  /** Restricts to one event name. */
  name?: string
}

/** `{ all: true }`: any routing key; `{ value: k }`: exactly `k`; `{ value: null }`: only events without one. */
export type RoutingKey = { all: true } | { value: string | null }

/**
 * Relay-style pagination. `first`/`after` page forward, `last`/`before` page backward; mixing the two directions
 * is an error. `first` and `last` are integers from 1 to 10,000; the default page is 100.
 */
export interface Args {
  /** Page size, forward. */
  first?: number
  /** Cursor to page forward from (exclusive). */
  after?: string
  /** Page size, backward. */
  last?: number
  /** Cursor to page backward from (exclusive). */
  before?: string
}

/** One item of a page with its cursor. */
export interface Edge<T> {
  /** Opaque, URL-safe position of this item. */
  cursor: string
  /** The item. */
  node: T
}

/** Exact page boundaries. */
export interface PageInfo {
  /** True only if a matching item exists before this page (for an empty page, before the cursor given). */
  hasPreviousPage: boolean
  /** True only if a matching item exists after this page (for an empty page, after the cursor given). */
  hasNextPage: boolean
  /** Cursor of the first edge, `null` for an empty page. */
  startCursor: string | null
  /** Cursor of the last edge, `null` for an empty page. */
  endCursor: string | null
}

/** A page of results, edges always in ascending order. */
export interface ReadResult<T> {
  /** The items. */
  edges: Edge<T>[]
  /** Where the page sits. */
  pageInfo: PageInfo
}

/** A cached fold of an aggregate, valid up to `cursor`. */
export interface Snapshot {
  /** The folded state, opaque. */
  data: Uint8Array
  /** The cursor of the last event folded into `data`. */
  cursor: string
}

/**
 * The event store contract (the `evento` crate's `Executor`, restated in `spec/events.md`).
 * Every method is safe to call concurrently, and from several processes on SQLite files and PostgreSQL.
 */
export interface EventStore {
  /**
   * Persists the events atomically: all or none. Per aggregate, versions must be consecutive in batch order and the
   * first must follow the stored version; otherwise throws `INVALID_ORIGINAL_VERSION` and writes nothing.
   * Resolves once the events are durable. An empty array is a no-op.
   */
  write(events: NewEvent[]): Promise<void>
  /** Events in `position` order, filtered (aggregators OR-ed, then the routing key) and paginated. */
  read(aggregators?: ReadAggregator[] | null, routingKey?: RoutingKey | null, args?: Args): Promise<ReadResult<Event>>
  /** The cursor last acknowledged by subscriber `key`, or `null`. */
  getSubscriberCursor(key: string): Promise<string | null>
  /** Creates subscriber `key` owned by `workerId`, or hands it over (cursor and lag kept). The last call wins. */
  upsertSubscriber(key: string, workerId: string): Promise<void>
  /** True exactly when `key` exists and is owned by `workerId`. */
  isSubscriberRunning(key: string, workerId: string): Promise<boolean>
  /**
   * Records that subscriber `key` processed everything up to `cursor`, with `lag` matching events left after it.
   * With `workerId`, throws `SUBSCRIBER_REPLACED` (and moves nothing) if another worker owns `key`; with
   * `generation` too, also if the key was rewound since its worker read that generation
   * ({@link EventStore.rewindSubscriber}; the error's `reason` is then `'rewound'`). Unknown `key` is `NOT_FOUND`.
   */
  acknowledge(key: string, cursor: string, lag: number, workerId?: string, generation?: number): Promise<void>
  /**
   * Takes subscriber `key` for `workerId` with a lease of `leaseMs`, or renews the lease `workerId` holds (beyond the
   * original; what `subscribe` builds on). It succeeds when the key is new (created with no cursor), already owned
   * by `workerId`, released, or its lease has run out because its owner stopped renewing it (a crash, a pause, a
   * lost network); otherwise it changes nothing. Resolves with the record after the attempt: its `workerId` says
   * who owns the key now. Lease times are the database's clock on PostgreSQL (hosts' clocks need not agree) and
   * this machine's on SQLite and in memory.
   */
  claimSubscriber(key: string, workerId: string, leaseMs: number): Promise<SubscriberInfo>
  /** Ends `workerId`'s lease on `key` now, so that a standby may take it at once (a clean handover); a no-op otherwise. */
  releaseSubscriber(key: string, workerId: string): Promise<void>
  /**
   * Moves subscriber `key`'s cursor to `cursor` (`null`: the beginning), whoever owns it, and increments its
   * `generation`, so that an acknowledgement fenced with the generation its worker read fails instead of moving the
   * cursor back over the rewind (a rebuild, a replay). `NOT_FOUND` for an unknown key.
   */
  rewindSubscriber(key: string, cursor: string | null): Promise<void>
  /** The snapshot saved for these three keys, or `null`. */
  getSnapshot(aggregatorType: string, aggregatorRevision: string, id: string): Promise<Snapshot | null>
  /** Saves (replaces) the snapshot for these three keys. */
  saveSnapshot(aggregatorType: string, aggregatorRevision: string, id: string, data: Uint8Array, cursor: string): Promise<void>
  /**
   * Calls `listener` after events commit, in this process and in others: across hosts through LISTEN/NOTIFY on
   * PostgreSQL, across processes on one machine through the file's `PRAGMA data_version` on SQLite. A wake-up, not a
   * delivery: it may fire more than once per commit or once for several. Returns a function that stops it.
   *
   * For a group commit made through this store object, `committed` holds the events it stored, as `read` would
   * return them, in position order (shared by every listener: read-only); it is absent where the store cannot tell
   * what was committed (another process's commit, or a write whose positions it does not know). The runtime's
   * subscriptions follow a busy store from it without reading the events back.
   */
  onCommitted(listener: (committed?: readonly Edge<Event>[]) => void): () => void
  /** A subscriber's record, for dashboards and metrics (beyond the original); `null` if unknown. */
  getSubscriber(key: string): Promise<SubscriberInfo | null>
  /**
   * Subscribers in key text order, paged by the last key seen (`after`, exclusive; `limit` 1 to 10,000, default 100),
   * for operators and dashboards (beyond the original). An index range: it never scans the events.
   */
  listSubscribers(args?: { after?: string; limit?: number }): Promise<SubscriberInfo[]>
}

/** What the store knows about a subscriber. */
export interface SubscriberInfo {
  /** The subscriber's key. */
  key: string
  /** The worker that owns it. */
  workerId: string
  /** The last acknowledged cursor, or `null`. */
  cursor: string | null
  /** The lag reported with the last acknowledgement (0 before any). */
  lag: number
  /** When the last acknowledgement was recorded (ms since epoch), or `null`. */
  acknowledgedAt: number | null
  /** When the current owner took it (ms since epoch). */
  updatedAt: number
  /** When the owner's lease runs out (ms since epoch), or `null` for a subscriber never claimed with a lease. */
  leaseExpiresAt: number | null
  /**
   * Incremented by each {@link EventStore.rewindSubscriber} and each change of owner: acknowledgements fenced with an
   * older one fail, so neither a batch read before a rewind nor one of a worker's earlier tenure (it lost the key and
   * took it back) can move the cursor.
   */
  generation: number
}
