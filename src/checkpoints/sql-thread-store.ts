import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit } from '../sql/group-commit.js'
import type { SqliteDatabase } from '../sql/sqlite.js'
import { asBytes, assertKey } from '../validate.js'
import type { Rider, SqlCheckpointStore } from './sql-checkpoint-store.js'
import type { CheckpointSerializer } from './types.js'
import type { CheckedCheckpoint } from './validate.js'
import type { ThreadAddress, ThreadCheckpointInput, ThreadEntry, ThreadQuery, ThreadStore, ThreadWrite } from './thread-types.js'
import {
  assertNamespace,
  checkAddress,
  checkThreadCheckpoint,
  checkThreadQuery,
  checkWrites,
  matchesFilter,
  parseThreadKey,
  sortWrites,
  threadKey,
  threadRange,
  type CheckedQuery,
} from './thread-validate.js'
import { currentValues, decodeValues, encodeValues, resolveValues, type ValueMap } from './thread-values.js'

interface Row {
  seq: number | string
  id: string
  state: Uint8Array
  metadata: string
  parent_id: string | null
  created_at: number | string
  channel_values: Uint8Array | null
  /** The writes as JSON: text on SQLite, parsed on PostgreSQL. */
  writes: unknown
}

/** One pending write as a row's JSON gives it: task, index, path, channel, type, data (encoded as text). */
type WriteTuple = [string, number, string, string, string, string]

/** A pending write with the checkpoint it belongs to, waiting for its group commit. */
interface KeyedWrite extends ThreadWrite {
  key: string
}

/** Every id a thread store writes starts like this (a JSON array of strings); plain checkpoints' ids rarely do. */
const THREAD_IDS: [string, string] = ['["', '[#']

/** What a cached value map holds on to: its container's bytes, and a little per channel. */
const cost = (bytes: Uint8Array, values: ValueMap): number => bytes.byteLength + 64 * (values.size + 1)

/** Most bytes of values cached to resolve the next checkpoints' carried-over channels without a read. */
const CACHE_BYTES = 16 * 1024 * 1024

/**
 * {@link ThreadStore} on the SQL checkpoint store: checkpoints are rows of its table (saved through it, so they share
 * its group commit and trace guard) with their channel values in the row; pending writes are rows of another table.
 */
export class SqlThreadStore implements ThreadStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #checkpoints: SqlCheckpointStore
  readonly #serializer: CheckpointSerializer
  readonly #t: string
  readonly #writes: string
  /** The values of recent saves that no later save named as parent, by id, oldest first: the next saves' parents. */
  readonly #recent = new Map<string, { values: ValueMap; cost: number }>()
  #recentBytes = 0
  /** PostgreSQL: concurrent `putWrites` share one commit, as saves do. */
  readonly #pending: GroupCommit<KeyedWrite[]>
  /** SQLite: a call's writes as work for the saves' next commit (see {@link Rider}). */
  readonly #rider: ((writes: KeyedWrite[]) => Rider) | undefined
  readonly #upsertWrite: string
  readonly #select: string
  readonly #latest: string
  readonly #byId: string
  readonly #read: (sql: string, params: unknown[]) => Promise<ThreadEntry[]>

  /** @param db - the database; @param life - the store's lifecycle; @param checkpoints - the checkpoint store; @param serializer - its serializer */
  constructor(db: SqlDatabase, life: Lifecycle, checkpoints: SqlCheckpointStore, serializer: CheckpointSerializer) {
    this.#db = db
    this.#life = life
    this.#checkpoints = checkpoints
    this.#serializer = serializer
    this.#t = db.table('checkpoints')
    this.#writes = db.table('checkpoint_writes')
    // LangGraph keeps the first write of a (task, index) and replaces the special (negative) ones.
    this.#upsertWrite = `INSERT INTO ${this.#writes} (checkpoint_id, task_id, idx, task_path, channel, type, data) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (checkpoint_id, task_id, idx) DO UPDATE SET task_path = excluded.task_path, channel = excluded.channel,
        type = excluded.type, data = excluded.data WHERE excluded.idx < 0`
    // Each row comes with its writes as a JSON array: a second statement per read costs more than the rows (SQLite),
    // and a round trip (PostgreSQL). SQLite gives JSON data as text, the rest in hex; PostgreSQL all in base64.
    const writes =
      db.engine === 'sqlite'
        ? `json_group_array(json_array(w.task_id, w.idx, w.task_path, w.channel, w.type,
             CASE WHEN w.type = 'json' THEN CAST(w.data AS TEXT) ELSE hex(w.data) END))`
        : `json_agg(json_build_array(w.task_id, w.idx, w.task_path, w.channel, w.type, encode(w.data, 'base64')))`
    this.#select = `SELECT seq, id, state, metadata, parent_id, created_at, channel_values,
      (SELECT ${writes} FROM ${this.#writes} w WHERE w.checkpoint_id = c.id) AS writes FROM ${this.#t} c`
    this.#latest = `${this.#select} WHERE trace_id = ? AND id >= ? AND id < ? ORDER BY seq DESC LIMIT 1`
    this.#byId = `${this.#select} WHERE id = ? AND trace_id = ?`
    this.#read = db.engine === 'sqlite' ? this.#sqliteRead(db as SqliteDatabase) : (sql, params) => this.#postgresRead(sql, params)
    this.#pending = new GroupCommit((batch) => this.#postgresWrites(batch), { maxItems: 256 })
    this.#rider = db.engine === 'sqlite' ? this.#sqliteRider(db as SqliteDatabase) : undefined
  }

  /** Resolves when no pending write is queued. */
  close(): Promise<void> {
    return this.#pending.idle()
  }

  put(checkpoint: ThreadCheckpointInput): Promise<void> {
    // Not `async`: with its parent cached, a save hands back the commit's own promise (one hop fewer per put).
    try {
      this.#life.check()
      const c = checkThreadCheckpoint(checkpoint)
      const key = threadKey(c.threadId, c.namespace, c.checkpointId)
      const parentKey = c.parentId === null ? null : threadKey(c.threadId, c.namespace, c.parentId)
      // Checked and serialised before any wait for the parent: nothing of the caller's is read after this call.
      const checked = this.#checkpoints.check(c.threadId, { id: key, state: c.checkpoint, metadata: c.metadata, parentId: parentKey, createdAt: c.createdAt })
      const cached = parentKey === null ? undefined : this.#recent.get(parentKey)
      if (parentKey !== null && cached === undefined) return this.#readValues(parentKey).then((parent) => this.#save(c, checked, key, parentKey, parent))
      return this.#save(c, checked, key, parentKey, cached?.values ?? null)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  #save(c: ThreadCheckpointInput, checked: CheckedCheckpoint, key: string, parentKey: string | null, parent: ValueMap | null): Promise<void> {
    const { bytes, values } = encodeValues(resolveValues(c.checkpoint, c.values, parent))
    // Cached before the commit (a child's put racing it takes the values being committed), dropped if it fails: the
    // commit's fsync leaves the CPU's caches cold, so work after it costs twice what it does before. A parent seldom
    // gets a second child (a fork reads it back), so the cache holds about one entry per live thread: fewer live
    // objects for the collector to trace than a cache of every recent save.
    if (parentKey !== null) this.#forget(parentKey)
    // Views into our own container: nothing the caller holds can change them.
    const entry = { values, cost: cost(bytes, values) }
    this.#remember(key, entry)
    const saved = this.#checkpoints.submitChecked(c.threadId, checked, bytes)
    saved.catch(() => this.#recent.get(key) === entry && this.#forget(key))
    return saved
  }

  /** A checkpoint's values as stored (for a parent not among the recent saves). */
  async #readValues(key: string): Promise<ValueMap | null> {
    const [row] = await this.#db.all<{ channel_values: Uint8Array | null }>(`SELECT channel_values FROM ${this.#t} WHERE id = ?`, [key])
    return row?.channel_values ? decodeValues(asBytes(row.channel_values)) : null
  }

  #remember(key: string, entry: { values: ValueMap; cost: number }): void {
    this.#forget(key)
    this.#recent.set(key, entry)
    this.#recentBytes += entry.cost
    for (const k of this.#recent.keys()) {
      if (this.#recentBytes <= CACHE_BYTES || k === key) break
      this.#forget(k)
    }
  }

  #forget(key: string): void {
    const old = this.#recent.get(key)
    if (old === undefined) return
    this.#recent.delete(key)
    this.#recentBytes -= old.cost
  }

  async putWrites(address: ThreadAddress, writes: ThreadWrite[]): Promise<void> {
    this.#life.check()
    const a = checkAddress(address)
    const checked = checkWrites(writes)
    if (checked.length === 0) return
    const key = threadKey(a.threadId, a.namespace, a.checkpointId)
    const keyed = checked.map((w) => ({ taskId: w.taskId, taskPath: w.taskPath, idx: w.idx, channel: w.channel, value: w.value, key }))
    await (this.#rider ? this.#checkpoints.commitWith(this.#rider(keyed)) : this.#pending.submit(keyed))
  }

  #sqliteRider(db: SqliteDatabase): (writes: KeyedWrite[]) => Rider {
    const row = (w: KeyedWrite): unknown[] => [w.key, w.taskId, w.idx, w.taskPath, w.channel, w.value.type, w.value.data]
    // The statement for n rows, made once: a new text per call would be built and hashed again on every call.
    const multi = Array.from({ length: 17 }, (_, n) => this.#upsertWrite.replace('(?, ?, ?, ?, ?, ?, ?)', Array(n).fill('(?, ?, ?, ?, ?, ?, ?)').join(', ')))
    // More rows than that: one statement each, in a transaction (a savepoint inside the flush's), so they stay atomic.
    const many = db.db.transaction((writes: KeyedWrite[]) => {
      const upsert = db.statement(this.#upsertWrite)
      for (const w of writes) upsert.run(...row(w))
    })
    return (writes) => ({
      run: () => (writes.length < multi.length ? db.statement(multi[writes.length]!).run(...writes.flatMap(row)) : many.immediate(writes)),
    })
  }

  /** One statement per batch; an upsert may touch a row once, so a repeated (checkpoint, task, index) keeps one write. */
  async #postgresWrites(batch: KeyedWrite[][]): Promise<(Error | undefined)[]> {
    const unique = new Map<string, KeyedWrite>()
    for (const w of batch.flat()) {
      const k = JSON.stringify([w.key, w.taskId, w.idx])
      if (w.idx < 0 || !unique.has(k)) unique.set(k, w)
    }
    const rows = [...unique.values()]
    await this.#db.run(
      `INSERT INTO ${this.#writes} (checkpoint_id, task_id, idx, task_path, channel, type, data)
       SELECT * FROM unnest(?::text[], ?::text[], ?::int[], ?::text[], ?::text[], ?::text[], ?::bytea[])
       ON CONFLICT (checkpoint_id, task_id, idx) DO UPDATE SET task_path = excluded.task_path, channel = excluded.channel,
         type = excluded.type, data = excluded.data WHERE excluded.idx < 0`,
      [
        rows.map((w) => w.key),
        rows.map((w) => w.taskId),
        rows.map((w) => w.idx),
        rows.map((w) => w.taskPath),
        rows.map((w) => w.channel),
        rows.map((w) => w.value.type),
        rows.map((w) => w.value.data),
      ],
    )
    return batch.map(() => undefined)
  }

  async get(threadId: string, namespace: string, checkpointId?: string): Promise<ThreadEntry | null> {
    this.#life.check()
    assertKey('threadId', threadId)
    assertNamespace('namespace', namespace)
    if (checkpointId !== undefined) assertKey('checkpointId', checkpointId)
    const [entry] =
      checkpointId === undefined
        ? await this.#read(this.#latest, [threadId, ...threadRange(threadId, namespace)])
        : await this.#read(this.#byId, [threadKey(threadId, namespace, checkpointId), threadId])
    return entry ?? null
  }

  async list(query?: ThreadQuery): Promise<ThreadEntry[]> {
    this.#life.check()
    const q = checkThreadQuery(query)
    const { where, params, exact } = this.#where(q)
    const sql = `${this.#select} WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`
    if (exact) return this.#read(sql, [...params, q.limit])
    // A filter value SQL cannot compare exactly: page through and match here.
    const out: ThreadEntry[] = []
    for (let olderThan = q.olderThan; out.length < q.limit; ) {
      const page = await this.#read(sql.replace(' ORDER BY', olderThan === undefined ? ' ORDER BY' : ' AND seq < ? ORDER BY'), [
        ...params,
        ...(olderThan === undefined ? [] : [olderThan]),
        q.limit,
      ])
      for (const e of page) if (out.length < q.limit && matchesFilter(e.metadata, q.filter)) out.push(e)
      if (page.length < q.limit) break
      olderThan = page[page.length - 1]!.seq
    }
    return out
  }

  /** The conditions of a query; `exact` is false when a filter value is left for {@link matchesFilter}. */
  #where(q: CheckedQuery): { where: string[]; params: unknown[]; exact: boolean } {
    const pg = this.#db.engine === 'postgres'
    const part = (i: number): string => (pg ? `((id::jsonb) ->> ${i}) COLLATE "C"` : `json_extract(id, '$[${i}]')`)
    const where: string[] = []
    const params: unknown[] = []
    const when = (condition: string, ...values: unknown[]): void => {
      where.push(condition)
      params.push(...values)
    }
    if (q.threadId !== undefined) when('trace_id = ? AND id >= ? AND id < ?', q.threadId, ...threadRange(q.threadId, q.namespace))
    else {
      when('id >= ? AND id < ?', ...THREAD_IDS)
      if (q.namespace !== undefined) when(`${part(1)} = ?`, q.namespace)
    }
    if (q.checkpointId !== undefined) when(`${part(2)} = ?`, q.checkpointId)
    if (q.before !== undefined) when(`${part(2)} < ?`, q.before)
    if (q.olderThan !== undefined) when('seq < ?', q.olderThan)
    let exact = true
    for (const [k, v] of Object.entries(q.filter ?? {})) {
      if (pg) when('(metadata::jsonb -> ?) = ?::jsonb', k, JSON.stringify(v))
      // `->` gives the JSON text of the member; both sides were written by JSON.stringify.
      else if ((v === null || typeof v !== 'object') && !k.includes('"')) when('(metadata -> ?) = ?', `$."${k}"`, JSON.stringify(v))
      else exact = false
    }
    return { where, params, exact }
  }

  /** A row made an entry, given its writes; `null` for a plain checkpoint whose id merely looks like a thread's. */
  #entry(r: Row, writes: ThreadWrite[]): ThreadEntry | null {
    const address = parseThreadKey(r.id)
    if (address === null) return null
    const [threadId, namespace, checkpointId] = address
    const checkpoint = this.#serializer.deserialize(asBytes(r.state)) as Record<string, unknown>
    const stored = r.channel_values ? decodeValues(asBytes(r.channel_values)) : new Map()
    return {
      threadId,
      namespace,
      checkpointId,
      seq: Number(r.seq),
      parentId: r.parent_id === null ? null : (parseThreadKey(r.parent_id)?.[2] ?? null),
      checkpoint,
      metadata: JSON.parse(r.metadata) as Record<string, unknown>,
      createdAt: Number(r.created_at),
      values: currentValues(checkpoint, stored),
      writes: sortWrites(writes),
    }
  }

  /** SQLite: one statement, in one synchronous step (one turn of the event loop, one consistent view). */
  #sqliteRead(db: SqliteDatabase): (sql: string, params: unknown[]) => Promise<ThreadEntry[]> {
    const none: WriteTuple[] = []
    return (sql, params) =>
      db.exclusive(() => this.#entries(db.statement(sql).all(...params) as Row[], (w) => (w === '[]' ? none : (JSON.parse(w as string) as WriteTuple[]))))
  }

  /** PostgreSQL: one round trip. */
  async #postgresRead(sql: string, params: unknown[]): Promise<ThreadEntry[]> {
    return this.#entries(await this.#db.all<Row>(sql, params), (w) => (w ?? []) as WriteTuple[])
  }

  #entries(rows: Row[], writes: (column: unknown) => WriteTuple[]): ThreadEntry[] {
    const sqlite = this.#db.engine === 'sqlite'
    const out: ThreadEntry[] = []
    for (const r of rows) {
      const ws = writes(r.writes).map(
        ([taskId, idx, taskPath, channel, type, data]): ThreadWrite => ({
          taskId,
          idx,
          taskPath,
          channel,
          value: { type, data: asBytes(Buffer.from(data, !sqlite ? 'base64' : type === 'json' ? 'utf8' : 'hex')) },
        }),
      )
      const e = this.#entry(r, ws)
      if (e) out.push(e)
    }
    return out
  }

  async deleteThread(threadId: string): Promise<boolean> {
    this.#life.check()
    assertKey('threadId', threadId)
    const [low, high] = threadRange(threadId)
    for (const k of [...this.#recent.keys()]) if (k >= low && k < high) this.#forget(k)
    return this.#db.transaction(async (tx) => {
      const n = await tx.run(`DELETE FROM ${this.#t} WHERE trace_id = ? AND id >= ? AND id < ?`, [threadId, low, high])
      await tx.run(`DELETE FROM ${this.#writes} WHERE checkpoint_id >= ? AND checkpoint_id < ?`, [low, high])
      return n > 0
    })
  }
}
