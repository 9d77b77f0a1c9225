import { HoldfastError, PoisonConflictError, SubscriberReplacedError } from '../../errors.js'
import { decodeCursor } from '../../events/cursor.js'
import type { Event, SubscriberInfo } from '../../events/types.js'
import type { Store } from '../../store.js'
import { messageOf } from '../../validate.js'
import { checkSubscribe, type Settings, type SubscribeOptions } from './options.js'
import { parkingKey, saveParkRecord } from './parking.js'
import { matcher, Tail, type Mark, type Match } from './tail.js'

/** Where a subscription stands. */
export type SubscriptionState = 'standby' | 'active' | 'parked' | 'stopped'

/** What each event of a subscription hands its listeners. */
export interface SubscriptionEvents {
  /** This worker took the key. */
  active: undefined
  /** Another worker holds the key; this one waits for its lease to run out. */
  standby: undefined
  /** This worker lost the key to another (its lease ran out while it was silent). */
  replaced: undefined
  /** A batch failed every attempt; the key is parked. */
  parked: { error: unknown; eventId: string; attempts: number }
  /** An operator resumed the parked key. */
  resumed: undefined
  /** A handler or a store call failed (it is retried). */
  error: unknown
  /** A batch was handled and acknowledged. */
  batch: { count: number; cursor: string; lag: number }
}

/** A running subscription: see {@link subscribe}. */
export interface Subscription {
  /** The subscriber key. */
  readonly key: string
  /** This worker's id. */
  readonly workerId: string
  /** Where it stands now. */
  readonly state: SubscriptionState
  /**
   * Resolves once every matching event committed before the call has been handled and acknowledged (by this
   * worker, or by whichever owns the key). Rejects with `STORE_CLOSED` if the subscription stops first.
   */
  whenCaughtUp(): Promise<void>
  /** Finishes and acknowledges the batch in hand, releases the key (a standby takes it at once), and resolves. */
  stop(): Promise<void>
  /** Calls `listener` on `event`; returns a function that stops it. */
  on<E extends keyof SubscriptionEvents>(event: E, listener: (payload: SubscriptionEvents[E]) => void): () => void
}

/**
 * Runs `options.handler` over the events of `store` that match `options`, in batches in position order, at least
 * once, with one active worker per key across processes and hosts (`spec/runtime.md` §1):
 * - the owner renews a lease while alive; a standby takes the key when the lease has run out (`leaseMs`);
 * - an active subscription is woken by commits (`onCommitted`, across processes) and checks every
 *   `checkIntervalMs` for a wake-up it missed;
 * - acknowledgements are fenced by worker and generation, so a replaced worker, or a batch read before a rewind,
 *   can never move the cursor;
 * - a failing batch is retried with exponential backoff, then parks the key (`subscription/<key>` in the poison
 *   store) until {@link resumeParked}.
 *
 * Throws `INVALID_ARGUMENT` for bad options before anything is claimed.
 *
 * @example
 * const sub = subscribe(store, {
 *   key: 'projections/orders',
 *   aggregators: [{ aggregatorType: 'shop/Order' }],
 *   handler: async (events) => { for (const e of events) await project(e) },
 * })
 * await sub.whenCaughtUp()
 * await sub.stop()
 */
export function subscribe(store: Store, options: SubscribeOptions): Subscription {
  return new Runner(store, checkSubscribe(store, options))
}

/** A deferred wake-up: `wait(ms)` resolves `false` at `ms`, or `true` as soon as `wake()` is called. */
class Alarm {
  #pending = false
  #resolve: ((woken: boolean) => void) | undefined
  #timer: NodeJS.Timeout | undefined

  wake(): void {
    this.#pending = true
    this.#fire()
  }

  wait(ms: number): Promise<boolean> {
    if (this.#pending) {
      this.#pending = false
      return Promise.resolve(true)
    }
    return new Promise((resolve) => {
      this.#resolve = resolve
      this.#timer = setTimeout(() => this.#fire(false), Math.max(0, ms))
    })
  }

  #fire(woken = true): void {
    const resolve = this.#resolve
    if (!resolve) return
    this.#resolve = undefined
    this.#pending = false
    clearTimeout(this.#timer)
    resolve(woken)
  }
}

/** The standbys of each key in this process, woken when its owner here releases it. */
const standbysByStore = new WeakMap<Store, Map<string, Set<Alarm>>>()

function local(store: Store, key: string): Set<Alarm> {
  let byKey = standbysByStore.get(store)
  if (!byKey) standbysByStore.set(store, (byKey = new Map()))
  let set = byKey.get(key)
  if (!set) byKey.set(key, (set = new Set()))
  return set
}

const closed = (): HoldfastError => new HoldfastError('STORE_CLOSED', 'the subscription stopped before it caught up')

class Runner implements Subscription {
  readonly key: string
  readonly workerId: string
  #state: SubscriptionState = 'standby'
  /** Whether a state was entered yet (the initial 'standby' is only the state before the first claim). */
  #entered = false
  readonly #store: Store
  readonly #s: Settings
  readonly #alarm = new Alarm()
  readonly #listeners = new Map<keyof SubscriptionEvents, Set<(payload: never) => void>>()
  readonly #caughtUp: { position: number; resolve: () => void; reject: (err: unknown) => void }[] = []
  #stopping = false
  #done: Promise<void>
  /** Aborted on stop and on losing the key; replaced for each tenure. */
  #tenure = new AbortController()
  /** While active: the cursor and generation the next batch builds on. */
  #cursor: string | null = null
  #generation = 0
  /** Set by a renewal that saw the key rewound or taken; the loop acts on it between batches. */
  #reload = false
  #lost = false
  #renewal: NodeJS.Timeout | undefined
  #unwake: (() => void) | undefined
  /** The last position this worker knows to be acknowledged, for whenCaughtUp. */
  #acked = 0
  /** The events of this process's live subscriptions on the store, read once for all (see {@link Tail}). */
  readonly #tail: Tail
  readonly #match: Match
  #releaseTail: (() => void) | undefined
  /** Caught up (the last read of its own was the last page): the next batches come from the tail. */
  #live = false
  /** While live: where every matching event is handled and acknowledged, which may be past the cursor. */
  #scan: Mark = { position: 0, cursor: null }
  /** The tail is to read again even without a commit announced: the fallback check, or a whenCaughtUp. */
  #refresh = false
  #wakePending = false
  /** Handled but not acknowledged yet (see {@link Settings.ackIntervalMs}): the batches since the last acknowledgement. */
  #owed: { cursor: string; lag: number; count: number } | undefined
  #lastAck = -Infinity

  constructor(store: Store, settings: Settings) {
    this.#store = store
    this.#s = settings
    this.key = settings.key
    this.workerId = settings.workerId
    this.#tail = Tail.of(store)
    this.#match = matcher(settings.aggregators, settings.routingKey)
    settings.signal?.addEventListener('abort', () => void this.stop(), { once: true })
    this.#done = this.#run()
    if (settings.signal?.aborted) void this.stop()
  }

  get state(): SubscriptionState {
    return this.#state
  }

  on<E extends keyof SubscriptionEvents>(event: E, listener: (payload: SubscriptionEvents[E]) => void): () => void {
    let set = this.#listeners.get(event)
    if (!set) this.#listeners.set(event, (set = new Set()))
    const l = listener as (payload: never) => void
    set.add(l)
    return () => void set.delete(l)
  }

  #emit<E extends keyof SubscriptionEvents>(event: E, payload: SubscriptionEvents[E]): void {
    for (const l of this.#listeners.get(event) ?? []) {
      try {
        ;(l as (p: SubscriptionEvents[E]) => void)(payload)
      } catch (err) {
        process.emitWarning(`holdfast: a subscription ${event} listener threw: ${messageOf(err)}`)
      }
    }
  }

  #enter(state: SubscriptionState): void {
    // A runner starts in 'standby' before it has asked for the key: the first standby it finds is still announced.
    if (this.#state === state && this.#entered) return
    this.#entered = true
    this.#state = state
    if (state === 'active' || state === 'standby') this.#emit(state, undefined)
  }

  async whenCaughtUp(): Promise<void> {
    if (this.#state === 'stopped') throw closed()
    const last = (await this.#store.events.read(this.#s.aggregators, this.#s.routingKey, { last: 1 })).edges[0]
    if (!last) return
    const position = last.node.position
    if (position <= this.#acked) return
    return new Promise((resolve, reject) => {
      this.#caughtUp.push({ position, resolve, reject })
      this.#refresh = true
      this.#alarm.wake()
    })
  }

  #settleCaughtUp(): void {
    for (let i = this.#caughtUp.length - 1; i >= 0; i--) {
      const w = this.#caughtUp[i]!
      if (w.position <= this.#acked) {
        this.#caughtUp.splice(i, 1)
        w.resolve()
      }
    }
  }

  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true
      this.#tenure.abort()
      this.#alarm.wake()
    }
    await this.#done
  }

  async #run(): Promise<void> {
    try {
      while (!this.#stopping) {
        const info = await this.#attempt(() => this.#store.events.claimSubscriber(this.key, this.workerId, this.#s.leaseMs))
        if (!info || this.#stopping) continue
        if (info.workerId !== this.workerId) {
          this.#enter('standby')
          await this.#standby(info)
          continue
        }
        await this.#active(info)
      }
    } finally {
      this.#endTenure()
      await this.#store.events.releaseSubscriber(this.key, this.workerId).catch(() => {})
      for (const alarm of local(this.#store, this.key)) alarm.wake()
      this.#state = 'stopped'
      for (const w of this.#caughtUp.splice(0)) w.reject(closed())
    }
  }

  /** A store call that may fail for a while (a restart): on failure, reports it, waits, and returns `undefined`. */
  async #attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
    try {
      return await call()
    } catch (err) {
      this.#emit('error', err)
      await this.#alarm.wait(this.#s.minBackoffMs + Math.random() * 500)
      return undefined
    }
  }

  /**
   * Waits until the holder's lease may have run out, or it may have released the key: a stop hands the key over at
   * once, so a standby asks again every quarter of `checkIntervalMs` (and is woken at once by a stop in this
   * process). Meanwhile it watches the stored cursor for whenCaughtUp.
   */
  async #standby(info: SubscriberInfo): Promise<void> {
    const left = info.leaseExpiresAt === null ? 0 : info.leaseExpiresAt - Date.now()
    const wait = Math.min(Math.max(left, 20), this.#s.leaseMs, this.#s.checkIntervalMs / 4) + Math.random() * 20
    if (this.#caughtUp.length > 0) {
      const s = await this.#store.events.getSubscriber(this.key).catch(() => null)
      if (s?.cursor) this.#advance(s.cursor)
    }
    const standbys = local(this.#store, this.key)
    standbys.add(this.#alarm)
    try {
      await this.#alarm.wait(wait)
    } finally {
      standbys.delete(this.#alarm)
    }
  }

  #advance(cursor: string): void {
    const position = decodeCursor(cursor)
    if (position > this.#acked) this.#acked = position
    this.#settleCaughtUp()
  }

  async #active(info: SubscriberInfo): Promise<void> {
    this.#tenure = new AbortController()
    if (this.#stopping) this.#tenure.abort()
    this.#lost = false
    this.#reload = false
    this.#cursor = info.cursor
    this.#generation = info.generation
    this.#restart()
    if (info.cursor) this.#advance(info.cursor)
    this.#releaseTail = this.#tail.use()
    this.#unwake = this.#store.events.onCommitted(() => this.#wakeSoon())
    this.#renewal = setInterval(() => void this.#renew(), Math.max(50, Math.floor(this.#s.leaseMs / 3)))
    this.#enter('active')
    try {
      if (info.cursor === null && info.acknowledgedAt === null && this.#s.startFrom === 'end') await this.#skipToEnd()
      // Only a runner parks a key, and only while it is active: so it is checked when a tenure begins, then only
      // while this worker has it parked (for the operator's resume).
      let check = true
      while (!this.#stopping && !this.#lost) {
        if (check || this.#state === 'parked') {
          check = false
          if (await this.#parked()) continue
        }
        if (this.#reload) await this.#reread()
        if (this.#live) {
          const refresh = this.#refresh
          this.#refresh = false
          const batch = await this.#tail.next(this.#scan, this.#match, this.#s.batchSize, refresh)
          if (batch) {
            const n = batch.events.length
            if (n === 0) {
              this.#scan = batch.scanned
              if (!batch.more) await this.#idle(true)
              continue
            }
            if (!(await this.#deliver(batch.events, batch.first, batch.last, batch.more, batch.lag))) continue
            this.#scan = batch.scanned
            if (!batch.more) await this.#idle()
            continue
          }
          // The tail no longer reaches back to this subscription (it fell behind by thousands): read on its own.
          this.#live = false
        }
        // Whatever this read sees, the tail had seen up to here before it.
        const seen = this.#tail.end
        const page = await this.#store.events.read(this.#s.aggregators, this.#s.routingKey, this.#cursor === null ? { first: this.#s.batchSize } : { first: this.#s.batchSize, after: this.#cursor })
        if (page.edges.length === 0) {
          // Caught up. A whenCaughtUp waiter's event was committed before its call, so it is at or before the
          // cursor now, unless it committed after this read, and then its commit wakes the loop again.
          this.#goLive(seen, this.#at())
          await this.#idle(true)
          continue
        }
        const last = page.edges[page.edges.length - 1]!
        if (!(await this.#deliver(page.edges.map((e) => e.node), page.edges[0]!.cursor, last.cursor, page.pageInfo.hasNextPage))) continue
        const at = { position: last.node.position, cursor: last.cursor }
        if (page.pageInfo.hasNextPage) this.#scan = at
        else {
          this.#goLive(seen, at)
          // The page was the last: reading again now would find nothing. A commit made meanwhile left the alarm
          // set, so the wait ends at once for it.
          await this.#idle()
        }
      }
    } catch (err) {
      this.#emit('error', err)
      await this.#alarm.wait(this.#s.minBackoffMs + Math.random() * 500)
    } finally {
      // stop(): what was handled is acknowledged before the key is released.
      if (this.#owed && !this.#lost) await this.#pay().catch((err: unknown) => this.#emit('error', err))
      this.#endTenure()
    }
    if (this.#lost && !this.#stopping) {
      this.#emit('replaced', undefined)
      this.#enter('standby')
    }
  }

  /**
   * A commit wakes the loop on the next turn of the event loop, not at once: writers chained on a group commit then
   * run a few flushes first, and the subscription takes their events in one batch instead of one batch a flush (16
   * subscriptions woken at every flush of 32 writers cost the writers 30% more than woken once a turn).
   */
  #wakeSoon(): void {
    if (this.#wakePending) return
    this.#wakePending = true
    setImmediate(() => {
      this.#wakePending = false
      this.#alarm.wake()
    })
  }

  /** Between batches when caught up: waits for a commit, or the fallback check (which then reads the tail again). */
  async #idle(always = false): Promise<void> {
    if (this.#caughtUp.length > 0 || this.#stopping) await this.#pay()
    if (!always && (this.#state !== 'active' || this.#reload || this.#lost || this.#stopping || this.#caughtUp.length > 0)) return
    for (;;) {
      const due = this.#owed ? this.#lastAck + this.#s.ackIntervalMs - performance.now() : Infinity
      if (await this.#alarm.wait(Math.max(0, Math.min(this.#s.checkIntervalMs, due)))) return
      // Idle with batches unacknowledged: acknowledge them, then go on waiting.
      if (!this.#owed) break
      if (!(await this.#pay())) return
    }
    this.#refresh = true
  }

  /** After a read of its own found the last page: handled through `at`, and through `seen` (what the tail had). */
  #goLive(seen: Mark, at: Mark): void {
    this.#live = true
    this.#scan = seen.position > at.position ? seen : at
  }

  /** The cursor as a mark. */
  #at(): Mark {
    return { position: this.#cursor === null ? 0 : decodeCursor(this.#cursor), cursor: this.#cursor }
  }

  /** Reads on its own from the cursor again: a new tenure, a rewind, a resume. */
  #restart(): void {
    this.#live = false
    this.#scan = this.#at()
  }

  #endTenure(): void {
    this.#releaseTail?.()
    this.#releaseTail = undefined
    clearInterval(this.#renewal)
    this.#renewal = undefined
    this.#unwake?.()
    this.#unwake = undefined
  }

  /** Renews the lease; notices a takeover (then stops this tenure) or a rewind (then rereads between batches). */
  async #renew(): Promise<void> {
    let info: SubscriberInfo
    try {
      info = await this.#store.events.claimSubscriber(this.key, this.workerId, this.#s.leaseMs)
    } catch (err) {
      this.#emit('error', err)
      return
    }
    if (info.workerId !== this.workerId) {
      this.#lose()
    } else if (info.generation !== this.#generation) {
      // A rewind, or the key changed hands and came back (a change of owner bumps the generation): this tenure's
      // cursor is stale, and its acknowledgements fail their generation fence until it reads the record again.
      this.#reload = true
      this.#alarm.wake()
    }
  }

  #lose(): void {
    if (this.#lost) return
    this.#lost = true
    this.#owed = undefined
    this.#tenure.abort()
    this.#alarm.wake()
  }

  async #reread(): Promise<void> {
    const info = await this.#store.events.getSubscriber(this.key)
    this.#reload = false
    // Owed acknowledgements belong to the generation that ended (a rewind, a resume with skip, a change of hands).
    this.#owed = undefined
    if (!info || info.workerId !== this.workerId) return this.#lose()
    this.#cursor = info.cursor
    this.#generation = info.generation
    this.#restart()
  }

  async #skipToEnd(): Promise<void> {
    const last = (await this.#store.events.read(this.#s.aggregators, this.#s.routingKey, { last: 1 })).edges[0]
    if (!last) return
    await this.#acknowledge(last.cursor, 0)
  }

  /** Whether the key is parked; while it is, waits (renewing the lease) and reports a resume. */
  async #parked(): Promise<boolean> {
    const token = await this.#store.poison.getPoison(parkingKey(this.key))
    if (token === null) {
      if (this.#state === 'parked') {
        this.#enter('active')
        this.#emit('resumed', undefined)
        // A resume with skip moved the cursor; read it again.
        this.#reload = true
      }
      return false
    }
    this.#enter('parked')
    await this.#alarm.wait(Math.min(1000, this.#s.checkIntervalMs))
    return true
  }

  /**
   * Handles one batch with retries, then acknowledges it, or parks the key after the last attempt; true when it
   * was acknowledged. A failed acknowledgement is not the handler's failure: it goes up, and the batch is delivered
   * again from the cursor. `lag`: the matching events after the batch, when known (the tail counts them).
   */
  async #deliver(events: Event[], firstCursor: string, cursor: string, more: boolean, lag?: number): Promise<boolean> {
    let error: unknown
    for (let attempt = 1; attempt <= this.#s.attempts; attempt++) {
      try {
        await this.#s.handler(events, { key: this.key, workerId: this.workerId, attempt, signal: this.#tenure.signal })
        error = undefined
        break
      } catch (err) {
        error = err ?? new Error('the handler threw a nullish value')
        this.#emit('error', err)
        if (this.#stopping || this.#lost || attempt === this.#s.attempts) break
        const backoff = Math.min(this.#s.maxBackoffMs, this.#s.minBackoffMs * 2 ** (attempt - 1))
        await this.#alarm.wait(backoff / 2 + Math.random() * (backoff / 2))
        if (this.#stopping || this.#lost) return false
      }
    }
    if (error !== undefined) {
      // What was handled before the failing batch is acknowledged first, so a resume starts with that batch.
      if (!this.#stopping && !this.#lost && (await this.#pay())) await this.#park(events[0]!, firstCursor, error)
      return false
    }
    // The lag when the batch was read: none if the page was the last; else the events after it, counted by position
    // (exact for an unfiltered subscription, an upper bound for a filtered one), read only while catching up.
    if (lag === undefined) {
      lag = 0
      if (more) {
        const last = (await this.#store.events.read(this.#s.aggregators, this.#s.routingKey, { last: 1 })).edges[0]
        lag = Math.max(1, (last?.node.position ?? 0) - events[events.length - 1]!.position)
      }
    }
    if (this.#lost) return false
    this.#owed = { cursor, lag, count: events.length + (this.#owed?.count ?? 0) }
    this.#cursor = cursor
    // Acknowledged at once unless the last one was recent: then with a later batch, or when the loop goes idle; or
    // at once for a whenCaughtUp waiter this batch reaches.
    const reached = events[events.length - 1]!.position
    if (!this.#stopping && !this.#caughtUp.some((w) => w.position <= reached) && performance.now() - this.#lastAck < this.#s.ackIntervalMs) return true
    return this.#pay()
  }

  /** Acknowledges what is owed; false if the key was lost or rewound meanwhile (the debt is then void). */
  async #pay(): Promise<boolean> {
    const owed = this.#owed
    if (!owed) return true
    this.#lastAck = performance.now()
    try {
      await this.#acknowledge(owed.cursor, owed.lag, owed.count)
      if (this.#owed === owed) this.#owed = undefined
      return true
    } catch (err) {
      this.#owed = undefined
      if (err instanceof SubscriberReplacedError) this.#replacedOrRewound(err)
      else throw err
      return false
    }
  }

  async #acknowledge(cursor: string, lag: number, count = 0): Promise<void> {
    await this.#store.events.acknowledge(this.key, cursor, lag, this.workerId, this.#generation)
    if (count === 0) this.#cursor = cursor
    this.#advance(cursor)
    if (count > 0) this.#emit('batch', { count, cursor, lag })
  }

  #replacedOrRewound(err: SubscriberReplacedError): void {
    if (err.reason === 'rewound') this.#reload = true
    else this.#lose()
  }

  async #park(first: Event, firstCursor: string, error: unknown): Promise<void> {
    const record = { workerId: this.workerId, error: messageOf(error), eventId: first.id, attempts: this.#s.attempts, parkedAt: Date.now() }
    await saveParkRecord(this.#store, this.key, record, firstCursor)
    try {
      await this.#store.poison.tryPutPoison(parkingKey(this.key), this.workerId)
    } catch (err) {
      // Held already (parked by an earlier owner): parked all the same.
      if (!(err instanceof PoisonConflictError)) throw err
    }
    this.#enter('parked')
    this.#emit('parked', { error, eventId: first.id, attempts: this.#s.attempts })
  }
}
