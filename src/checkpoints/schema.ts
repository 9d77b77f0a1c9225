import type { Migration } from '../sql/migrations.js'

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
