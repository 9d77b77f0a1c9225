import { InvalidArgumentError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { asBytes, assertKey } from '../validate.js'
import type { Checkpoint, CheckpointSerializer, CheckpointStore, StoredCheckpoint, TraceSummary } from './types.js'
import { checkCheckpoint, checkKeep, checkSerialized, checkTraceArgs } from './validate.js'

interface Row {
  id: string
  state: Uint8Array
  metadata: string
  parent_id: string | null
  created_at: number | string
}

const COLUMNS = 'id, state, metadata, parent_id, created_at'

/**
 * The checkpoint store on any {@link SqlDatabase}. `seq` (a rowid on SQLite, an identity on PostgreSQL) is assigned
 * at first save and kept by re-saves, so a trace's order is the order of first saves, never the clock.
 */
export class SqlCheckpointStore implements CheckpointStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #serializer: CheckpointSerializer
  readonly #t: string

  /** @param db - the database; @param life - the store's lifecycle; @param serializer - turns states into bytes */
  constructor(db: SqlDatabase, life: Lifecycle, serializer: CheckpointSerializer) {
    this.#db = db
    this.#life = life
    this.#serializer = serializer
    this.#t = db.table('checkpoints')
  }

  #load(r: Row): StoredCheckpoint {
    return {
      id: r.id,
      state: this.#serializer.deserialize(asBytes(r.state)),
      metadata: JSON.parse(r.metadata) as Record<string, unknown>,
      parentId: r.parent_id,
      createdAt: Number(r.created_at),
    }
  }

  async saveWithTrace(traceId: string, checkpoint: Checkpoint): Promise<void> {
    this.#life.check()
    const c = checkCheckpoint(traceId, checkpoint)
    const state = checkSerialized(this.#serializer.serialize(checkpoint.state))
    // One statement: insert, or replace in place (keeping seq, and createdAt unless given) only within the same trace.
    const changed = await this.#db.run(
      `INSERT INTO ${this.#t} (id, trace_id, state, metadata, parent_id, created_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, metadata = excluded.metadata, parent_id = excluded.parent_id,
         created_at = CASE WHEN ? = 1 THEN excluded.created_at ELSE ${this.#t}.created_at END
       WHERE ${this.#t}.trace_id = excluded.trace_id`,
      [c.id, traceId, state, c.metadata, c.parentId, c.createdAt ?? Date.now(), c.createdAt === undefined ? 0 : 1],
    )
    if (changed === 0) {
      const [row] = await this.#db.all<{ trace_id: string }>(`SELECT trace_id FROM ${this.#t} WHERE id = ?`, [c.id])
      throw new InvalidArgumentError(`checkpoint ${JSON.stringify(c.id)} belongs to trace ${JSON.stringify(row?.trace_id)}, not ${JSON.stringify(traceId)}`)
    }
  }

  async load(id: string): Promise<StoredCheckpoint | null> {
    this.#life.check()
    assertKey('id', id)
    const [r] = await this.#db.all<Row>(`SELECT ${COLUMNS} FROM ${this.#t} WHERE id = ?`, [id])
    return r ? this.#load(r) : null
  }

  async loadLatest(traceId: string): Promise<StoredCheckpoint | null> {
    this.#life.check()
    assertKey('traceId', traceId)
    const [r] = await this.#db.all<Row>(`SELECT ${COLUMNS} FROM ${this.#t} WHERE trace_id = ? ORDER BY seq DESC LIMIT 1`, [traceId])
    return r ? this.#load(r) : null
  }

  async list(traceId: string): Promise<string[]> {
    this.#life.check()
    assertKey('traceId', traceId)
    return (await this.#db.all<{ id: string }>(`SELECT id FROM ${this.#t} WHERE trace_id = ? ORDER BY seq`, [traceId])).map((r) => r.id)
  }

  async delete(id: string): Promise<boolean> {
    this.#life.check()
    assertKey('id', id)
    return (await this.#db.run(`DELETE FROM ${this.#t} WHERE id = ?`, [id])) > 0
  }

  async prune(traceId: string, keep: number): Promise<number> {
    this.#life.check()
    assertKey('traceId', traceId)
    checkKeep(keep)
    return this.#db.run(
      `DELETE FROM ${this.#t} WHERE trace_id = ? AND seq NOT IN (SELECT seq FROM ${this.#t} WHERE trace_id = ? ORDER BY seq DESC LIMIT ?)`,
      [traceId, traceId, keep],
    )
  }

  async listTraces(args?: { limit?: number; after?: string }): Promise<TraceSummary[]> {
    this.#life.check()
    const { limit, after } = checkTraceArgs(args)
    const rows = await this.#db.all<{ trace_id: string; n: number | string; latest: number | string }>(
      `SELECT trace_id, count(*) AS n, max(created_at) AS latest FROM ${this.#t}${after === undefined ? '' : ' WHERE trace_id > ?'}
       GROUP BY trace_id ORDER BY trace_id LIMIT ?`,
      after === undefined ? [limit] : [after, limit],
    )
    return rows.map((r) => ({ traceId: r.trace_id, count: Number(r.n), latestAt: Number(r.latest) }))
  }
}
