import { InvalidArgumentError } from '../errors.js'
import type { ChannelValue, TypedValue } from './thread-types.js'
import { versionText, versionsOf } from './thread-validate.js'

/** A channel value as a thread checkpoint keeps it: with the version it was written at (as text). */
export interface StoredValue {
  version: string
  value: TypedValue
}

/** Channel → stored value. */
export type ValueMap = Map<string, StoredValue>

const FORMAT = 1

/**
 * The values a checkpoint keeps: those it was given, and its parent's for every channel whose version it did not
 * change (so each row holds its whole state and a read is one row, as a pruned ancestor never takes values with it).
 */
export function resolveValues(checkpoint: Record<string, unknown>, given: readonly ChannelValue[], parent: ValueMap | null): ValueMap {
  const out: ValueMap = new Map()
  for (const v of given) out.set(v.channel, { version: versionText(v.version), value: v.value })
  if (parent === null) return out
  for (const [channel, version] of versionsOf(checkpoint)) {
    if (out.has(channel)) continue
    const p = parent.get(channel)
    if (p !== undefined && p.version === version) out.set(channel, p)
  }
  return out
}

/** The values that match the checkpoint's `channel_versions`, as a read returns them. */
export function currentValues(checkpoint: Record<string, unknown>, stored: ValueMap): Record<string, TypedValue> {
  const out: Record<string, TypedValue> = {}
  for (const [channel, version] of versionsOf(checkpoint)) {
    const v = stored.get(channel)
    if (v !== undefined && v.version === version) out[channel] = v.value
  }
  return out
}

/** A value map encoded by {@link encodeValues}: the bytes, and the same map with its data as views into them. */
export interface EncodedValues {
  bytes: Uint8Array
  values: ValueMap
}

/**
 * A value map as bytes: a format byte, then per channel four length-prefixed parts (channel, version, type, data).
 * The map it returns beside them is what {@link decodeValues} would read back, without reading it back.
 */
export function encodeValues(values: ValueMap): EncodedValues {
  // Sized for the worst case (3 bytes per UTF-16 unit) and cut to what was written: no byteLength pass per string.
  let size = 1
  for (const [channel, { version, value }] of values) size += 16 + 3 * (channel.length + version.length + value.type.length) + value.data.byteLength
  const out = Buffer.allocUnsafe(size)
  const views: ValueMap = new Map()
  out[0] = FORMAT
  let pos = 1
  const text = (s: string): void => {
    let i = 0
    // Channel names, versions and type tags are short and almost always ASCII: a loop beats a call into the encoder.
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i)
      if (c > 0x7f) break
      out[pos + 4 + i] = c
    }
    const n = i === s.length ? i : out.write(s, pos + 4)
    out.writeUInt32BE(n, pos)
    pos += 4 + n
  }
  for (const [channel, { version, value }] of values) {
    text(channel)
    text(version)
    text(value.type)
    const n = value.data.byteLength
    out.writeUInt32BE(n, pos)
    out.set(value.data, pos + 4)
    views.set(channel, { version, value: { type: value.type, data: new Uint8Array(out.buffer, out.byteOffset + pos + 4, n) } })
    pos += 4 + n
  }
  return { bytes: new Uint8Array(out.buffer, out.byteOffset, pos), values: views }
}

/** The value map in `bytes` (made by {@link encodeValues}); data are views into `bytes`. */
export function decodeValues(bytes: Uint8Array): ValueMap {
  const out: ValueMap = new Map()
  if (bytes[0] !== FORMAT) throw new InvalidArgumentError(`stored channel values have an unknown format ${bytes[0]}`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 1
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const next = (): Uint8Array => {
    const n = view.getUint32(pos)
    const part = bytes.subarray(pos + 4, pos + 4 + n)
    pos += 4 + n
    return part
  }
  const text = (): string => {
    const n = view.getUint32(pos)
    pos += 4 + n
    return buffer.toString('utf8', pos - n, pos)
  }
  while (pos < bytes.byteLength) {
    const channel = text()
    const version = text()
    const type = text()
    out.set(channel, { version, value: { type, data: next() } })
  }
  return out
}
