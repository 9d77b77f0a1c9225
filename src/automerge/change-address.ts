import * as Automerge from '@automerge/automerge'

/** The address of one change: actor (hex), sequence number, size. */
export interface Address {
  actor: string
  seq: number
  bytes: number
}

const MAGIC = [0x85, 0x6f, 0x4a, 0x83]
const CHANGE_CHUNK = 1

/**
 * Reads a change's actor and sequence number from its header (Automerge's binary format: magic, checksum, chunk
 * type, length, then dependencies, actor, sequence number), without decoding its operations: on small changes
 * `Automerge.decodeChange` costs more than the edit itself. Anything unexpected (a compressed chunk, a future
 * format) goes through `decodeChange`.
 */
export function changeAddress(change: Uint8Array): Address {
  try {
    const address = readHeader(change)
    if (address) return address
  } catch {
    // Malformed for this reader; Automerge decides below.
  }
  const { actor, seq } = Automerge.decodeChange(change)
  return { actor, seq, bytes: change.byteLength }
}

function readHeader(b: Uint8Array): Address | undefined {
  for (let i = 0; i < 4; i++) if (b[i] !== MAGIC[i]) return undefined
  if (b[8] !== CHANGE_CHUNK) return undefined
  let pos = 9
  const uleb = (): number => {
    let result = 0
    let shift = 0
    for (;;) {
      if (pos >= b.length || shift > 49) throw new RangeError('truncated')
      const byte = b[pos++]!
      result += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) return result
      shift += 7
    }
  }
  uleb() // chunk length
  const deps = uleb() // read before `pos +=`, which would otherwise add to the position from before the read
  pos += deps * 32
  const actorLength = uleb()
  if (actorLength === 0 || pos + actorLength > b.length) return undefined
  const actor = Buffer.from(b.buffer, b.byteOffset + pos, actorLength).toString('hex')
  pos += actorLength
  const seq = uleb()
  return Number.isSafeInteger(seq) ? { actor, seq, bytes: b.byteLength } : undefined
}
