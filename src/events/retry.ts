import type { Event } from './types.js'
import type { CheckedWrite } from './validate.js'

/** What a retry must match of a stored event: everything the writer chose (a driver may give `version` as text). */
export type StoredEvent = Pick<Event, 'aggregatorType' | 'aggregatorId' | 'version' | 'name' | 'routingKey' | 'data' | 'metadata'>

/**
 * Whether a write that conflicted is a retry of one already committed: every one of its events is stored under its
 * id with the same aggregate, version, name, routing key, data and metadata. A write is atomic, so if it committed
 * all of its events are there; a write that merely reuses some ids, or the same ids with other contents, is not a
 * retry and keeps its error. This runs only after a conflict, so the write path without one pays nothing for it.
 */
export function isStoredRetry(write: CheckedWrite, stored: (id: string) => StoredEvent | undefined): boolean {
  for (const e of write.events) {
    const s = stored(e.id)
    if (
      s === undefined ||
      s.aggregatorType !== e.aggregatorType ||
      s.aggregatorId !== e.aggregatorId ||
      Number(s.version) !== e.version ||
      s.name !== e.name ||
      (s.routingKey ?? null) !== e.routingKey ||
      !equalBytes(s.data, e.data) ||
      !equalBytes(s.metadata, e.metadata)
    )
      return false
  }
  return true
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0
}
