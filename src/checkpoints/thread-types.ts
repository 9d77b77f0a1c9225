/** A value as the graph's own serializer wrote it: a format tag and the bytes. */
export interface TypedValue {
  /** The serializer's format tag (LangGraph's `dumpsTyped` type, e.g. `"json"`). */
  type: string
  /** The serialized value. */
  data: Uint8Array
}

/** The coordinates of one checkpoint of a thread. */
export interface ThreadAddress {
  /** The thread, which is the checkpoint store's trace. */
  threadId: string
  /** The checkpoint namespace (`""` for the root graph, LangGraph's `checkpoint_ns`). */
  namespace: string
  /** Unique within the thread and namespace. */
  checkpointId: string
}

/** A channel's version: LangGraph's are integers by default, any string or number a saver chooses otherwise. */
export type ChannelVersion = string | number

/** A channel value a checkpoint wrote (LangGraph's `newVersions`). */
export interface ChannelValue {
  /** The channel. */
  channel: string
  /** Its version (the number 1 and the string "1" are different versions). */
  version: ChannelVersion
  /** The value. */
  value: TypedValue
}

/** A checkpoint to save. */
export interface ThreadCheckpointInput extends ThreadAddress {
  /** The checkpoint it continues from, in the same thread and namespace. */
  parentId: string | null
  /**
   * Everything about the checkpoint but its channel values, as JSON (the store's checkpoint serializer writes it).
   * Its `channel_versions` (channel → version) names the values a read returns with it.
   */
  checkpoint: Record<string, unknown> & { channel_versions?: Record<string, ChannelVersion> }
  /** Metadata, as JSON; {@link ThreadQuery.filter} matches on its top-level keys. */
  metadata: Record<string, unknown>
  /** Ms since epoch; the time of the call when absent. */
  createdAt?: number
  /**
   * The channel values this checkpoint wrote. The checkpoint also keeps its parent's value of every other channel whose
   * version (in `channel_versions`) it did not change, so each checkpoint holds its whole state.
   */
  values: ChannelValue[]
}

/** A pending write: a task's output attached to the checkpoint it ran from. */
export interface ThreadWrite {
  /** The task. */
  taskId: string
  /** The task's path (LangGraph's `taskPath`), `""` when unknown; writes are ordered by (path, task, index). */
  taskPath: string
  /** The write's index within the task; negative for the special channels, which replace instead of keeping the first. */
  idx: number
  /** The channel written. */
  channel: string
  /** The value. */
  value: TypedValue
}

/** A saved checkpoint with its pending writes, as read. */
export interface ThreadEntry extends ThreadAddress {
  /** The store's order: first save first. */
  seq: number
  /** The checkpoint it continues from, or `null`. */
  parentId: string | null
  /** The checkpoint as saved, without channel values. */
  checkpoint: Record<string, unknown>
  /**
   * Its value of each channel at the version its `channel_versions` names: written by it or carried from its parent;
   * a channel with no value at that version is absent.
   */
  values: Record<string, TypedValue>
  /** The metadata as saved. */
  metadata: Record<string, unknown>
  /** Ms since epoch. */
  createdAt: number
  /** Its pending writes in (task path, task id, index) order, by code point. */
  writes: ThreadWrite[]
}

/** Which checkpoints {@link ThreadStore.list} returns: all that match every given field, newest first. */
export interface ThreadQuery {
  /** Only this thread; every thread when absent. */
  threadId?: string
  /** Only this namespace; every namespace when absent. */
  namespace?: string
  /** Only this checkpoint id. */
  checkpointId?: string
  /** Only checkpoints whose id sorts before this one (LangGraph's `before`). */
  before?: string
  /** Only checkpoints whose metadata has each key with a JSON-equal value. */
  filter?: Record<string, unknown>
  /** Only checkpoints saved before this `seq` (the cursor of the next page). */
  olderThan?: number
  /** At most this many (1 to 10,000; default 100). */
  limit?: number
}

/**
 * Threads on the checkpoint store, in the shape LangGraph's checkpointers need: checkpoints per (thread, namespace)
 * that write only their changed channel values and keep the rest from their parent, and pending writes per checkpoint.
 * A thread is a trace
 * of {@link CheckpointStore}: its checkpoints are listed, pruned and deleted there too, under ids
 * `JSON.stringify([threadId, namespace, checkpointId])`.
 */
export interface ThreadStore {
  /** Saves a checkpoint with its values, atomically; re-saving an id replaces it in place. */
  put(checkpoint: ThreadCheckpointInput): Promise<void>
  /** Adds pending writes to a checkpoint, atomically; an existing (task, index) is kept unless its index is negative. */
  putWrites(address: ThreadAddress, writes: ThreadWrite[]): Promise<void>
  /** One checkpoint, or the newest of the thread and namespace when `checkpointId` is absent; `null` if none. */
  get(threadId: string, namespace: string, checkpointId?: string): Promise<ThreadEntry | null>
  /** One page of the checkpoints that match, newest (last first saved) first. */
  list(query?: ThreadQuery): Promise<ThreadEntry[]>
  /** Deletes the thread's checkpoints, values and writes in every namespace; true if it had any checkpoint. */
  deleteThread(threadId: string): Promise<boolean>
}
