import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit } from '../sql/group-commit.js'
import type { SqliteDatabase } from '../sql/sqlite.js'
import { asBytes, assertKey } from '../validate.js'
import type { SqlCheckpointStore } from './sql-checkpoint-store.js'
import type { CheckpointSerializer } from './types.js'
import type { ThreadAddress, ThreadCheckpointInput, ThreadEntry, ThreadQuery, ThreadStore, ThreadWrite, TypedValue } from './thread-types.js'
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
  versionsOf,
  versionText,
  type CheckedQuery,
} from './thread-validate.js'

interface Row {
  seq: number | string
  id: string
  state: Uint8Array
  metadata: string
  parent_id: string | null
  created_at: number | string
}

/** A row with its pending writes: PostgreSQL aggregates them as JSON (data in base64); SQLite reads them apart. */
interface PgRow extends Row {
  writes: [string, number, string, string, string, string][] | null
}


/** A pending write with the checkpoint it belongs to, waiting for its group commit. */
interface KeyedWrite extends ThreadWrite {
  key: string
}

/** Every id a thread store writes starts like this (a JSON array of strings); plain checkpoints' ids rarely do. */
const THREAD_IDS: [string, string] = ['["', '[#']

/**
 * {@link ThreadStore} on the SQL checkpoint store: checkpoints are rows of its table (saved through it, so they share
 * its group commit and trace guard), channel values and pending writes rows of two more.
 */
export class SqlThreadStore implements ThreadStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #checkpoints: SqlCheckpointStore
  readonly #serializer: CheckpointSerializer
  readonly #t: string
  readonly #values: string
  readonly #writes: string
  /** Concurrent `putWrites` share one commit, as saves do. */
  readonly #pending: GroupCommit<KeyedWrite[]>
  readonly #upsertWrite: string
  readonly #select: string
  readonly #read: (sql: string, params: unknown[]) => Promise<ThreadEntry[]>

  /** @param db - the database; @param life - the store's lifecycle; @param checkpoints - the checkpoint store; @param serializer - its serializer */
  constructor(db: SqlDatabase, life: Lifecycle, checkpoints: SqlCheckpointStore, serializer: CheckpointSerializer) {
    this.#db = db
    this.#life = life
    this.#checkpoints = checkpoints
    this.#serializer = serializer
    this.#t = db.table('checkpoints')
    this.#values = db.table('checkpoint_values')
    this.#writes = db.table('checkpoint_writes')
    // LangGraph keeps the first write of a (task, index) and replaces the special (negative) ones.
    this.#upsertWrite = `INSERT INTO ${this.#writes} (checkpoint_id, task_id, idx, task_path, channel, type, data) VALUES (?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (checkpoint_id, task_id, idx) DO UPDATE SET task_path = excluded.task_path, channel = excluded.channel,
        type = excluded.type, data = excluded.data WHERE excluded.idx < 0`
    this.#select = `SELECT seq, id, state, metadata, parent_id, created_at FROM ${this.#t} c`
    this.#read = db.engine === 'sqlite' ? this.#sqliteRead(db as SqliteDatabase) : (sql, params) => this.#postgresRead(sql, params)
    this.#pending = new GroupCommit(db.engine === 'sqlite' ? this.#sqliteWrites(db as SqliteDatabase) : (batch) => this.#postgresWrites(batch), 256)
  }

  /** Resolves when no pending write is queued. */
  close(): Promise<void> {
    return this.#pending.idle()
  }

  async put(checkpoint: ThreadCheckpointInput): Promise<void> {
    this.#life.check()
    const c = checkThreadCheckpoint(checkpoint)
    await this.#checkpoints.saveWithValues(
      c.threadId,
      {
        id: threadKey(c.threadId, c.namespace, c.checkpointId),
        state: c.checkpoint,
        metadata: c.metadata,
        parentId: c.parentId === null ? null : threadKey(c.threadId, c.namespace, c.parentId),
        ...(c.createdAt === undefined ? {} : { createdAt: c.createdAt }),
      },
      c.values.map((v) => ({ namespace: c.namespace, channel: v.channel, version: versionText(v.version), type: v.value.type, data: v.value.data })),
    )
  }

  async putWrites(address: ThreadAddress, writes: ThreadWrite[]): Promise<void> {
    this.#life.check()
    const a = checkAddress(address)
    const checked = checkWrites(writes)
    if (checked.length === 0) return
    const key = threadKey(a.threadId, a.namespace, a.checkpointId)
    await this.#pending.submit(checked.map((w) => ({ ...w, key })))
  }

  #sqliteWrites(db: SqliteDatabase): (batch: KeyedWrite[][]) => Promise<(Error | undefined)[]> {
    return (batch) =>
      db.immediate(() => {
        const upsert = db.statement(this.#upsertWrite)
        for (const writes of batch) for (const w of writes) upsert.run(w.key, w.taskId, w.idx, w.taskPath, w.channel, w.value.type, w.value.data)
        return batch.map(() => undefined)
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
    if (checkpointId !== undefined) {
      const [entry] = await this.#read(`${this.#select} WHERE id = ? AND trace_id = ?`, [threadKey(threadId, namespace, checkpointId), threadId])
      return entry ?? null
    }
    const [low, high] = threadRange(threadId, namespace)
    const [entry] = await this.#read(`${this.#select} WHERE trace_id = ? AND id >= ? AND id < ? ORDER BY seq DESC LIMIT 1`, [threadId, low, high])
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

  /** A row made an entry, given its writes and values; `null` for a plain checkpoint whose id merely looks like a thread's. */
  #entry(r: Row, writes: ThreadWrite[], values: (address: [string, string], channel: string, version: string) => TypedValue | undefined): ThreadEntry | null {
    const address = parseThreadKey(r.id)
    if (address === null) return null
    const [threadId, namespace, checkpointId] = address
    const checkpoint = this.#serializer.deserialize(asBytes(r.state)) as Record<string, unknown>
    const found: Record<string, TypedValue> = {}
    for (const [channel, version] of versionsOf(checkpoint)) {
      const v = values([threadId, namespace], channel, version)
      if (v !== undefined) found[channel] = v
    }
    return {
      threadId,
      namespace,
      checkpointId,
      seq: Number(r.seq),
      parentId: r.parent_id === null ? null : (parseThreadKey(r.parent_id)?.[2] ?? null),
      checkpoint,
      metadata: JSON.parse(r.metadata) as Record<string, unknown>,
      createdAt: Number(r.created_at),
      values: found,
      writes: sortWrites(writes),
    }
  }

  /**
   * SQLite: the rows, their writes and their values in one synchronous step (keyed lookups on prepared statements),
   * so a read is one turn of the event loop and one consistent view.
   */
  #sqliteRead(db: SqliteDatabase): (sql: string, params: unknown[]) => Promise<ThreadEntry[]> {
    return (sql, params) =>
      db.exclusive(() => {
        const rows = db.statement(sql).all(...params) as Row[]
        if (rows.length === 0) return []
        const writes = db.statement(`SELECT task_id, idx, task_path, channel, type, data FROM ${this.#writes} WHERE checkpoint_id = ?`)
        const value = db.statement(`SELECT type, data FROM ${this.#values} WHERE trace_id = ? AND namespace = ? AND channel = ? AND version = ?`)
        const out: ThreadEntry[] = []
        for (const r of rows) {
          const ws = (writes.all(r.id) as { task_id: string; idx: number; task_path: string; channel: string; type: string; data: Uint8Array }[]).map(
            (w): ThreadWrite => ({ taskId: w.task_id, taskPath: w.task_path, idx: w.idx, channel: w.channel, value: { type: w.type, data: asBytes(w.data) } }),
          )
          const e = this.#entry(r, ws, ([t, ns], channel, version) => {
            const v = value.get(t, ns, channel, version) as { type: string; data: Uint8Array } | undefined
            return v && { type: v.type, data: asBytes(v.data) }
          })
          if (e) out.push(e)
        }
        return out
      })
  }

  /** PostgreSQL: two round trips whatever the page size: the rows with their writes, then every value they name. */
  async #postgresRead(sql: string, params: unknown[]): Promise<ThreadEntry[]> {
    const rows = await this.#db.all<PgRow>(
      sql.replace(
        'SELECT seq,',
        `SELECT (SELECT json_agg(json_build_array(w.task_id, w.idx, w.task_path, w.channel, w.type, encode(w.data, 'base64')))
           FROM ${this.#writes} w WHERE w.checkpoint_id = c.id) AS writes, seq,`,
      ),
      params,
    )
    if (rows.length === 0) return []
    const wanted = new Map<string, [string, string, string, string]>()
    const pending: { row: PgRow; writes: ThreadWrite[] }[] = []
    for (const row of rows) {
      const writes = (row.writes ?? []).map(
        ([taskId, idx, taskPath, channel, type, data]): ThreadWrite => ({ taskId, idx, taskPath, channel, value: { type, data: Buffer.from(data, 'base64') } }),
      )
      pending.push({ row, writes })
      // A first pass only collects the addresses; #entry is run again below with the values found.
      this.#entry(row, [], ([t, ns], channel, version) => {
        wanted.set(JSON.stringify([t, ns, channel, version]), [t, ns, channel, version])
        return undefined
      })
    }
    const found = new Map<string, TypedValue>()
    if (wanted.size > 0) {
      const list = [...wanted.values()]
      const values = await this.#db.all<{ i: string | number; type: string; data: Uint8Array }>(
        `SELECT a.i, v.type, v.data FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS a(t, ns, ch, ver, i)
         JOIN ${this.#values} v ON v.trace_id = a.t AND v.namespace = a.ns AND v.channel = a.ch AND v.version = a.ver`,
        [list.map((a) => a[0]), list.map((a) => a[1]), list.map((a) => a[2]), list.map((a) => a[3])],
      )
      for (const v of values) found.set(JSON.stringify(list[Number(v.i) - 1]), { type: v.type, data: asBytes(v.data) })
    }
    const out: ThreadEntry[] = []
    for (const { row, writes } of pending) {
      const e = this.#entry(row, writes, ([t, ns], channel, version) => found.get(JSON.stringify([t, ns, channel, version])))
      if (e) out.push(e)
    }
    return out
  }

  async deleteThread(threadId: string): Promise<boolean> {
    this.#life.check()
    assertKey('threadId', threadId)
    const [low, high] = threadRange(threadId)
    return this.#db.transaction(async (tx) => {
      const n = await tx.run(`DELETE FROM ${this.#t} WHERE trace_id = ? AND id >= ? AND id < ?`, [threadId, low, high])
      await tx.run(`DELETE FROM ${this.#values} WHERE trace_id = ?`, [threadId])
      await tx.run(`DELETE FROM ${this.#writes} WHERE checkpoint_id >= ? AND checkpoint_id < ?`, [low, high])
      return n > 0
    })
  }
}
