import { InvalidArgumentError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { asBytes, describe, mapArray } from '../validate.js'
import type { SqlAutomergeStore } from './sql-persister.js'
import { checkPayload } from './validate.js'

/** A key of automerge-repo's storage: an array of strings, e.g. `[documentId, 'incremental', hash]`. */
export type ChunkKey = readonly string[]

/** A stored chunk and its key. */
export interface StoredChunk {
  /** The key it was saved under. */
  key: string[]
  /** Its bytes. */
  data: Uint8Array
}

/**
 * Binary chunks under string-array keys, with range reads by key prefix (whole parts only: `['doc1']` never matches
 * `['doc10']`). The storage behind the automerge-repo adapter (`holdfast/automerge`); `store.chunks(namespace)`.
 */
export interface ChunkStore {
  /** The namespace: stores given different ones never see each other's chunks. */
  readonly namespace: string
  /** The chunk under `key`, or `undefined`. */
  load(key: ChunkKey): Promise<Uint8Array | undefined>
  /** Saves `data` under `key`, replacing any earlier chunk; durable when it resolves. */
  save(key: ChunkKey, data: Uint8Array): Promise<void>
  /**
   * Removes the chunk under `key`; absent is not an error. Survives a process crash when it resolves; on SQLite with
   * `synchronous: 'full'` it reaches the disk with the next durable write rather than with an fsync of its own,
   * because automerge-repo removes a chunk only after saving a snapshot that contains it: a chunk that comes back
   * after a power loss changes nothing, and compaction no longer costs an fsync per removed chunk.
   */
  remove(key: ChunkKey): Promise<void>
  /** Every chunk whose key starts with the parts of `prefix` (all chunks for `[]`), in order of first save. */
  loadRange(prefix: ChunkKey): Promise<StoredChunk[]>
  /** Removes every chunk whose key starts with the parts of `prefix`. */
  removeRange(prefix: ChunkKey): Promise<void>
}

const encoder = new TextEncoder()
/** With the namespace, within PostgreSQL's limit on a B-tree entry (about 2,700 bytes). */
const MAX_ENCODED_KEY = 2048
const MAX_NAMESPACE = 256
const SEPARATOR = [0x00, 0x01]

/** A key checked by {@link encodeKey}: a copy of its parts, and its encoding. */
export interface EncodedKey {
  /** The parts, copied (each read once from the caller's array). */
  parts: string[]
  /** The encoding below. */
  encoded: Uint8Array
}

/**
 * A key as bytes that sort and prefix-match by whole parts: each part's UTF-8 with NUL escaped as `00 FF`, parts
 * joined by `00 01`. Keys under a prefix then lie in `[enc(prefix) 00 01, enc(prefix) 00 02)`, plus the prefix itself:
 * an index range, whatever characters the parts hold. The parts are read once; use only the copy returned.
 */
export function encodeKey(name: string, key: unknown, allowEmpty: boolean): EncodedKey {
  const out: number[] = []
  let chars = 0
  const parts = mapArray(name, key, (part, at, i) => {
    if (typeof part !== 'string') throw new InvalidArgumentError(`${at} must be a string, got ${describe(part)}`)
    // Every character is at least one byte: a key this long is refused before it is encoded.
    chars += part.length
    if (chars > MAX_ENCODED_KEY) throw new InvalidArgumentError(`${name} is more than ${MAX_ENCODED_KEY} bytes encoded`)
    if (!part.isWellFormed()) throw new InvalidArgumentError(`${at} contains a lone surrogate and is not valid UTF-8`)
    if (i > 0) out.push(...SEPARATOR)
    for (const byte of encoder.encode(part)) {
      if (byte === 0) out.push(0x00, 0xff)
      else out.push(byte)
    }
    return part
  })
  if (parts.length === 0 && !allowEmpty) throw new InvalidArgumentError(`${name} must have at least one part`)
  if (out.length > MAX_ENCODED_KEY) throw new InvalidArgumentError(`${name} is ${out.length} bytes encoded, more than ${MAX_ENCODED_KEY}`)
  return { parts, encoded: Uint8Array.from(out) }
}

/** The bounds of a prefix's range: `[low, high)` for keys below it; the prefix itself is matched exactly. */
function rangeOf(prefix: Uint8Array): { low: Uint8Array; high: Uint8Array } {
  const low = new Uint8Array(prefix.length + 2)
  low.set(prefix)
  low.set(SEPARATOR, prefix.length)
  const high = low.slice()
  high[high.length - 1] = 0x02
  return { low, high }
}

function checkNamespace(namespace: unknown): string {
  if (typeof namespace !== 'string' || encoder.encode(namespace).length > MAX_NAMESPACE || !namespace.isWellFormed() || namespace.includes('\0'))
    throw new InvalidArgumentError(`namespace must be a string of at most ${MAX_NAMESPACE} UTF-8 bytes without NUL, got ${describe(namespace)}`)
  return namespace
}

const parse = (parts: string): string[] => JSON.parse(parts) as string[]

/** Chunks in memory: the reference model. */
export class MemoryChunkStores {
  readonly #spaces = new Map<string, Map<string, { key: string[]; enc: Uint8Array; data: Uint8Array }>>()
  constructor(private readonly life: Lifecycle) {}

  /** The chunk store of `namespace`. */
  open(namespace: string): ChunkStore {
    const ns = checkNamespace(namespace)
    const life = this.life
    const space = (): Map<string, { key: string[]; enc: Uint8Array; data: Uint8Array }> => {
      let s = this.#spaces.get(ns)
      if (!s) this.#spaces.set(ns, (s = new Map()))
      return s
    }
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
    const under = (key: ChunkKey) => {
      const { parts, encoded: prefix } = encodeKey('prefix', key, true)
      const { low, high } = rangeOf(prefix)
      return [...space().values()].filter(
        (c) => parts.length === 0 || Buffer.compare(c.enc, prefix) === 0 || (Buffer.compare(c.enc, low) >= 0 && Buffer.compare(c.enc, high) < 0),
      )
    }
    return {
      namespace: ns,
      async load(key) {
        life.check()
        const c = space().get(hex(encodeKey('key', key, false).encoded))
        return c && new Uint8Array(c.data)
      },
      async save(key, data) {
        life.check()
        const { parts, encoded: enc } = encodeKey('key', key, false)
        space().set(hex(enc), { key: parts, enc, data: checkPayload('data', data) })
      },
      async remove(key) {
        life.check()
        space().delete(hex(encodeKey('key', key, false).encoded))
      },
      async loadRange(prefix) {
        life.check()
        return under(prefix).map((c) => ({ key: [...c.key], data: new Uint8Array(c.data) }))
      },
      async removeRange(prefix) {
        life.check()
        for (const c of under(prefix)) space().delete(hex(c.enc))
      },
    }
  }
}

/**
 * Chunks in a SQL database: one row per chunk, keyed (namespace, encoded key), so prefix reads are index ranges; `seq`
 * (first save) gives the order automerge-repo's suite expects.
 */
export class SqlChunkStores {
  readonly #t: string
  constructor(
    private readonly db: SqlDatabase,
    private readonly life: Lifecycle,
    /** Commits statements atomically and durably: the persisters' group commit. */
    private readonly writer: Pick<SqlAutomergeStore, 'write'>,
  ) {
    this.#t = db.table('automerge_chunks')
  }

  /** The chunk store of `namespace`. */
  open(namespace: string): ChunkStore {
    const ns = checkNamespace(namespace)
    const { db, life, writer } = this
    const write: SqlAutomergeStore['write'] = (statements, bytes, relaxed) => writer.write(statements, bytes, relaxed)
    const t = this.#t
    const range = `namespace = ? AND (key = ? OR (key >= ? AND key < ?))`
    return {
      namespace: ns,
      async load(key) {
        life.check()
        const [row] = await db.all<{ data: unknown }>(`SELECT data FROM ${t} WHERE namespace = ? AND key = ?`, [ns, encodeKey('key', key, false).encoded])
        return row ? asBytes(row.data) : undefined
      },
      async save(key, data) {
        life.check()
        const { parts, encoded: enc } = encodeKey('key', key, false)
        const bytes = checkPayload('data', data)
        await write(
          [[`INSERT INTO ${t} (namespace, key, parts, data) VALUES (?, ?, ?, ?) ON CONFLICT (namespace, key) DO UPDATE SET data = excluded.data`, [ns, enc, JSON.stringify(parts), bytes]]],
          bytes.byteLength,
        )
      },
      async remove(key) {
        life.check()
        await write([[`DELETE FROM ${t} WHERE namespace = ? AND key = ?`, [ns, encodeKey('key', key, false).encoded]]], 0, true)
      },
      async loadRange(prefix) {
        life.check()
        const { parts, encoded: enc } = encodeKey('prefix', prefix, true)
        const { low, high } = rangeOf(enc)
        const all = parts.length === 0
        const rows = await db.all<{ parts: string; data: unknown }>(
          `SELECT parts, data FROM ${t} WHERE ${all ? 'namespace = ?' : range} ORDER BY seq`,
          all ? [ns] : [ns, enc, low, high],
        )
        return rows.map((r) => ({ key: parse(r.parts), data: asBytes(r.data) }))
      },
      async removeRange(prefix) {
        life.check()
        const { parts, encoded: enc } = encodeKey('prefix', prefix, true)
        const { low, high } = rangeOf(enc)
        await write([parts.length === 0 ? [`DELETE FROM ${t} WHERE namespace = ?`, [ns]] : [`DELETE FROM ${t} WHERE ${range}`, [ns, enc, low, high]]], 0)
      },
    }
  }
}
