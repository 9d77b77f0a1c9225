/**
 * Every error Holdfast throws is a {@link HoldfastError} with a stable string {@link HoldfastError.code}.
 * Match on `code` (or `instanceof` a subclass), never on the message: messages name the offending value and may change.
 */

/** The stable codes carried by {@link HoldfastError}. */
export type HoldfastErrorCode =
  | 'INVALID_ARGUMENT'
  | 'INVALID_ORIGINAL_VERSION'
  | 'POISON_CONFLICT'
  | 'SUBSCRIBER_REPLACED'
  | 'NOT_FOUND'
  | 'STORE_CLOSED'
  | 'STORE_UNAVAILABLE'
  | 'SCHEMA_VERSION'

/**
 * Base class of every error Holdfast throws. A call that throws changed nothing, with one exception: a
 * {@link StoreUnavailableError} whose `outcome` is `'unknown'` (the reply to a commit was lost).
 */
export class HoldfastError extends Error {
  /** Stable, machine-readable code. */
  readonly code: HoldfastErrorCode
  /**
   * Whether the same call may succeed if made again later, unchanged: a lock held elsewhere, a server restarting, a
   * full disk. `false` for bad input, conflicts, and permanent failures (a file that is not a database, a read-only
   * file, a missing directory, a refused login).
   */
  readonly retryable: boolean = false

  /**
   * @param code - the stable code
   * @param message - what was wrong, naming the value
   * @param options - `cause`: the underlying error, if any
   */
  constructor(code: HoldfastErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = new.target.name
  }
}

/** A value of the wrong type, empty where it must not be, out of range, too large, or a malformed cursor. */
export class InvalidArgumentError extends HoldfastError {
  /** @param message - names the argument and the offending value */
  constructor(message: string, options?: { cause?: unknown }) {
    super('INVALID_ARGUMENT', message, options)
  }
}

/** An event write whose versions conflict with what is stored (optimistic concurrency). Nothing was written. */
export class InvalidOriginalVersionError extends HoldfastError {
  /** Type of the conflicting aggregate. */
  readonly aggregatorType: string
  /** Id of the conflicting aggregate. */
  readonly aggregatorId: string
  /** The version the write expected to find (its event's version minus one). */
  readonly expectedVersion: number
  /** The version actually found (stored, or the previous event's in the same batch). */
  readonly foundVersion: number

  /** @param details - the aggregate and the two versions */
  constructor(details: { aggregatorType: string; aggregatorId: string; expectedVersion: number; foundVersion: number; reason?: string }) {
    const { aggregatorType, aggregatorId, expectedVersion, foundVersion } = details
    super(
      'INVALID_ORIGINAL_VERSION',
      `aggregate ${aggregatorType}/${aggregatorId}: expected version ${expectedVersion}, found ${foundVersion}` +
        (details.reason ? ` (${details.reason})` : ''),
    )
    this.aggregatorType = aggregatorType
    this.aggregatorId = aggregatorId
    this.expectedVersion = expectedVersion
    this.foundVersion = foundVersion
  }
}

/** A poison key is held with a different token. */
export class PoisonConflictError extends HoldfastError {
  /** The contested key. */
  readonly key: string
  /** The token that holds it. */
  readonly holderToken: string

  /** @param key - the key; @param holderToken - its current holder */
  constructor(key: string, holderToken: string) {
    super('POISON_CONFLICT', `poison key ${JSON.stringify(key)} is held by token ${JSON.stringify(holderToken)}`)
    this.key = key
    this.holderToken = holderToken
  }
}

/**
 * A fenced acknowledge from a worker that no longer owns the subscriber (`reason: 'replaced'`), or that read a
 * generation the subscriber has since left by a rewind (`reason: 'rewound'`). The cursor did not move.
 */
export class SubscriberReplacedError extends HoldfastError {
  /**
   * @param key - the subscriber; @param workerId - the stale worker; @param ownerId - the current owner
   * @param reason - `'replaced'` (another owner) or `'rewound'` (same owner, newer generation)
   */
  constructor(
    readonly key: string,
    readonly workerId: string,
    readonly ownerId: string,
    readonly reason: 'replaced' | 'rewound' = 'replaced',
  ) {
    super(
      'SUBSCRIBER_REPLACED',
      reason === 'rewound'
        ? `subscriber ${JSON.stringify(key)} was rewound since worker ${JSON.stringify(workerId)} read it; read its cursor again`
        : `subscriber ${JSON.stringify(key)} is owned by worker ${JSON.stringify(ownerId)}, not ${JSON.stringify(workerId)}`,
    )
  }
}

/** The thing a method requires to exist does not (only where the contract says so; most reads return `null`). */
export class NotFoundError extends HoldfastError {
  /** @param message - names what was missing */
  constructor(message: string) {
    super('NOT_FOUND', message)
  }
}

/** The store was closed; nothing happened. */
export class StoreClosedError extends HoldfastError {
  constructor() {
    super('STORE_CLOSED', 'the store is closed')
  }
}

/**
 * Whether a failed call took effect: `'none'`, it did not; `'unknown'`, the request reached the database, which may
 * have committed it before the connection was lost, and no code can tell which. Retry the same call: every write is
 * safe to retry (see the README, "Failures and retries").
 */
export type Outcome = 'none' | 'unknown'

/**
 * The database failed the call: it cannot be reached, stayed busy past its timeout, ran out of space, or refused the
 * file. `retryable` says whether waiting can help, `cause` holds the driver's error, and the message names the file
 * or host. `outcome` says whether the call may have taken effect anyway.
 */
export class StoreUnavailableError extends HoldfastError {
  override readonly retryable: boolean
  /** `'none'`: nothing happened. `'unknown'`: the reply to a commit was lost; it may have committed. */
  readonly outcome: Outcome

  /**
   * @param message - what failed, naming the file or host
   * @param options - `cause`: the driver's error; `retryable` (default true); `outcome` (default `'none'`)
   */
  constructor(message: string, options?: { cause?: unknown; retryable?: boolean; outcome?: Outcome }) {
    super('STORE_UNAVAILABLE', message, options)
    this.retryable = options?.retryable ?? true
    this.outcome = options?.outcome ?? 'none'
  }
}

/** The database was written by a newer Holdfast; it was not modified. */
export class SchemaVersionError extends HoldfastError {
  /** @param found - the database's schema version; @param supported - the newest this build knows */
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super('SCHEMA_VERSION', `the database has schema version ${found}, newer than the ${supported} this Holdfast supports; upgrade Holdfast`)
  }
}
