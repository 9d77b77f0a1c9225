import type { Migration } from '../sql/database.js'

/** Checkpoints by id, ordered within a trace by `seq` (assigned at first save). */
export const checkpointsSchema: Migration = {
  name: 'checkpoint store',
  sqlite: (t) => [
    `CREATE TABLE ${t('checkpoints')} (
      seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, trace_id TEXT NOT NULL, state BLOB NOT NULL, metadata TEXT NOT NULL,
      parent_id TEXT, created_at INTEGER NOT NULL
    )`,
    `CREATE INDEX ${t('checkpoints_by_trace')} ON ${t('checkpoints')} (trace_id, seq)`,
  ],
  postgres: (t) => [
    `CREATE TABLE ${t('checkpoints')} (
      seq BIGINT GENERATED ALWAYS AS IDENTITY, id TEXT COLLATE "C" PRIMARY KEY, trace_id TEXT COLLATE "C" NOT NULL,
      state BYTEA NOT NULL, metadata TEXT NOT NULL, parent_id TEXT COLLATE "C", created_at BIGINT NOT NULL
    )`,
    `CREATE INDEX checkpoints_by_trace ON ${t('checkpoints')} (trace_id, seq)`,
  ],
}

/**
 * Threads (LangGraph's shape) on the checkpoint store: a thread checkpoint's channel values in its own row (a
 * container, see `thread-values.ts`), so a read is one row; pending writes by (checkpoint, task, index), WITHOUT ROWID
 * on SQLite (one b-tree, fewer pages per commit).
 */
export const checkpointThreadsSchema: Migration = {
  name: 'checkpoint threads',
  sqlite: (t) => [
    `ALTER TABLE ${t('checkpoints')} ADD COLUMN channel_values BLOB`,
    `CREATE TABLE ${t('checkpoint_writes')} (
      checkpoint_id TEXT NOT NULL, task_id TEXT NOT NULL, idx INTEGER NOT NULL, task_path TEXT NOT NULL, channel TEXT NOT NULL,
      type TEXT NOT NULL, data BLOB NOT NULL, PRIMARY KEY (checkpoint_id, task_id, idx)
    ) WITHOUT ROWID`,
  ],
  postgres: (t) => [
    `ALTER TABLE ${t('checkpoints')} ADD COLUMN channel_values BYTEA`,
    `CREATE TABLE ${t('checkpoint_writes')} (
      checkpoint_id TEXT COLLATE "C" NOT NULL, task_id TEXT COLLATE "C" NOT NULL, idx INTEGER NOT NULL,
      task_path TEXT COLLATE "C" NOT NULL, channel TEXT NOT NULL, type TEXT NOT NULL, data BYTEA NOT NULL,
      PRIMARY KEY (checkpoint_id, task_id, idx)
    )`,
  ],
}
