import { InvalidArgumentError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit, type Outcomes } from '../sql/group-commit.js'
import { isBusy, type SqliteDatabase } from '../sql/sqlite.js'
import { asBytes, assertKey } from '../validate.js'
import type { Checkpoint, CheckpointSerializer, CheckpointStore, StoredCheckpoint, TraceSummary } from './types.js'
import { checkCheckpoint, checkKeep, checkTraceArgs, type CheckedCheckpoint } from './validate.js'

interface Row {
  id: string
  state: Uint8Array
  metadata: string
  parent_id: string | null
  created_at: number | string
}

const COLUMNS = 'id, state, metadata, parent_id, created_at'

/** A checked save waiting for its group commit. */
interface Save extends CheckedCheckpoint {
  traceId: string
  state: Uint8Array
  /** `createdAt`, or the time of the call. */
  at: number
  /** A thread checkpoint's channel values (see {@link SqlThreadStore}); `null` for the rest. */
  values: Uint8Array | null
}

/**
 * Other work committed in the transaction of a flush of saves (SQLite): a thread's pending writes, so that writes and
 * a checkpoint made together (as a LangGraph superstep makes them) share one commit, one fsync. `run` throws to fail
 * itself only; it runs inside the flush's transaction or, alone, as its own.
 * @internal
 */
export interface Rider {
  readonly run: () => void
}

/** What a flush commits: saves, and riders. */
type Job = Save | Rider

/**
 * The checkpoint store on any {@link SqlDatabase}. `seq` (a rowid on SQLite, an identity on PostgreSQL) is assigned
 * at first save and kept by re-saves, so a trace's order is the order of first saves, never the clock.
 */
export class SqlCheckpointStore implements CheckpointStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #serializer: CheckpointSerializer
  readonly #t: string

  /** Concurrent saves share one commit (one fsync), as appends do. */
  readonly #saves: GroupCommit<Job>
  /** Insert, or replace in place (keeping seq, and createdAt unless given) only within the same trace. */
  readonly #upsert: string

  /** @param db - the database; @param life - the store's lifecycle; @param serializer - turns states into bytes */
  constructor(db: SqlDatabase, life: Lifecycle, serializer: CheckpointSerializer) {
    this.#db = db
    this.#life = life
    this.#serializer = serializer
    this.#t = db.table('checkpoints')
    this.#upsert = `INSERT INTO ${this.#t} (id, trace_id, state, metadata, parent_id, created_at, channel_values) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET state = excluded.state, metadata = excluded.metadata, parent_id = excluded.parent_id,
         channel_values = excluded.channel_values,
         created_at = CASE WHEN ? = 1 THEN excluded.created_at ELSE ${this.#t}.created_at END
       WHERE ${this.#t}.trace_id = excluded.trace_id`
    this.#saves = new GroupCommit<Job>(
      counted(life, db.engine === 'sqlite' ? this.#sqliteBatch(db as SqliteDatabase) : (saves) => this.#postgresBatch(saves as Save[])),
      { maxItems: 256, metrics: life.metrics.commits.checkpoints },
    )
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

  saveWithTrace(traceId: string, checkpoint: Checkpoint): Promise<void> {
    return this.saveWithValues(traceId, checkpoint, null)
  }

  /**
   * {@link saveWithTrace} with a thread checkpoint's channel values in the same row.
   * @internal The write path of {@link SqlThreadStore}.
   */
  saveWithValues(traceId: string, checkpoint: Checkpoint, values: Uint8Array | null): Promise<void> {
    // Not `async`: the caller awaits the commit's own promise, one hop fewer on every save.
    try {
      this.#life.check()
      return this.submitChecked(traceId, checkCheckpoint(traceId, checkpoint, this.#serializer), values)
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  /**
   * Checks a save and serialises its state and metadata, now: what {@link submitChecked} takes later.
   * @internal The write path of {@link SqlThreadStore}, which may read a parent's values in between.
   */
  check(traceId: string, checkpoint: Checkpoint): CheckedCheckpoint {
    return checkCheckpoint(traceId, checkpoint, this.#serializer)
  }

  /**
   * Queues a save made by {@link check} (`traceId` already checked with it) for the next group commit.
   * @internal The write path of {@link SqlThreadStore}.
   */
  submitChecked(traceId: string, c: CheckedCheckpoint, values: Uint8Array | null): Promise<void> {
    try {
      this.#life.check()
      // Spelled out, not spread: see `checkThreadCheckpoint`.
      return this.#saves.submit({ id: c.id, metadata: c.metadata, parentId: c.parentId, createdAt: c.createdAt, traceId, state: c.state, at: c.createdAt ?? Date.now(), values })
    } catch (err) {
      return Promise.reject(err as Error)
    }
  }

  /**
   * Commits `rider` with the next flush of saves. SQLite only: PostgreSQL's flushes are single statements.
   * @internal The write path of {@link SqlThreadStore.putWrites}.
   */
  commitWith(rider: Rider): Promise<void> {
    return this.#saves.submit(rider, true)
  }

  /** Resolves when no save is queued. */
  close(): Promise<void> {
    return this.#saves.idle()
  }

  #refused(s: Save, owner: string | undefined): Error {
    return new InvalidArgumentError(`checkpoint ${JSON.stringify(s.id)} belongs to trace ${JSON.stringify(owner)}, not ${JSON.stringify(s.traceId)}`)
  }

  /** SQLite: the batch's upserts in one transaction; an upsert refused by the trace guard fails only its caller. */
  #sqliteBatch(db: SqliteDatabase): (jobs: Job[]) => Outcomes | Promise<Outcomes> {
    const run = (): ((j: Job) => Error | undefined) => {
      const upsert = db.statement(this.#upsert)
      const owner = db.statement(`SELECT trace_id FROM ${this.#t} WHERE id = ?`).pluck()
      return (j) => {
        if ('run' in j) {
          try {
            j.run()
            return undefined
          } catch (err) {
            // Alone, outside a transaction, a locked database is retried whole (see SqliteDatabase.exclusive).
            if (isBusy(err) && !db.db.inTransaction) throw err
            return db.error(err) as Error
          }
        }
        return upsert.run(j.id, j.traceId, j.state, j.metadata, j.parentId, j.at, j.values, j.createdAt === undefined ? 0 : 1).changes === 0
          ? this.#refused(j, owner.get(j.id) as string | undefined)
          : undefined
      }
    }
    // A lone job is its own transaction, without a BEGIN and a COMMIT to run: a save is one statement.
    return (jobs) => (jobs.length === 1 ? db.exclusiveNow(() => [run()(jobs[0]!)]) : db.immediate(() => jobs.map(run())))
  }

  /**
   * PostgreSQL: one statement per batch, rows in arrival order (so `seq` follows it), each id once per statement
   * (an upsert may touch a row only once); the ids it returns are the saves that went in.
   */
  async #postgresBatch(saves: Save[]): Promise<(Error | undefined)[]> {
    if (saves.length === 1) {
      const s = saves[0]!
      const changed = await this.#db.run(this.#upsert, [s.id, s.traceId, s.state, s.metadata, s.parentId, s.at, s.values, s.createdAt === undefined ? 0 : 1])
      return [changed === 0 ? await this.#refusal(s) : undefined]
    }
    const outcomes: (Error | undefined)[] = []
    for (let start = 0; start < saves.length; ) {
      const seen = new Set<string>()
      let end = start
      while (end < saves.length && !seen.has(saves[end]!.id)) seen.add(saves[end++]!.id)
      const part = saves.slice(start, end)
      const rows = await this.#db.all<{ id: string }>(
        `WITH input AS (
           SELECT * FROM unnest(?::text[], ?::text[], ?::bytea[], ?::text[], ?::text[], ?::bigint[], ?::bytea[], ?::int[]) WITH ORDINALITY
             AS t(id, trace_id, state, metadata, parent_id, created_at, channel_values, explicit, n))
         INSERT INTO ${this.#t} (id, trace_id, state, metadata, parent_id, created_at, channel_values)
         SELECT id, trace_id, state, metadata, parent_id, created_at, channel_values FROM input ORDER BY n
         ON CONFLICT (id) DO UPDATE SET state = excluded.state, metadata = excluded.metadata, parent_id = excluded.parent_id,
           channel_values = excluded.channel_values,
           created_at = CASE WHEN (SELECT explicit FROM input WHERE input.id = excluded.id) = 1 THEN excluded.created_at ELSE ${this.#t}.created_at END
         WHERE ${this.#t}.trace_id = excluded.trace_id
         RETURNING id`,
        [
          part.map((s) => s.id),
          part.map((s) => s.traceId),
          part.map((s) => s.state),
          part.map((s) => s.metadata),
          part.map((s) => s.parentId),
          part.map((s) => s.at),
          part.map((s) => s.values),
          part.map((s) => (s.createdAt === undefined ? 0 : 1)),
        ],
      )
      const saved = new Set(rows.map((r) => r.id))
      for (const s of part) outcomes.push(saved.has(s.id) ? undefined : await this.#refusal(s))
      start = end
    }
    return outcomes
  }

  async #refusal(s: Save): Promise<Error> {
    const [row] = await this.#db.all<{ trace_id: string }>(`SELECT trace_id FROM ${this.#t} WHERE id = ?`, [s.id])
    return this.#refused(s, row?.trace_id)
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

/** `flush`, counting the saves it committed (riders are not checkpoints) in the store's figures. */
function counted(life: Lifecycle, flush: (jobs: Job[]) => Outcomes | Promise<Outcomes>): (jobs: Job[]) => Outcomes | Promise<Outcomes> {
  const count = (jobs: Job[], outcomes: Outcomes): Outcomes => {
    for (let i = 0; i < jobs.length; i++) if (outcomes[i] === undefined && !('run' in jobs[i]!)) life.metrics.checkpointsSaved++
    return outcomes
  }
  return (jobs) => {
    const outcomes = flush(jobs)
    return outcomes instanceof Promise ? outcomes.then((o) => count(jobs, o)) : count(jobs, outcomes)
  }
}
