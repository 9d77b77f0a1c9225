import { InvalidArgumentError, NotFoundError } from '../../errors.js'
import type { Store } from '../../store.js'
import { assertKey, assertText, describe, readFields } from '../../validate.js'
import { assertStore } from './options.js'

/**
 * Where a parked subscription lives, in the public contracts only: the poison key `subscription/<key>` fences it
 * (held with the worker id as token, audited when cleared), and a snapshot of this type and revision keeps what an
 * operator needs to see (the error, the failing event, the attempts), with the failing event's cursor.
 */
export const PARKED_SNAPSHOT_TYPE = 'holdfast/subscription'
/** The snapshot revision of a park record. */
export const PARKED_SNAPSHOT_REVISION = 'parked/1'

/** The poison key that parks subscription `key`. */
export function parkingKey(key: string): string {
  return `subscription/${key}`
}

/** A parked subscription, as {@link listParked} reports it. */
export interface ParkedSubscription {
  /** The subscriber key. */
  key: string
  /** The worker that parked it. */
  workerId: string
  /** The last error's message. */
  error: string
  /** The id of the failing batch's first event. */
  eventId: string
  /** How many times the batch was tried. */
  attempts: number
  /** When it parked (ms since epoch). */
  parkedAt: number
}

/** What the runner stores beside the poison key. */
export interface ParkRecord {
  workerId: string
  error: string
  eventId: string
  attempts: number
  parkedAt: number
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Keeps the park record (before the poison key is taken, so a parked key always has one to show). */
export async function saveParkRecord(store: Store, key: string, record: ParkRecord, cursor: string): Promise<void> {
  await store.events.saveSnapshot(PARKED_SNAPSHOT_TYPE, PARKED_SNAPSHOT_REVISION, key, encoder.encode(JSON.stringify(record)), cursor)
}

async function parkRecord(store: Store, key: string): Promise<{ record: ParkRecord; cursor: string } | null> {
  const snap = await store.events.getSnapshot(PARKED_SNAPSHOT_TYPE, PARKED_SNAPSHOT_REVISION, key)
  if (!snap) return null
  return { record: JSON.parse(decoder.decode(snap.data)) as ParkRecord, cursor: snap.cursor }
}

/** Every parked subscription, in key order: the keys held under `subscription/`, with what their runner recorded. */
export async function listParked(store: Store): Promise<ParkedSubscription[]> {
  assertStore(store)
  const held = await store.poison.listPoison('subscription/')
  const out: ParkedSubscription[] = []
  for (const h of held) {
    const key = h.key.slice('subscription/'.length)
    const park = await parkRecord(store, key)
    out.push({
      key,
      workerId: park?.record.workerId ?? h.token,
      error: park?.record.error ?? '(no record)',
      eventId: park?.record.eventId ?? '',
      attempts: park?.record.attempts ?? 0,
      parkedAt: park?.record.parkedAt ?? h.createdAt,
    })
  }
  return out
}

/** Who resumes, why, and whether to move past the failing event. */
export interface ResumeOptions {
  /** Who resumes it (a key string), recorded in the audit trail. */
  by: string
  /** Why, recorded in the audit trail. */
  reason?: string
  /** Also move the cursor past the failing event (its id goes into the audit reason): it is never delivered again. */
  skip?: boolean
}

/**
 * Resumes parked subscription `key`: clears its poison key through `clearPoison`, so the clear is audited, and its
 * active worker delivers the same batch again within seconds (or, with `skip`, the events after the failing one).
 * `NOT_FOUND` if `key` is not parked.
 */
export async function resumeParked(store: Store, key: string, options: ResumeOptions): Promise<void> {
  assertStore(store)
  assertKey('key', key)
  const o = readFields('options', options, ['by', 'reason', 'skip'] as const)
  assertKey('options.by', o.by)
  if (o.reason !== undefined) assertText('options.reason', o.reason)
  if (o.skip !== undefined && typeof o.skip !== 'boolean') throw new InvalidArgumentError(`options.skip must be a boolean, got ${describe(o.skip)}`)
  const poisonKey = parkingKey(key)
  if ((await store.poison.getPoison(poisonKey)) === null) throw new NotFoundError(`subscription ${JSON.stringify(key)} is not parked`)
  let reason = (o.reason as string | undefined) ?? ''
  if (o.skip === true) {
    const park = await parkRecord(store, key)
    if (!park) throw new NotFoundError(`subscription ${JSON.stringify(key)} has no park record to skip past`)
    // The record's cursor is the failing event's: acknowledging it moves past that event and nothing after it.
    await store.events.rewindSubscriber(key, park.cursor)
    reason = `${reason}${reason ? ' ' : ''}(skip: moved past event ${park.record.eventId})`
  }
  await store.poison.clearPoison(poisonKey, o.by, reason || undefined)
}

/** Where a rewind goes, who asks, and why. */
export interface RewindOptions {
  /** `'beginning'`, or a cursor: the key's next batch starts after it. */
  to: 'beginning' | string
  /** Who rewinds it (a key string), recorded in the audit trail. */
  by: string
  /** Why, recorded in the audit trail. */
  reason?: string
}

/**
 * Moves subscription `key`'s cursor for a rebuild or a replay, recorded in the poison audit trail under
 * `subscription/<key>` with the token `rewind:<to>`. The active worker picks it up between batches, never
 * mid-batch: an acknowledgement of a batch read before the rewind fails its generation fence, and the worker reads
 * the new cursor. `NOT_FOUND` for a key that never subscribed.
 */
export async function rewindSubscription(store: Store, key: string, options: RewindOptions): Promise<void> {
  assertStore(store)
  assertKey('key', key)
  const o = readFields('options', options, ['to', 'by', 'reason'] as const)
  if (o.to !== 'beginning') assertKey('options.to', o.to)
  assertKey('options.by', o.by)
  if (o.reason !== undefined) assertText('options.reason', o.reason)
  await store.events.rewindSubscriber(key, o.to === 'beginning' ? null : (o.to as string))
  await store.poison.auditPoison(parkingKey(key), `rewind:${o.to as string}`, o.by, o.reason as string | undefined)
}
