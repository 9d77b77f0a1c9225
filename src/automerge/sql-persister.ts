import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { GroupCommit } from '../sql/group-commit.js'
import type { SqliteDatabase } from '../sql/sqlite.js'
import { asBytes } from '../validate.js'
import type { AutomergePersister, ChangeAddress, ChangeEntry, StoredSizes } from './types.js'
import { checkInsert, checkPayload, checkPeer, checkPeers, checkRemove, type CheckedChange } from './validate.js'

/** One statement of a write: SQL with `?` placeholders and its parameters. */
type Statement = readonly [sql: string, params: readonly unknown[]]

/** A write waiting for its group commit. */
interface Write {
  statements: readonly Statement[]
  /** May commit without an fsync (see {@link SqlAutomergeStore.write}). */
  relaxed: boolean
}

/** Rows and payload bytes per PostgreSQL array statement: bounds the array literal `pg` builds in memory. */
const PG_CHUNK_ROWS = 1000
const PG_CHUNK_BYTES = 16 * 1024 * 1024

/**
 * The Automerge documents of one SQL store. Every write is a short list of statements committed atomically. On
 * SQLite, writes from every document share group commits (one `BEGIN IMMEDIATE … COMMIT`, one fsync, per batch,
 * each write in its own savepoint), so a burst of single-change inserts costs a few fsyncs, not one each. On
 * PostgreSQL a one-statement write runs alone (the server's commits overlap across the pool) and a longer one in a
 * transaction; batches of rows go through `unnest` arrays.
 */
export class SqlAutomergeStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #commit: GroupCommit<Write> | undefined
  /** Payload bytes written since the last flush while SQLite runs with `synchronous: 'normal'`. */
  #pending = 0
  readonly #lazy: boolean
  readonly sql: ReturnType<typeof statements>

  /** @param db - the database; @param life - the store's lifecycle */
  constructor(db: SqlDatabase, life: Lifecycle) {
    this.#db = db
    this.#life = life
    this.sql = statements(db)
    const sqlite = db.engine === 'sqlite' ? (db as SqliteDatabase) : undefined
    this.#lazy = sqlite?.synchronous === 'normal'
    this.#commit = sqlite && new GroupCommit((items) => sqliteBatch(sqlite, items), { metrics: life.metrics.commits.automerge })
  }

  /** The persister of `documentId` (checked by the caller). */
  persister(documentId: string): AutomergePersister {
    return new SqlPersister(documentId, this.#life, this.#db, this)
  }

  /** Ids of documents with anything stored, in text order after `after` (checked by the caller). */
  async documents(after: string, limit: number): Promise<string[]> {
    this.#life.check()
    const rows = await this.#db.all<{ doc_id: string }>(this.sql.documents, [after, limit, after, limit, after, limit, limit])
    return rows.map((r) => r.doc_id)
  }

  /**
   * Commits `writes` atomically; `bytes` is the payload they carry, for {@link SqlAutomergeStore.flush}. A `relaxed`
   * write on SQLite commits without its own fsync when every write of its batch is relaxed: it survives a process
   * crash at once and a power loss from the next durable commit on (the log is sequential, so nothing after it is
   * kept without it).
   */
  async write(writes: readonly Statement[], bytes: number, relaxed = false): Promise<void> {
    if (writes.length === 0) return
    const started = performance.now()
    if (this.#commit) await this.#commit.submit({ statements: writes, relaxed })
    else if (writes.length === 1) await this.#db.run(writes[0]![0], writes[0]![1])
    else
      await this.#db.transaction(async (tx) => {
        for (const [sql, params] of writes) await tx.run(sql, params)
      })
    // PostgreSQL's Automerge writes are not group-committed: each is a commit of one.
    if (!this.#commit) this.#life.metrics.commits.automerge.observe(1, performance.now() - started)
    if (this.#lazy) this.#pending += bytes
  }

  /** Syncs SQLite's write-ahead log when commits do not; returns the bytes that were pending. */
  async flush(): Promise<number> {
    if (!this.#lazy) return 0
    await this.#commit!.idle()
    const bytes = this.#pending
    this.#pending = 0
    const sqlite = this.#db as SqliteDatabase
    try {
      // A checkpoint syncs the log before copying it into the database file, which makes every commit durable.
      await sqlite.exclusive(() => sqlite.db.pragma('wal_checkpoint(PASSIVE)'))
    } catch (err) {
      this.#pending += bytes
      throw err
    }
    return bytes
  }

  /** Resolves when no write is queued. */
  async close(): Promise<void> {
    await this.#commit?.idle()
  }
}

/** One SQLite transaction for a batch of writes; a write that fails rolls back to its savepoint and fails alone. */
function sqliteBatch(db: SqliteDatabase, writes: Write[]): Promise<(Error | undefined)[]> {
  const run = (statements: readonly Statement[]): void => {
    for (const [sql, params] of statements) db.statement(sql).run(...params)
  }
  return db.immediate(
    () =>
      writes.map(({ statements }): Error | undefined => {
        if (writes.length === 1) {
          run(statements)
          return undefined
        }
        db.statement('SAVEPOINT w').run()
        try {
          run(statements)
          db.statement('RELEASE w').run()
          return undefined
        } catch (err) {
          db.statement('ROLLBACK TO w').run()
          db.statement('RELEASE w').run()
          return db.error(err) as Error
        }
      }),
    writes.every((w) => w.relaxed),
  )
}

function statements(db: SqlDatabase) {
  const c = db.table('automerge_changes')
  const d = db.table('automerge_documents')
  const s = db.table('automerge_sync_states')
  return {
    changes: `SELECT data FROM ${c} WHERE doc_id = ? ORDER BY actor, seq`,
    insert: `INSERT INTO ${c} (doc_id, actor, seq, data) VALUES (?, ?, ?, ?) ON CONFLICT (doc_id, actor, seq) DO UPDATE SET data = excluded.data`,
    insertMany: `INSERT INTO ${c} (doc_id, actor, seq, data) SELECT ?::text, a, s, d FROM unnest(?::bytea[], ?::bigint[], ?::bytea[]) AS t(a, s, d)
      ON CONFLICT (doc_id, actor, seq) DO UPDATE SET data = excluded.data`,
    remove: `DELETE FROM ${c} WHERE doc_id = ? AND actor = ? AND seq = ?`,
    removeMany: `DELETE FROM ${c} WHERE doc_id = ? AND (actor, seq) IN (SELECT a, s FROM unnest(?::bytea[], ?::bigint[]) AS t(a, s))`,
    document: `SELECT data FROM ${d} WHERE doc_id = ?`,
    setDocument: `INSERT INTO ${d} (doc_id, data) VALUES (?, ?) ON CONFLICT (doc_id) DO UPDATE SET data = excluded.data`,
    syncState: `SELECT data FROM ${s} WHERE doc_id = ? AND peer_id = ?`,
    setSyncState: `INSERT INTO ${s} (doc_id, peer_id, data) VALUES (?, ?, ?) ON CONFLICT (doc_id, peer_id) DO UPDATE SET data = excluded.data`,
    removeSyncState: `DELETE FROM ${s} WHERE doc_id = ? AND peer_id = ?`,
    removeSyncStates: `DELETE FROM ${s} WHERE doc_id = ? AND peer_id = ANY(?::bytea[])`,
    peers: `SELECT peer_id FROM ${s} WHERE doc_id = ? ORDER BY peer_id`,
    // Each part is cut to the page first, so a page costs an index range per table, not a scan of every change.
    documents: [c, d, s]
      .map((t, i) => `SELECT doc_id FROM (SELECT DISTINCT doc_id FROM ${t} WHERE doc_id > ? ORDER BY doc_id LIMIT ?) AS p${i}`)
      .join(' UNION ') + ' ORDER BY doc_id LIMIT ?',
    sizes: `SELECT (SELECT coalesce(sum(length(data)), 0) FROM ${c} WHERE doc_id = ?) AS c,
      (SELECT coalesce(sum(length(data)), 0) FROM ${d} WHERE doc_id = ?) AS d,
      (SELECT coalesce(sum(length(data)), 0) FROM ${s} WHERE doc_id = ?) AS s`,
  }
}

/** Splits rows into PostgreSQL array statements of bounded size. */
function chunks<T>(rows: readonly T[], size: (row: T) => number): T[][] {
  const out: T[][] = []
  let current: T[] = []
  let bytes = 0
  for (const row of rows) {
    if (current.length > 0 && (current.length >= PG_CHUNK_ROWS || bytes + size(row) > PG_CHUNK_BYTES)) {
      out.push(current)
      current = []
      bytes = 0
    }
    current.push(row)
    bytes += size(row)
  }
  if (current.length > 0) out.push(current)
  return out
}

class SqlPersister implements AutomergePersister {
  readonly #sql: ReturnType<typeof statements>
  readonly #pg: boolean

  constructor(
    readonly documentId: string,
    private readonly life: Lifecycle,
    private readonly db: SqlDatabase,
    private readonly store: SqlAutomergeStore,
  ) {
    this.#sql = store.sql
    this.#pg = db.engine === 'postgres'
  }

  #insert(rows: readonly CheckedChange[]): Statement[] {
    const id = this.documentId
    if (!this.#pg || rows.length === 1) return rows.map((r) => [this.#sql.insert, [id, r.actor, r.seq, r.data]])
    return chunks(rows, (r) => r.data.byteLength).map((chunk) => [
      this.#sql.insertMany,
      [id, chunk.map((r) => r.actor), chunk.map((r) => r.seq), chunk.map((r) => r.data)],
    ])
  }

  #remove(rows: readonly CheckedChange[]): Statement[] {
    const id = this.documentId
    if (!this.#pg || rows.length === 1) return rows.map((r) => [this.#sql.remove, [id, r.actor, r.seq]])
    return chunks(rows, () => 0).map((chunk) => [this.#sql.removeMany, [id, chunk.map((r) => r.actor), chunk.map((r) => r.seq)]])
  }

  #removePeers(peers: readonly Uint8Array[]): Statement[] {
    const id = this.documentId
    if (!this.#pg || peers.length === 1) return peers.map((p) => [this.#sql.removeSyncState, [id, p]])
    return chunks(peers, () => 0).map((chunk) => [this.#sql.removeSyncStates, [id, chunk]])
  }

  async #one(sql: string, params: readonly unknown[]): Promise<Uint8Array | null> {
    const [row] = await this.db.all<{ data: unknown }>(sql, params)
    return row ? asBytes(row.data) : null
  }

  async getChanges(): Promise<Uint8Array[]> {
    this.life.check()
    return (await this.db.all<{ data: unknown }>(this.#sql.changes, [this.documentId])).map((r) => asBytes(r.data))
  }

  async insertChanges(changes: readonly ChangeEntry[]): Promise<void> {
    this.life.check()
    const rows = checkInsert(changes)
    await this.store.write(this.#insert(rows), rows.reduce((n, r) => n + r.data.byteLength, 0))
  }

  async removeChanges(changes: readonly ChangeAddress[]): Promise<void> {
    this.life.check()
    await this.store.write(this.#remove(checkRemove(changes)), 0)
  }

  async getDocument(): Promise<Uint8Array | null> {
    this.life.check()
    return this.#one(this.#sql.document, [this.documentId])
  }

  async setDocument(data: Uint8Array): Promise<void> {
    this.life.check()
    const doc = checkPayload('data', data)
    await this.store.write([[this.#sql.setDocument, [this.documentId, doc]]], doc.byteLength)
  }

  async compact(document: Uint8Array, changes: readonly ChangeAddress[], peerIds: readonly Uint8Array[] = []): Promise<void> {
    this.life.check()
    const doc = checkPayload('document', document)
    const rows = checkRemove(changes)
    const peers = checkPeers(peerIds)
    await this.store.write([[this.#sql.setDocument, [this.documentId, doc]], ...this.#remove(rows), ...this.#removePeers(peers)], doc.byteLength)
  }

  async getSyncState(peerId: Uint8Array): Promise<Uint8Array | null> {
    this.life.check()
    return this.#one(this.#sql.syncState, [this.documentId, checkPeer('peerId', peerId)])
  }

  async setSyncState(peerId: Uint8Array, syncState: Uint8Array): Promise<void> {
    this.life.check()
    const peer = checkPeer('peerId', peerId)
    const data = checkPayload('syncState', syncState)
    await this.store.write([[this.#sql.setSyncState, [this.documentId, peer, data]]], data.byteLength)
  }

  async removeSyncStates(peerIds: readonly Uint8Array[]): Promise<void> {
    this.life.check()
    await this.store.write(this.#removePeers(checkPeers(peerIds)), 0)
  }

  async getPeerIds(): Promise<Uint8Array[]> {
    this.life.check()
    return (await this.db.all<{ peer_id: unknown }>(this.#sql.peers, [this.documentId])).map((r) => asBytes(r.peer_id))
  }

  async sizes(): Promise<StoredSizes> {
    this.life.check()
    const id = this.documentId
    const [row] = await this.db.all<{ c: number | string; d: number | string; s: number | string }>(this.#sql.sizes, [id, id, id])
    return { changes: Number(row!.c), document: Number(row!.d), syncStates: Number(row!.s) }
  }

  async flush(): Promise<number> {
    this.life.check()
    return this.store.flush()
  }
}
