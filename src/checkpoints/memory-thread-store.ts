import type { Lifecycle } from '../lifecycle.js'
import { assertKey, copyBytes } from '../validate.js'
import type { MemoryCheckpointStore } from './memory-checkpoint-store.js'
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
} from './thread-validate.js'
import { currentValues, resolveValues, type ValueMap } from './thread-values.js'

const copy = (v: TypedValue): TypedValue => ({ type: v.type, data: copyBytes(v.data) })
const copyWrite = (w: ThreadWrite): ThreadWrite => ({ ...w, value: copy(w.value) })

/** The reference model of {@link ThreadStore}, on the memory checkpoint store. */
export class MemoryThreadStore implements ThreadStore {
  readonly #life: Lifecycle
  readonly #checkpoints: MemoryCheckpointStore
  /** Each thread checkpoint's values, by its checkpoint store id. */
  readonly #values = new Map<string, ValueMap>()
  /** By checkpoint id, then by JSON [task, index]. */
  readonly #writes = new Map<string, Map<string, ThreadWrite>>()

  /** @param life - the owning store's lifecycle; @param checkpoints - the memory checkpoint store */
  constructor(life: Lifecycle, checkpoints: MemoryCheckpointStore) {
    this.#life = life
    this.#checkpoints = checkpoints
  }

  async put(checkpoint: ThreadCheckpointInput): Promise<void> {
    this.#life.check()
    const c = checkThreadCheckpoint(checkpoint)
    const key = threadKey(c.threadId, c.namespace, c.checkpointId)
    const parentKey = c.parentId === null ? null : threadKey(c.threadId, c.namespace, c.parentId)
    const parent = parentKey === null ? null : (this.#values.get(parentKey) ?? null)
    const values = resolveValues(c.checkpoint, c.values, parent)
    this.#checkpoints.save(c.threadId, {
      id: key,
      state: c.checkpoint,
      metadata: c.metadata,
      parentId: parentKey,
      ...(c.createdAt === undefined ? {} : { createdAt: c.createdAt }),
    })
    this.#values.set(key, new Map([...values].map(([channel, v]) => [channel, { version: v.version, value: copy(v.value) }])))
  }

  async putWrites(address: ThreadAddress, writes: ThreadWrite[]): Promise<void> {
    this.#life.check()
    const a = checkAddress(address)
    const checked = checkWrites(writes)
    const key = threadKey(a.threadId, a.namespace, a.checkpointId)
    let stored = this.#writes.get(key)
    if (stored === undefined) this.#writes.set(key, (stored = new Map()))
    for (const w of checked) {
      const k = JSON.stringify([w.taskId, w.idx])
      if (w.idx < 0 || !stored.has(k)) stored.set(k, copyWrite(w))
    }
  }

  async get(threadId: string, namespace: string, checkpointId?: string): Promise<ThreadEntry | null> {
    this.#life.check()
    assertKey('threadId', threadId)
    assertNamespace('namespace', namespace)
    if (checkpointId !== undefined) assertKey('checkpointId', checkpointId)
    const [entry] = this.#match({ threadId, namespace, checkpointId, limit: 1 })
    return entry ?? null
  }

  async list(query?: ThreadQuery): Promise<ThreadEntry[]> {
    this.#life.check()
    return this.#match(checkThreadQuery(query))
  }

  #match(q: ThreadQuery & { limit: number }): ThreadEntry[] {
    const out: ThreadEntry[] = []
    for (const { traceId, seq, checkpoint } of this.#checkpoints.scan()) {
      const address = parseThreadKey(checkpoint.id)
      if (address === null || address[0] !== traceId) continue
      const [threadId, namespace, checkpointId] = address
      if (q.threadId !== undefined && threadId !== q.threadId) continue
      if (q.namespace !== undefined && namespace !== q.namespace) continue
      if (q.checkpointId !== undefined && checkpointId !== q.checkpointId) continue
      if (q.before !== undefined && !(Buffer.compare(Buffer.from(checkpointId), Buffer.from(q.before)) < 0)) continue
      if (q.olderThan !== undefined && seq >= q.olderThan) continue
      if (!matchesFilter(checkpoint.metadata, q.filter)) continue
      const state = checkpoint.state as Record<string, unknown>
      const values = Object.fromEntries(Object.entries(currentValues(state, this.#values.get(checkpoint.id) ?? new Map())).map(([ch, v]) => [ch, copy(v)]))
      out.push({
        threadId,
        namespace,
        checkpointId,
        seq,
        parentId: checkpoint.parentId === null ? null : (parseThreadKey(checkpoint.parentId)?.[2] ?? null),
        checkpoint: state,
        values,
        metadata: checkpoint.metadata,
        createdAt: checkpoint.createdAt,
        writes: sortWrites([...(this.#writes.get(checkpoint.id)?.values() ?? [])].map(copyWrite)),
      })
    }
    return out.sort((a, b) => b.seq - a.seq).slice(0, q.limit)
  }

  async deleteThread(threadId: string): Promise<boolean> {
    this.#life.check()
    assertKey('threadId', threadId)
    let found = false
    for (const { checkpoint } of [...this.#checkpoints.scan()]) {
      if (parseThreadKey(checkpoint.id)?.[0] !== threadId) continue
      found = (await this.#checkpoints.delete(checkpoint.id)) || found
    }
    for (const k of this.#values.keys()) if (parseThreadKey(k)?.[0] === threadId) this.#values.delete(k)
    for (const k of this.#writes.keys()) if (parseThreadKey(k)?.[0] === threadId) this.#writes.delete(k)
    return found
  }
}
