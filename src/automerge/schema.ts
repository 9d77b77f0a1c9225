import type { Migration } from '../sql/database.js'

/**
 * Automerge documents: changes by (document, actor, sequence number), one compacted document each, sync states by
 * (document, peer). Byte columns compare as bytes on both engines, so peers list in byte order.
 */
export const automergeSchema: Migration = {
  name: 'automerge persister',
  sqlite: (t) => [
    // Without rowid: the address is the clustering key, and single-edit changes are small rows.
    `CREATE TABLE ${t('automerge_changes')} (
      doc_id TEXT NOT NULL, actor BLOB NOT NULL, seq INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (doc_id, actor, seq)
    ) WITHOUT ROWID`,
    `CREATE TABLE ${t('automerge_documents')} (doc_id TEXT PRIMARY KEY, data BLOB NOT NULL)`,
    `CREATE TABLE ${t('automerge_sync_states')} (
      doc_id TEXT NOT NULL, peer_id BLOB NOT NULL, data BLOB NOT NULL, PRIMARY KEY (doc_id, peer_id)
    ) WITHOUT ROWID`,
  ],
  postgres: (t) => [
    `CREATE TABLE ${t('automerge_changes')} (
      doc_id TEXT COLLATE "C" NOT NULL, actor BYTEA NOT NULL, seq BIGINT NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (doc_id, actor, seq)
    )`,
    `CREATE TABLE ${t('automerge_documents')} (doc_id TEXT COLLATE "C" PRIMARY KEY, data BYTEA NOT NULL)`,
    `CREATE TABLE ${t('automerge_sync_states')} (
      doc_id TEXT COLLATE "C" NOT NULL, peer_id BYTEA NOT NULL, data BYTEA NOT NULL, PRIMARY KEY (doc_id, peer_id)
    )`,
    // Automerge compresses its own columns: pglz on top costs CPU and saves little.
    `ALTER TABLE ${t('automerge_changes')} ALTER COLUMN data SET STORAGE EXTERNAL`,
    `ALTER TABLE ${t('automerge_documents')} ALTER COLUMN data SET STORAGE EXTERNAL`,
  ],
}

/** automerge-repo's chunks (`ChunkStore`): rows keyed (namespace, encoded key), so a key prefix is a key range. */
export const automergeChunksSchema: Migration = {
  name: 'automerge-repo chunks',
  sqlite: (t) => [
    // A rowid table (snapshot chunks can be megabytes, which WITHOUT ROWID tables store poorly); the rowid is `seq`.
    `CREATE TABLE ${t('automerge_chunks')} (
      seq INTEGER PRIMARY KEY, namespace TEXT NOT NULL, key BLOB NOT NULL, parts TEXT NOT NULL, data BLOB NOT NULL
    )`,
    `CREATE UNIQUE INDEX ${t('automerge_chunks_by_key')} ON ${t('automerge_chunks')} (namespace, key)`,
  ],
  postgres: (t) => [
    `CREATE TABLE ${t('automerge_chunks')} (
      seq BIGINT GENERATED ALWAYS AS IDENTITY, namespace TEXT COLLATE "C" NOT NULL, key BYTEA NOT NULL, parts TEXT NOT NULL,
      data BYTEA NOT NULL, PRIMARY KEY (namespace, key)
    )`,
    `ALTER TABLE ${t('automerge_chunks')} ALTER COLUMN data SET STORAGE EXTERNAL`,
  ],
}
