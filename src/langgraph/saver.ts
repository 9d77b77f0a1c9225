import type { RunnableConfig } from '@langchain/core/runnables'
import {
  BaseCheckpointSaver,
  JsonPlusSerializer,
  TASKS,
  WRITES_IDX_MAP,
  getCheckpointId,
  maxChannelVersion,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
} from '@langchain/langgraph-checkpoint'
import type { ThreadEntry, ThreadWrite, TypedValue } from '../checkpoints/thread-types.js'
import { InvalidArgumentError } from '../errors.js'
import type { Store } from '../store.js'
import { describe } from '../validate.js'

/** Rows fetched per query while {@link HoldfastSaver.list} pages. */
const PAGE = 100

interface Coordinates {
  threadId: string
  namespace: string
}

/**
 * A copy of `o` without `key`, by a loop: V8's object rest and `{ ...o, more }` literals take a slow path here (~1 µs
 * against ~0.1 for this, on every put and read).
 */
function without(o: object, key: string): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k in o) if (k !== key && Object.hasOwn(o, k)) out[k] = (o as Record<string, unknown>)[k]
  return out
}

/**
 * LangGraph's checkpointer on a Holdfast store (`@langchain/langgraph-checkpoint`'s `BaseCheckpointSaver`): a thread
 * is a trace of the checkpoint store, each checkpoint one of its checkpoints, whose row holds its whole state (the
 * channel values it wrote and those it kept from its parent); pending writes are stored with their checkpoint. Every
 * method resolves once its write is durable (a shared commit for concurrent calls).
 *
 * @example
 * ```ts
 * const graph = builder.compile({ checkpointer: new HoldfastSaver(await openStore('agents.db')) })
 * ```
 */
export class HoldfastSaver extends BaseCheckpointSaver {
  /** The store it keeps threads in; closing it is the caller's. */
  readonly store: Store
  /** LangGraph's own serializer, whose JSON needs reviving only where it holds an `"lc"` key. */
  readonly #stockSerde: boolean

  /** @param store - an open Holdfast store; @param serde - LangGraph's serializer for channel values and writes (its default when absent) */
  constructor(store: Store, serde?: SerializerProtocol) {
    super(serde)
    this.store = store
    this.#stockSerde = this.serde.constructor === JsonPlusSerializer
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    const c = coordinates(config, false)
    if (c === undefined) return undefined
    const entry = await this.store.threads.get(c.threadId, c.namespace, getCheckpointId(config) || undefined)
    return entry === null ? undefined : this.#tuple(entry)
  }

  async *list(config: RunnableConfig, options?: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const { limit, before, filter } = options ?? {}
    const configurable = config.configurable ?? {}
    const threadId = configurable.thread_id === undefined ? undefined : threadText(configurable.thread_id)
    const namespace = configurable.checkpoint_ns as string | undefined
    const checkpointId = getCheckpointId(config) || undefined
    const beforeId = (before?.configurable?.checkpoint_id as string | undefined) || undefined
    let left = limit ?? Infinity
    for (let olderThan: number | undefined; left > 0; ) {
      const size = Math.min(left, PAGE)
      const entries = await this.store.threads.list({ threadId, namespace, checkpointId, before: beforeId, filter, olderThan, limit: size })
      for (const e of entries) yield await this.#tuple(e)
      if (entries.length < size) return
      left -= entries.length
      olderThan = entries[entries.length - 1]!.seq
    }
  }

  async put(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<RunnableConfig> {
    const { threadId, namespace } = coordinates(config, true)!
    const channelValues = checkpoint.channel_values
    const rest = without(checkpoint, 'channel_values')
    // The serializer's own promises, awaited together: no async closure per channel on this hot path.
    const channels: string[] = []
    const dumps: Promise<[string, Uint8Array]>[] = []
    for (const channel in newVersions)
      if (Object.hasOwn(newVersions, channel) && Object.hasOwn(channelValues, channel)) {
        channels.push(channel)
        dumps.push(this.serde.dumpsTyped(channelValues[channel]))
      }
    const dumped = await Promise.all(dumps)
    const values = channels.map((channel, i) => ({ channel, version: newVersions[channel]!, value: { type: dumped[i]![0], data: dumped[i]![1] } }))
    const ts = Date.parse(checkpoint.ts)
    await this.store.threads.put({
      threadId,
      namespace,
      checkpointId: checkpoint.id,
      parentId: (config.configurable?.checkpoint_id as string | undefined) || null,
      checkpoint: rest,
      metadata: metadata as Record<string, unknown>,
      createdAt: Number.isFinite(ts) && ts >= 0 ? ts : undefined,
      values,
    })
    return { configurable: { thread_id: threadId, checkpoint_ns: namespace, checkpoint_id: checkpoint.id } }
  }

  async putWrites(config: RunnableConfig, writes: PendingWrite[], taskId: string, taskPath = ''): Promise<void> {
    const { threadId, namespace } = coordinates(config, true)!
    const checkpointId = getCheckpointId(config)
    if (!checkpointId) throw new InvalidArgumentError('putWrites needs config.configurable.checkpoint_id (the checkpoint the task ran from)')
    const rows: ThreadWrite[] = await Promise.all(
      writes.map(async ([channel, value], i) => ({ taskId, taskPath, idx: WRITES_IDX_MAP[channel] ?? i, channel, value: await this.#dump(value) })),
    )
    await this.store.threads.putWrites({ threadId, namespace, checkpointId }, rows)
  }

  async deleteThread(threadId: string): Promise<void> {
    await this.store.threads.deleteThread(threadText(threadId))
  }

  async #dump(value: unknown): Promise<TypedValue> {
    const [type, data] = await this.serde.dumpsTyped(value)
    return { type, data }
  }

  /**
   * A stored value, deserialized. JsonPlusSerializer revives only objects with an `lc` key (LangChain objects,
   * constructors, `undefined`, delta snapshots), one awaited step per node; JSON without one parses to the same value.
   */
  #load(v: TypedValue): unknown {
    if (v.type !== 'json' || !this.#stockSerde) return this.serde.loadsTyped(v.type, v.data) as Promise<unknown>
    const text = Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('utf8')
    return text.includes('"lc"') ? (this.serde.loadsTyped('json', text) as Promise<unknown>) : (JSON.parse(text) as unknown)
  }

  /** An entry made a tuple: its channel values and writes deserialized (without a turn of the loop when none needs one). */
  #tuple(e: ThreadEntry): CheckpointTuple | Promise<CheckpointTuple> {
    const channels = Object.keys(e.values)
    const loaded = [...channels.map((c) => this.#load(e.values[c]!)), ...e.writes.map((w) => this.#load(w.value))]
    const build = (values: unknown[]): CheckpointTuple | Promise<CheckpointTuple> => {
      const channelValues: Record<string, unknown> = {}
      channels.forEach((c, i) => (channelValues[c] = values[i]))
      const checkpoint = without(e.checkpoint, 'channel_values') as unknown as Checkpoint
      checkpoint.channel_values = channelValues
      const tuple: CheckpointTuple = {
        config: { configurable: { thread_id: e.threadId, checkpoint_ns: e.namespace, checkpoint_id: e.checkpointId } },
        checkpoint,
        metadata: e.metadata as CheckpointMetadata,
        pendingWrites: e.writes.map((w, i): CheckpointPendingWrite => [w.taskId, w.channel, values[channels.length + i]]),
      }
      if (e.parentId !== null) tuple.parentConfig = { configurable: { thread_id: e.threadId, checkpoint_ns: e.namespace, checkpoint_id: e.parentId } }
      return checkpoint.v < 4 && e.parentId !== null ? this.#migratePendingSends(checkpoint, e).then(() => tuple) : tuple
    }
    return loaded.some((v) => v instanceof Promise) ? Promise.all(loaded).then(build) : build(loaded)
  }

  /** Checkpoints before format 4 kept sends as the parent's writes to TASKS; format 4 keeps them as a channel. */
  async #migratePendingSends(checkpoint: Checkpoint, e: ThreadEntry): Promise<void> {
    const parent = await this.store.threads.get(e.threadId, e.namespace, e.parentId!)
    const sends = await Promise.all((parent?.writes ?? []).filter((w) => w.channel === TASKS).map((w) => this.#load(w.value)))
    checkpoint.channel_values[TASKS] = sends
    const versions = Object.values(checkpoint.channel_versions)
    checkpoint.channel_versions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined)
  }
}

/** The thread and namespace of a config; `undefined` without a thread unless `required`, which throws instead. */
function coordinates(config: RunnableConfig, required: boolean): Coordinates | undefined {
  const c = config.configurable
  if (c?.thread_id === undefined || c.thread_id === null) {
    if (!required) return undefined
    throw new InvalidArgumentError(
      'the config has no configurable.thread_id: a checkpointer needs a thread, e.g. graph.invoke(input, { configurable: { thread_id: "t-1" } })',
    )
  }
  const namespace: unknown = c.checkpoint_ns ?? ''
  if (typeof namespace !== 'string') throw new InvalidArgumentError(`configurable.checkpoint_ns must be a string, got ${describe(namespace)}`)
  return { threadId: threadText(c.thread_id), namespace }
}

/** Thread ids are text; LangGraph users sometimes pass numbers. */
function threadText(id: unknown): string {
  if (typeof id === 'string') return id
  if (typeof id === 'number' && Number.isFinite(id)) return String(id)
  throw new InvalidArgumentError(`configurable.thread_id must be a string, got ${describe(id)}`)
}
