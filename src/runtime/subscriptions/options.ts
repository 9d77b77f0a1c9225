import { InvalidArgumentError } from '../../errors.js'
import type { Event, ReadAggregator, RoutingKey } from '../../events/types.js'
import type { Store } from '../../store.js'
import { checkAggregators, checkRoutingKey, MAX_LEASE_MS } from '../../events/validate.js'
import { assertInteger, assertKey, describe, readFields } from '../../validate.js'
import { newEventId } from '../ulid.js'

/** What a handler is told besides its batch. */
export interface HandlerContext {
  /** The subscriber key. */
  key: string
  /** This worker's id. */
  workerId: string
  /** 1 on a batch's first delivery, then 2, 3, … on retries of the same batch. */
  attempt: number
  /** Aborted when the subscription stops or loses its key to another worker: stop work that can be stopped. */
  signal: AbortSignal
}

/**
 * Handles one batch, in position order. Throwing (or rejecting) retries the same batch, then parks the key. The
 * events may be shared with this process's other subscriptions on the store: read them, do not change them.
 */
export type Handler = (events: Event[], ctx: HandlerContext) => Promise<void> | void

/** How a failing batch is retried before the subscription parks. */
export interface RetryOptions {
  /** Tries in all, the first included (1..1000, default 5). */
  attempts?: number
  /** The wait before the first retry, in ms (default 100); it doubles, with jitter, up to `maxBackoffMs`. */
  minBackoffMs?: number
  /** The longest wait between two tries, in ms (default 30,000). */
  maxBackoffMs?: number
}

/** The options of {@link subscribe} (`spec/runtime.md` §1). */
export interface SubscribeOptions {
  /** The subscriber key: one active worker per key, across processes and hosts. */
  key: string
  /** The `read` filter (OR-ed); default every event. */
  aggregators?: ReadAggregator[]
  /** The routing-key filter; default `{ all: true }`. */
  routingKey?: RoutingKey
  /** Handles a batch; it is acknowledged (fenced) once the handler resolves. */
  handler: Handler
  /** Most events per batch, 1..1000 (default 100). */
  batchSize?: number
  /** This worker's id (a key string); default a fresh ULID. */
  workerId?: string
  /** How long a silent owner keeps the key before a standby takes it, in ms (100..86,400,000; default 10,000). */
  leaseMs?: number
  /** Retries of a failing batch before it parks. */
  retry?: RetryOptions
  /** Where a key with no cursor yet starts: every stored event (`'beginning'`, the default) or only new ones. */
  startFrom?: 'beginning' | 'end'
  /** Aborting it stops the subscription, as {@link Subscription.stop} does. */
  signal?: AbortSignal
  /**
   * The slow check for commits a wake-up missed, in ms (100..60,000; default 2,000). An idle subscription makes no
   * other query than this check and its lease renewal.
   */
  checkIntervalMs?: number
  /**
   * How long a busy subscription may hold handled batches before acknowledging them, in ms (0..10,000; default 100;
   * 0 acknowledges every batch). Batches that follow closely are acknowledged together, as one write; a subscription
   * that goes idle acknowledges within this time, and `whenCaughtUp`, `stop()` and parking acknowledge at once. After
   * a crash, what was handled since the last acknowledgement is delivered again (at least once).
   */
  ackIntervalMs?: number
}

/** Options after validation, with defaults. */
export interface Settings {
  key: string
  aggregators: ReadAggregator[] | null
  routingKey: RoutingKey
  handler: Handler
  batchSize: number
  workerId: string
  leaseMs: number
  attempts: number
  minBackoffMs: number
  maxBackoffMs: number
  startFrom: 'beginning' | 'end'
  signal: AbortSignal | undefined
  checkIntervalMs: number
  ackIntervalMs: number
}

const FIELDS = ['key', 'aggregators', 'routingKey', 'handler', 'batchSize', 'workerId', 'leaseMs', 'retry', 'startFrom', 'signal', 'checkIntervalMs', 'ackIntervalMs'] as const

/** Checks `subscribe`'s arguments, each read once; throws `INVALID_ARGUMENT` before anything is claimed. */
export function checkSubscribe(store: unknown, options: unknown): Settings {
  assertStore(store)
  const o = readFields('options', options, FIELDS)
  assertKey('options.key', o.key)
  if (typeof o.handler !== 'function') throw new InvalidArgumentError(`options.handler must be a function, got ${describe(o.handler)}`)
  const batchSize = o.batchSize ?? 100
  assertInteger('options.batchSize', batchSize, 1, 1000)
  const workerId = o.workerId ?? newEventId()
  assertKey('options.workerId', workerId)
  const leaseMs = o.leaseMs ?? 10_000
  assertInteger('options.leaseMs', leaseMs, 100, MAX_LEASE_MS)
  const checkIntervalMs = o.checkIntervalMs ?? 2000
  assertInteger('options.checkIntervalMs', checkIntervalMs, 100, 60_000)
  const ackIntervalMs = o.ackIntervalMs ?? 100
  assertInteger('options.ackIntervalMs', ackIntervalMs, 0, 10_000)
  const { attempts, minBackoffMs, maxBackoffMs } = checkRetry('options.retry', o.retry)
  const startFrom = o.startFrom ?? 'beginning'
  if (startFrom !== 'beginning' && startFrom !== 'end') throw new InvalidArgumentError(`options.startFrom must be 'beginning' or 'end', got ${describe(startFrom)}`)
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidArgumentError(`options.signal must be an AbortSignal, got ${describe(o.signal)}`)
  return {
    key: o.key,
    aggregators: o.aggregators === undefined || o.aggregators === null ? null : checkAggregators('options.aggregators', o.aggregators),
    routingKey: o.routingKey === undefined || o.routingKey === null ? { all: true } : checkRoutingKey('options.routingKey', o.routingKey),
    handler: o.handler as Handler,
    batchSize,
    workerId,
    leaseMs,
    attempts,
    minBackoffMs,
    maxBackoffMs,
    startFrom,
    signal: o.signal,
    checkIntervalMs,
    ackIntervalMs,
  }
}

/**
 * A `retry` option (subscriptions' and procedures'), each field read once: `attempts` 1..1,000 (default 5),
 * `minBackoffMs` 0..1 h (100), `maxBackoffMs` from `minBackoffMs` to 1 h (30 s, or `minBackoffMs` if larger).
 */
export function checkRetry(name: string, value: unknown): { attempts: number; minBackoffMs: number; maxBackoffMs: number } {
  const retry: { attempts?: unknown; minBackoffMs?: unknown; maxBackoffMs?: unknown } =
    value === undefined ? {} : readFields(name, value, ['attempts', 'minBackoffMs', 'maxBackoffMs'] as const)
  const attempts = retry.attempts ?? 5
  assertInteger(`${name}.attempts`, attempts, 1, 1000)
  const minBackoffMs = retry.minBackoffMs ?? 100
  assertInteger(`${name}.minBackoffMs`, minBackoffMs, 0, 3_600_000)
  const maxBackoffMs = retry.maxBackoffMs ?? Math.max(30_000, minBackoffMs)
  assertInteger(`${name}.maxBackoffMs`, maxBackoffMs, minBackoffMs, 3_600_000)
  return { attempts, minBackoffMs, maxBackoffMs }
}

/** The store's contracts the runtime calls; anything else is not a store. */
export function assertStore(store: unknown): asserts store is Store {
  const s = store as Partial<Store> | null
  if (typeof s !== 'object' || s === null || typeof s.events?.read !== 'function' || typeof s.poison?.getPoison !== 'function')
    throw new InvalidArgumentError(`store must be an open Holdfast Store, got ${describe(store)}`)
}
