import { NotFoundError } from '../../errors.js'
import { decodeCursor, encodeCursor } from '../../events/cursor.js'
import type { SubscriberInfo } from '../../events/types.js'
import { listParked, resumeParked, rewindSubscription, type ParkedSubscription } from '../../runtime/subscriptions/parking.js'
import type { Store } from '../../store.js'
import { assertKey, readFields } from '../../validate.js'
import { optionalBoolean } from './values.js'

/** The subscriber-key prefix of `ProcedureRunner` leases: not subscriptions, shown apart. */
export const PROCEDURE_RUNNER_PREFIX = 'holdfast/procedure-runner/'

/**
 * `active`: its worker's lease is live; `parked`: held by its poison key until resumed; `idle`: no live lease (its
 * worker stopped, crashed or released it; a subscriber made with `upsertSubscriber` has no lease and shows idle).
 */
export type SubscriberState = 'active' | 'parked' | 'idle'

/** A subscriber as `subscribers ls` shows it. */
export interface SubscriberView {
  key: string
  /** `subscription`, or `procedure-runner` for a ProcedureRunner's lease. */
  kind: 'subscription' | 'procedure-runner'
  workerId: string
  state: SubscriberState
  cursor: string | null
  /** The position of the cursor (0 before any acknowledgement). */
  position: number
  /** Matching events left after the cursor, as its worker reported with its last acknowledgement. */
  lag: number
  /** The newest position minus the cursor's: an upper bound of what is left, computed now (all types). */
  positionsBehind: number
  /** ms since the last acknowledgement, `null` before any. */
  lastAckAgeMs: number | null
  leaseExpiresAt: number | null
  generation: number
  /** The park record, for a parked subscriber. */
  parked: ParkedSubscription | null
}

/** Input of {@link listSubscribers}. */
export interface ListSubscribersInput {
  /** Page after this key (exclusive). */
  after?: string
  /** At most this many (1..10,000; default 100). */
  limit?: number
  /** Include ProcedureRunner leases (default true; each view says its `kind`). */
  runners?: boolean
}

/** A page of subscribers; `nextAfter` is the key to pass as `after` for the next page, `null` at the end. */
export interface SubscriberPage {
  subscribers: SubscriberView[]
  nextAfter: string | null
  /** The newest position now stored. */
  headPosition: number
}

/** The newest position stored (0 for none). */
export async function headPosition(store: Store): Promise<number> {
  const [last] = (await store.events.read(null, null, { last: 1 })).edges
  return last?.node.position ?? 0
}

/** A subscriber record as a view, given what is parked and the head position. */
export function viewSubscriber(s: SubscriberInfo, parked: Map<string, ParkedSubscription>, head: number, now = Date.now()): SubscriberView {
  const position = s.cursor === null ? 0 : decodeCursor(s.cursor)
  const park = parked.get(s.key) ?? null
  return {
    key: s.key,
    kind: s.key.startsWith(PROCEDURE_RUNNER_PREFIX) ? 'procedure-runner' : 'subscription',
    workerId: s.workerId,
    state: park ? 'parked' : s.leaseExpiresAt !== null && s.leaseExpiresAt > now ? 'active' : 'idle',
    cursor: s.cursor,
    position,
    lag: s.lag,
    positionsBehind: Math.max(0, head - position),
    lastAckAgeMs: s.acknowledgedAt === null ? null : Math.max(0, now - s.acknowledgedAt),
    leaseExpiresAt: s.leaseExpiresAt,
    generation: s.generation,
    parked: park,
  }
}

/** `subscribers ls`: one page of subscribers in key order, with state, cursor position, lag and last-ack age. */
export async function listSubscribers(store: Store, input: ListSubscribersInput = {}): Promise<SubscriberPage> {
  const i = readFields('input', input, ['after', 'limit', 'runners'] as const)
  const runners = optionalBoolean('runners', i.runners) ?? true
  const limit = (i.limit as number | undefined) ?? 100
  const page = await store.events.listSubscribers({ limit, ...(i.after === undefined ? {} : { after: i.after as string }) })
  const [parked, head] = await Promise.all([listParked(store), headPosition(store)])
  const byKey = new Map(parked.map((p) => [p.key, p]))
  const now = Date.now()
  return {
    subscribers: page.map((s) => viewSubscriber(s, byKey, head, now)).filter((v) => runners || v.kind === 'subscription'),
    nextAfter: page.length === limit ? page.at(-1)!.key : null,
    headPosition: head,
  }
}

/** Every subscriber, page by page (for `doctor` and the CLI). */
export async function allSubscribers(store: Store): Promise<SubscriberView[]> {
  const out: SubscriberView[] = []
  let after: string | undefined
  for (;;) {
    const page = await listSubscribers(store, { limit: 1000, ...(after ? { after } : {}) })
    out.push(...page.subscribers)
    if (page.nextAfter === null) return out
    after = page.nextAfter
  }
}

/** `subscribers show KEY`. `NOT_FOUND` for an unknown key. */
export async function getSubscriber(store: Store, key: string): Promise<SubscriberView> {
  assertKey('key', key)
  const s = await store.events.getSubscriber(key)
  if (!s) throw new NotFoundError(`subscriber ${JSON.stringify(key)} does not exist`)
  const [parked, head] = await Promise.all([listParked(store), headPosition(store)])
  return viewSubscriber(s, new Map(parked.map((p) => [p.key, p])), head)
}

/** Input of {@link resumeSubscriber}. */
export interface ResumeInput {
  by: string
  reason?: string
  /** Move past the failing event too. */
  skip?: boolean
}

/** `subscribers resume`: `resumeParked` (audited); `NOT_FOUND` if the key is not parked. Returns the subscriber after. */
export async function resumeSubscriber(store: Store, key: string, input: ResumeInput): Promise<SubscriberView> {
  await resumeParked(store, key, input)
  return getSubscriber(store, key)
}

/** What a rewind will do (or did). */
export interface RewindPlan {
  key: string
  /** The cursor now, and its position. */
  from: string | null
  fromPosition: number
  /** Where it goes (`null`: the beginning). */
  to: string | null
  toPosition: number
  /**
   * Events that will be delivered again: those stored after `to` up to the current cursor (of every type; the
   * subscription's filter may select fewer). 0 when `to` is ahead of the cursor.
   */
  redeliver: number
  /** Events the rewind moves past without delivering, when `to` is ahead of the cursor. */
  skip: number
  /** False when the range was too wide to count (over 100,000 positions): the figures are position differences. */
  exact: boolean
}

/** Input of {@link rewindSubscriber}. */
export interface RewindInput {
  /** `'beginning'` or a cursor. */
  to: string
  by: string
  reason?: string
}

/** Ranges wider than this are not paged through: the position difference is reported instead (`exact: false`). */
const EXACT_COUNT_SPAN = 100_000

/** Counts stored events with `lo < position <= hi` by paging the range; over {@link EXACT_COUNT_SPAN}, the span. */
async function countBetween(store: Store, lo: number, hi: number): Promise<number> {
  if (hi <= lo) return 0
  if (hi - lo > EXACT_COUNT_SPAN) return hi - lo
  let n = 0
  let after = lo === 0 ? undefined : encodeCursor(lo)
  for (;;) {
    const page = await store.events.read(null, null, { first: 10_000, ...(after ? { after } : {}) })
    for (const e of page.edges) {
      if (e.node.position > hi) return n
      n++
    }
    if (!page.pageInfo.hasNextPage || page.edges.length === 0) return n
    after = page.pageInfo.endCursor!
  }
}

/** `subscribers rewind` without doing it: what it would redeliver. `NOT_FOUND` for an unknown key. */
export async function planRewind(store: Store, key: string, to: string): Promise<RewindPlan> {
  assertKey('key', key)
  if (to !== 'beginning') decodeCursor(to, 'to')
  const s = await store.events.getSubscriber(key)
  if (!s) throw new NotFoundError(`subscriber ${JSON.stringify(key)} does not exist`)
  const fromPosition = s.cursor === null ? 0 : decodeCursor(s.cursor)
  const toPosition = to === 'beginning' ? 0 : decodeCursor(to, 'to')
  return {
    key,
    from: s.cursor,
    fromPosition,
    to: to === 'beginning' ? null : to,
    toPosition,
    redeliver: await countBetween(store, toPosition, fromPosition),
    skip: await countBetween(store, fromPosition, toPosition),
    exact: Math.abs(fromPosition - toPosition) <= EXACT_COUNT_SPAN,
  }
}

/** `subscribers rewind`: `rewindSubscription` (audited), returning the plan it carried out. */
export async function rewindSubscriber(store: Store, key: string, input: RewindInput): Promise<RewindPlan> {
  const i = readFields('input', input, ['to', 'by', 'reason'] as const)
  assertKey('to', i.to)
  assertKey('by', i.by)
  const plan = await planRewind(store, key, i.to)
  await rewindSubscription(store, key, { to: i.to, by: i.by, ...(i.reason === undefined ? {} : { reason: i.reason as string }) })
  return plan
}
