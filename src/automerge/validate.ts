import { InvalidArgumentError } from '../errors.js'
import { assertInteger, byteLengthOf, checkBytes, describe, isBytes, MAX_KEY_BYTES, mapArray } from '../validate.js'

/** A checked change: actor bytes, sequence number, bytes, and the address as one string for de-duplication. */
export interface CheckedChange {
  actor: Uint8Array
  seq: number
  data: Uint8Array
  key: string
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/

function idBytes(name: string, value: unknown, hexAllowed: boolean): Uint8Array {
  if (isBytes(value)) {
    const n = byteLengthOf(value)
    if (n === 0) throw new InvalidArgumentError(`${name} must not be empty`)
    if (n > MAX_KEY_BYTES) throw new InvalidArgumentError(`${name} must be at most ${MAX_KEY_BYTES} bytes, got ${n}`)
    // A detached view reads as 0 bytes, so it was refused above.
    return checkBytes(name, value)
  }
  if (hexAllowed && typeof value === 'string') {
    if (value.length > 2 * MAX_KEY_BYTES) throw new InvalidArgumentError(`${name} must be at most ${MAX_KEY_BYTES} bytes, got ${value.length / 2}`)
    if (!HEX.test(value)) throw new InvalidArgumentError(`${name} must be bytes or an even-length hex string, got ${describe(value)}`)
    return new Uint8Array(Buffer.from(value, 'hex'))
  }
  throw new InvalidArgumentError(`${name} must be a Uint8Array${hexAllowed ? ' or a hex string' : ''}, got ${describe(value)}`)
}

/** An actor id as bytes (copied). */
export function checkActor(name: string, value: unknown): Uint8Array {
  return idBytes(name, value, true)
}

/** A peer id (bytes, copied). */
export function checkPeer(name: string, value: unknown): Uint8Array {
  return idBytes(name, value, false)
}

/** A payload of at most 64 MiB, copied so the caller can reuse its buffer. */
export function checkPayload(name: string, value: unknown): Uint8Array {
  return checkBytes(name, value)
}

function addressKey(actor: Uint8Array, seq: number): string {
  return `${hex(actor)}:${seq}`
}

/** An entry of `length` elements, read once each (indices, not the iterator, which the caller's code may replace). */
function checkTuple(name: string, value: unknown, length: number, shape: string): unknown[] {
  const items = mapArray(name, value, (item, _at, i) => {
    if (i >= length) throw new InvalidArgumentError(`${name} must be ${shape}, got an array of more than ${length}`)
    return item
  })
  if (items.length !== length) throw new InvalidArgumentError(`${name} must be ${shape}, got an array of ${items.length}`)
  return items
}

/** `insertChanges`' argument, de-duplicated by address (the last entry wins, as if inserted one after another). */
export function checkInsert(changes: unknown): CheckedChange[] {
  const out = new Map<string, CheckedChange>()
  mapArray('changes', changes, (entry, at) => {
    const [actor, seq, data] = checkTuple(at, entry, 3, '[actor, seq, bytes]')
    const a = checkActor(`${at}[0] (actor)`, actor)
    assertInteger(`${at}[1] (sequence number)`, seq, 0)
    const d = checkPayload(`${at}[2] (change)`, data)
    const key = addressKey(a, seq)
    out.delete(key)
    out.set(key, { actor: a, seq, data: d, key })
  })
  return [...out.values()]
}

/** `removeChanges`' argument, de-duplicated. */
export function checkRemove(changes: unknown, name = 'changes'): CheckedChange[] {
  const out = new Map<string, CheckedChange>()
  mapArray(name, changes, (entry, at) => {
    const [actor, seq] = checkTuple(at, entry, 2, '[actor, seq]')
    const a = checkActor(`${at}[0] (actor)`, actor)
    assertInteger(`${at}[1] (sequence number)`, seq, 0)
    const key = addressKey(a, seq)
    out.set(key, { actor: a, seq, data: EMPTY, key })
  })
  return [...out.values()]
}

/** A list of peer ids, de-duplicated. */
export function checkPeers(peerIds: unknown, name = 'peerIds'): Uint8Array[] {
  const out = new Map<string, Uint8Array>()
  mapArray(name, peerIds, (p, at) => {
    const peer = checkPeer(at, p)
    out.set(hex(peer), peer)
  })
  return [...out.values()]
}

const EMPTY = new Uint8Array(0)

/** Byte order of two byte strings (what SQLite and PostgreSQL use for BLOB and bytea). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

/** Hex of a byte string, as a map key. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
