import { InvalidArgumentError } from '../errors.js'
import type { Lifecycle } from '../lifecycle.js'
import { assertKey, compareText } from '../validate.js'
import type { Checkpoint, CheckpointSerializer, CheckpointStore, StoredCheckpoint, TraceSummary } from './types.js'
import { checkCheckpoint, checkKeep, checkTraceArgs } from './validate.js'

interface Row {
  id: string
  traceId: string
  seq: number
  state: Uint8Array
  metadata: string
  parentId: string | null
  createdAt: number
}

/** The reference model of the checkpoint store. States go through the serializer, as on the SQL backends. */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly #life: Lifecycle
  readonly #serializer: CheckpointSerializer
  readonly #rows = new Map<string, Row>()
  #seq = 0

  /** @param life - the owning store's lifecycle; @param serializer - turns states into bytes */
  constructor(life: Lifecycle, serializer: CheckpointSerializer) {
    this.#life = life
    this.#serializer = serializer
  }

  #load(r: Row): StoredCheckpoint {
    return { id: r.id, state: this.#serializer.deserialize(r.state), metadata: JSON.parse(r.metadata) as Record<string, unknown>, parentId: r.parentId, createdAt: r.createdAt }
  }

  #trace(traceId: string): Row[] {
    return [...this.#rows.values()].filter((r) => r.traceId === traceId).sort((a, b) => a.seq - b.seq)
  }

  async saveWithTrace(traceId: string, checkpoint: Checkpoint): Promise<void> {
    this.save(traceId, checkpoint)
  }

  /**
   * {@link saveWithTrace}, synchronously, so a caller can store more in the same step.
   * @internal The write path of {@link MemoryThreadStore}.
   */
  save(traceId: string, checkpoint: Checkpoint): void {
    this.#life.check()
    const c = checkCheckpoint(traceId, checkpoint, this.#serializer)
    const old = this.#rows.get(c.id)
    if (old && old.traceId !== traceId)
      throw new InvalidArgumentError(`checkpoint ${JSON.stringify(c.id)} belongs to trace ${JSON.stringify(old.traceId)}, not ${JSON.stringify(traceId)}`)
    this.#rows.set(c.id, { id: c.id, traceId, seq: old?.seq ?? ++this.#seq, state: c.state, metadata: c.metadata, parentId: c.parentId, createdAt: c.createdAt ?? old?.createdAt ?? Date.now() })
    this.#life.metrics.checkpointsSaved++
  }

  /**
   * Every checkpoint with its trace and `seq`, in no order.
   * @internal The read path of {@link MemoryThreadStore}.
   */
  *scan(): Iterable<{ traceId: string; seq: number; checkpoint: StoredCheckpoint }> {
    for (const r of this.#rows.values()) yield { traceId: r.traceId, seq: r.seq, checkpoint: this.#load(r) }
  }

  async load(id: string): Promise<StoredCheckpoint | null> {
    this.#life.check()
    assertKey('id', id)
    const r = this.#rows.get(id)
    return r ? this.#load(r) : null
  }

  async loadLatest(traceId: string): Promise<StoredCheckpoint | null> {
    this.#life.check()
    assertKey('traceId', traceId)
    const rows = this.#trace(traceId)
    return rows.length ? this.#load(rows[rows.length - 1]!) : null
  }

  async list(traceId: string): Promise<string[]> {
    this.#life.check()
    assertKey('traceId', traceId)
    return this.#trace(traceId).map((r) => r.id)
  }

  async delete(id: string): Promise<boolean> {
    this.#life.check()
    assertKey('id', id)
    return this.#rows.delete(id)
  }

  async prune(traceId: string, keep: number): Promise<number> {
    this.#life.check()
    assertKey('traceId', traceId)
    checkKeep(keep)
    const rows = this.#trace(traceId)
    const doomed = rows.slice(0, Math.max(0, rows.length - keep))
    for (const r of doomed) this.#rows.delete(r.id)
    return doomed.length
  }

  async listTraces(args?: { limit?: number; after?: string }): Promise<TraceSummary[]> {
    this.#life.check()
    const { limit, after } = checkTraceArgs(args)
    const traces = new Map<string, TraceSummary>()
    for (const r of this.#rows.values()) {
      const t = traces.get(r.traceId) ?? { traceId: r.traceId, count: 0, latestAt: r.createdAt }
      t.count++
      t.latestAt = Math.max(t.latestAt, r.createdAt)
      traces.set(r.traceId, t)
    }
    return [...traces.values()]
      .filter((t) => after === undefined || compareText(t.traceId, after) > 0)
      .sort((a, b) => compareText(a.traceId, b.traceId))
      .slice(0, limit)
  }
}
