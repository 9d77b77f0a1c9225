import { InvalidArgumentError } from '../errors.js'
import { assertBytes, assertInteger, describe, MAX_KEY_BYTES } from '../validate.js'

/** A checked change: actor bytes, sequence number, bytes, and the address as one string for de-duplication. */
export interface CheckedChange {
  actor: Uint8Array
  seq: number
  data: Uint8Array
  key: string
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/

function idBytes(name: string, value: unknown, hexAllowed: boolean): Uint8Array {
  let bytes: Uint8Array
  if (value instanceof Uint8Array) bytes = value
  else if (hexAllowed && typeof value === 'string') {
    if (!HEX.test(value)) throw new InvalidArgumentError(`${name} must be bytes or an even-length hex string, got ${describe(value)}`)
    bytes = Buffer.from(value, 'hex')
  } else throw new InvalidArgumentError(`${name} must be a Uint8Array${hexAllowed ? ' or a hex string' : ''}, got ${describe(value)}`)
  if (bytes.byteLength === 0) throw new InvalidArgumentError(`${name} must not be empty`)
  if (bytes.byteLength > MAX_KEY_BYTES) throw new InvalidArgumentError(`${name} must be at most ${MAX_KEY_BYTES} bytes, got ${bytes.byteLength}`)
  return new Uint8Array(bytes)
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
  assertBytes(name, value)
  return new Uint8Array(value)
}

function addressKey(actor: Uint8Array, seq: number): string {
  return `${hex(actor)}:${seq}`
}

function checkList(name: string, value: unknown): unknown[] {
  if (!Array.isArray(value)) throw new InvalidArgumentError(`${name} must be an array, got ${describe(value)}`)
  return value
}

function checkTuple(name: string, value: unknown, length: number, shape: string): unknown[] {
  if (!Array.isArray(value) || value.length !== length) throw new InvalidArgumentError(`${name} must be ${shape}, got ${describe(value)}`)
  return value
}

/** `insertChanges`' argument, de-duplicated by address (the last entry wins, as if inserted one after another). */
export function checkInsert(changes: unknown): CheckedChange[] {
  const out = new Map<string, CheckedChange>()
  checkList('changes', changes).forEach((entry, i) => {
    const [actor, seq, data] = checkTuple(`changes[${i}]`, entry, 3, '[actor, seq, bytes]')
    const a = checkActor(`changes[${i}][0] (actor)`, actor)
    assertInteger(`changes[${i}][1] (sequence number)`, seq, 0)
    const d = checkPayload(`changes[${i}][2] (change)`, data)
    const key = addressKey(a, seq)
    out.delete(key)
    out.set(key, { actor: a, seq, data: d, key })
  })
  return [...out.values()]
}

/** `removeChanges`' argument, de-duplicated. */
export function checkRemove(changes: unknown, name = 'changes'): CheckedChange[] {
  const out = new Map<string, CheckedChange>()
  checkList(name, changes).forEach((entry, i) => {
    const [actor, seq] = checkTuple(`${name}[${i}]`, entry, 2, '[actor, seq]')
    const a = checkActor(`${name}[${i}][0] (actor)`, actor)
    assertInteger(`${name}[${i}][1] (sequence number)`, seq, 0)
    const key = addressKey(a, seq)
    out.set(key, { actor: a, seq, data: EMPTY, key })
  })
  return [...out.values()]
}

/** A list of peer ids, de-duplicated. */
export function checkPeers(peerIds: unknown, name = 'peerIds'): Uint8Array[] {
  const out = new Map<string, Uint8Array>()
  checkList(name, peerIds).forEach((p, i) => {
    const peer = checkPeer(`${name}[${i}]`, p)
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
