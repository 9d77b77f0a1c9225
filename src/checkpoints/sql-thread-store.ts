import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit } from '../sql/group-commit.js'
import type { SqliteDatabase } from '../sql/sqlite.js'
import { asBytes, assertKey } from '../validate.js'
import type { SqlCheckpointStore } from './sql-checkpoint-store.js'
import type { CheckpointSerializer } from './types.js'
import type { ThreadAddress, ThreadCheckpointInput, ThreadEntry, ThreadQuery, ThreadStore, ThreadWrite, TypedValue, ValueAddress } from './thread-types.js'
import {
  assertNamespace,
  checkAddress,
  checkThreadCheckpoint,
  checkThreadQuery,
  checkValueAddresses,
  checkWrites,
  matchesFilter,
  parseThreadKey,
  sortWrites,
  threadKey,
  threadRange,
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

interface WriteRow {
  checkpoint_id: string
  task_id: string
  idx: number
  task_path: string
  channel: string
  type: string
  data: Uint8Array
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
      c.values.map((v) => ({ namespace: c.namespace, channel: v.channel, version: v.version, type: v.value.type, data: v.value.data })),
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
    const cols = 'seq, id, state, metadata, parent_id, created_at'
    let rows: Row[]
    if (checkpointId !== undefined) {
      rows = await this.#db.all<Row>(`SELECT ${cols} FROM ${this.#t} WHERE id = ? AND trace_id = ?`, [threadKey(threadId, namespace, checkpointId), threadId])
    } else {
      const [low, high] = threadRange(threadId, namespace)
      rows = await this.#db.all<Row>(`SELECT ${cols} FROM ${this.#t} WHERE trace_id = ? AND id >= ? AND id < ? ORDER BY seq DESC LIMIT 1`, [
        threadId,
        low,
        high,
      ])
    }
    const [entry] = await this.#entries(rows)
    return entry ?? null
  }

  async list(query?: ThreadQuery): Promise<ThreadEntry[]> {
    this.#life.check()
    const q = checkThreadQuery(query)
    const { where, params, exact } = this.#where(q)
    const sql = `SELECT seq, id, state, metadata, parent_id, created_at FROM ${this.#t} WHERE ${where.join(' AND ')} ORDER BY seq DESC LIMIT ?`
    if (exact) return this.#entries(await this.#db.all<Row>(sql, [...params, q.limit]))
    // A filter value SQL cannot compare exactly: page through and match here.
    const out: ThreadEntry[] = []
    for (let olderThan = q.olderThan; out.length < q.limit; ) {
      const rows = await this.#db.all<Row>(sql.replace(' ORDER BY', olderThan === undefined ? ' ORDER BY' : ' AND seq < ? ORDER BY'), [
        ...params,
        ...(olderThan === undefined ? [] : [olderThan]),
        q.limit,
      ])
      for (const e of await this.#entries(rows)) if (out.length < q.limit && matchesFilter(e.metadata, q.filter)) out.push(e)
      if (rows.length < q.limit) break
      olderThan = Number(rows[rows.length - 1]!.seq)
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

  /** Rows made entries, with their pending writes (one query for all). */
  async #entries(rows: Row[]): Promise<ThreadEntry[]> {
    if (rows.length === 0) return []
    const ids = rows.map((r) => r.id)
    const writes =
      this.#db.engine === 'postgres'
        ? await this.#db.all<WriteRow>(`SELECT * FROM ${this.#writes} WHERE checkpoint_id = ANY(?::text[])`, [ids])
        : await this.#db.all<WriteRow>(`SELECT * FROM ${this.#writes} WHERE checkpoint_id IN (${ids.map(() => '?').join(', ')})`, ids)
    const byKey = new Map<string, ThreadWrite[]>()
    for (const w of writes) {
      let list = byKey.get(w.checkpoint_id)
      if (list === undefined) byKey.set(w.checkpoint_id, (list = []))
      list.push({ taskId: w.task_id, taskPath: w.task_path, idx: Number(w.idx), channel: w.channel, value: { type: w.type, data: asBytes(w.data) } })
    }
    const out: ThreadEntry[] = []
    for (const r of rows) {
      const address = parseThreadKey(r.id)
      if (address === null) continue // a plain checkpoint whose id merely looks like a thread's
      const [threadId, namespace, checkpointId] = address
      out.push({
        threadId,
        namespace,
        checkpointId,
        seq: Number(r.seq),
        parentId: r.parent_id === null ? null : (parseThreadKey(r.parent_id)?.[2] ?? null),
        checkpoint: this.#serializer.deserialize(asBytes(r.state)) as Record<string, unknown>,
        metadata: JSON.parse(r.metadata) as Record<string, unknown>,
        createdAt: Number(r.created_at),
        writes: sortWrites(byKey.get(r.id) ?? []),
      })
    }
    return out
  }

  async values(addresses: readonly ValueAddress[]): Promise<(TypedValue | undefined)[]> {
    this.#life.check()
    const wanted = checkValueAddresses(addresses)
    if (wanted.length === 0) return []
    const out: (TypedValue | undefined)[] = new Array<TypedValue | undefined>(wanted.length).fill(undefined)
    const rows =
      this.#db.engine === 'postgres'
        ? await this.#db.all<{ i: number | string; type: string; data: Uint8Array }>(
            `SELECT a.i, v.type, v.data FROM unnest(?::text[], ?::text[], ?::text[], ?::text[]) WITH ORDINALITY AS a(t, ns, ch, ver, i)
             JOIN ${this.#values} v ON v.trace_id = a.t AND v.namespace = a.ns AND v.channel = a.ch AND v.version = a.ver`,
            [wanted.map((w) => w.threadId), wanted.map((w) => w.namespace), wanted.map((w) => w.channel), wanted.map((w) => w.version)],
          )
        : await this.#db.all<{ i: number | string; type: string; data: Uint8Array }>(
            `SELECT a.key + 1 AS i, v.type, v.data FROM json_each(?) a
             JOIN ${this.#values} v ON v.trace_id = a.value ->> 0 AND v.namespace = a.value ->> 1 AND v.channel = a.value ->> 2
               AND v.version = a.value ->> 3`,
            [JSON.stringify(wanted.map((w) => [w.threadId, w.namespace, w.channel, w.version]))],
          )
    for (const r of rows) out[Number(r.i) - 1] = { type: r.type, data: asBytes(r.data) }
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
