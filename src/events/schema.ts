import { fnv1a, quoteLiteral, type Migration } from '../sql/database.js'

/** Advisory-lock class under which PostgreSQL appends assign positions (`hf` + `ev`). */
export const APPEND_LOCK = 0x6866_6576

/** The NOTIFY channel of a schema's commits: short and identifier-safe whatever the schema's name. */
export function eventsChannel(schema: string): string {
  return `holdfast_events_${fnv1a(schema)}`
}

/*
 * Indexes: the primary key is the global position (reads by position); (type, id, version) is the optimistic-
 * concurrency guard and answers "current version"; (type, id, position) serves reads by aggregate in position order;
 * (type, routing key, position) was meant for reads by type, and is (type, position, routing key) since
 * `eventsByTypeSchema`. The (type, id, version) constraint is gone since `eventsWritePathSchema`; the append lock
 * guards versions.
 */
export const eventsSchema: Migration = {
  name: 'event store',
  sqlite: (t) => [
    `CREATE TABLE ${t('events')} (
      position INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      aggregator_type TEXT NOT NULL,
      aggregator_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      name TEXT NOT NULL,
      routing_key TEXT,
      data BLOB NOT NULL,
      metadata BLOB NOT NULL,
      created_at INTEGER NOT NULL,
      UNIQUE (aggregator_type, aggregator_id, version)
    )`,
    `CREATE INDEX ${t('events_by_aggregate')} ON ${t('events')} (aggregator_type, aggregator_id, position)`,
    `CREATE INDEX ${t('events_by_routing_key')} ON ${t('events')} (aggregator_type, routing_key, position)`,
    `CREATE TABLE ${t('subscribers')} (
      key TEXT PRIMARY KEY,
      worker_id TEXT NOT NULL,
      cursor TEXT,
      lag INTEGER NOT NULL DEFAULT 0,
      acknowledged_at INTEGER,
      updated_at INTEGER NOT NULL
    )`,
    `CREATE TABLE ${t('snapshots')} (
      aggregator_type TEXT NOT NULL,
      aggregator_revision TEXT NOT NULL,
      id TEXT NOT NULL,
      data BLOB NOT NULL,
      cursor TEXT NOT NULL,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (aggregator_type, aggregator_revision, id)
    )`,
  ],
  postgres: (t, schema) => [
    `CREATE TABLE ${t('events')} (
      position BIGINT PRIMARY KEY,
      id TEXT COLLATE "C" NOT NULL UNIQUE,
      aggregator_type TEXT COLLATE "C" NOT NULL,
      aggregator_id TEXT COLLATE "C" NOT NULL,
      version BIGINT NOT NULL,
      name TEXT COLLATE "C" NOT NULL,
      routing_key TEXT COLLATE "C",
      data BYTEA NOT NULL,
      metadata BYTEA NOT NULL,
      created_at BIGINT NOT NULL,
      UNIQUE (aggregator_type, aggregator_id, version)
    )`,
    `CREATE INDEX events_by_aggregate ON ${t('events')} (aggregator_type, aggregator_id, position)`,
    `CREATE INDEX events_by_routing_key ON ${t('events')} (aggregator_type, routing_key, position)`,
    `CREATE TABLE ${t('subscribers')} (
      key TEXT COLLATE "C" PRIMARY KEY,
      worker_id TEXT COLLATE "C" NOT NULL,
      cursor TEXT COLLATE "C",
      lag BIGINT NOT NULL DEFAULT 0,
      acknowledged_at BIGINT,
      updated_at BIGINT NOT NULL
    )`,
    `CREATE TABLE ${t('snapshots')} (
      aggregator_type TEXT COLLATE "C" NOT NULL,
      aggregator_revision TEXT COLLATE "C" NOT NULL,
      id TEXT COLLATE "C" NOT NULL,
      data BYTEA NOT NULL,
      cursor TEXT COLLATE "C" NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (aggregator_type, aggregator_revision, id)
    )`,
    // One round trip appends a whole group commit. Under a transaction-scoped advisory lock (held to commit, released
    // after the commit is visible) it checks every write's expected versions and ids, skips the writes that fail
    // (reported as rows), numbers the rest after max(position) and sends one NOTIFY. Positions therefore become
    // visible in order: a reader paging forward never skips a later commit with a lower position.
    // The checks are one keyed lookup per aggregate and per id, on purpose: plpgsql caches its plans, and a join
    // planned while the table was empty stayed a sequential scan for the life of the connection; set-based checks
    // also cost ~6x more per call than these index probes.
    `CREATE FUNCTION ${t('append_events')}(
      p_write INT[], p_id TEXT[], p_type TEXT[], p_agg TEXT[], p_version BIGINT[], p_name TEXT[], p_routing TEXT[],
      p_data BYTEA[], p_meta BYTEA[], p_exp_write INT[], p_exp_type TEXT[], p_exp_agg TEXT[], p_expected BIGINT[],
      p_now BIGINT
    ) RETURNS TABLE (o_write INT, o_kind TEXT, o_type TEXT, o_agg TEXT, o_expected BIGINT, o_found BIGINT, o_id TEXT)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      bad INT[] := '{}';
      base BIGINT;
      found_version BIGINT;
    BEGIN
      PERFORM pg_advisory_xact_lock(${APPEND_LOCK}, hashtext(${quoteLiteral(schema)}));
      FOR i IN 1..coalesce(cardinality(p_exp_write), 0) LOOP
        CONTINUE WHEN p_exp_write[i] = ANY(bad);
        SELECT ev.version INTO found_version FROM ${t('events')} ev
          WHERE ev.aggregator_type = p_exp_type[i] AND ev.aggregator_id = p_exp_agg[i] ORDER BY ev.version DESC LIMIT 1;
        found_version := coalesce(found_version, 0);
        IF found_version <> p_expected[i] THEN
          bad := bad || p_exp_write[i];
          o_write := p_exp_write[i]; o_kind := 'version'; o_type := p_exp_type[i]; o_agg := p_exp_agg[i];
          o_expected := p_expected[i]; o_found := found_version; o_id := NULL;
          RETURN NEXT;
        END IF;
      END LOOP;
      FOR i IN 1..coalesce(cardinality(p_id), 0) LOOP
        CONTINUE WHEN p_write[i] = ANY(bad);
        PERFORM 1 FROM ${t('events')} ev WHERE ev.id = p_id[i];
        IF FOUND THEN
          bad := bad || p_write[i];
          o_write := p_write[i]; o_kind := 'id'; o_type := NULL; o_agg := NULL; o_expected := NULL; o_found := NULL; o_id := p_id[i];
          RETURN NEXT;
        END IF;
      END LOOP;
      SELECT COALESCE(max(ev.position), 0) INTO base FROM ${t('events')} ev;
      IF cardinality(bad) = 0 THEN
        INSERT INTO ${t('events')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
          SELECT base + u.o, u.id, u.t, u.a, u.v, u.n, u.rk, u.d, u.m, p_now
          FROM unnest(p_id, p_type, p_agg, p_version, p_name, p_routing, p_data, p_meta) WITH ORDINALITY AS u(id, t, a, v, n, rk, d, m, o);
      ELSE
        INSERT INTO ${t('events')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
          SELECT base + row_number() OVER (ORDER BY u.o), u.id, u.t, u.a, u.v, u.n, u.rk, u.d, u.m, p_now
          FROM unnest(p_write, p_id, p_type, p_agg, p_version, p_name, p_routing, p_data, p_meta)
            WITH ORDINALITY AS u(w, id, t, a, v, n, rk, d, m, o)
          WHERE NOT (u.w = ANY(bad));
      END IF;
      IF FOUND THEN
        PERFORM pg_notify(${quoteLiteral(eventsChannel(schema))}, '');
      END IF;
    END
    $fn$`,
  ],
}


/**
 * The event store's write path, second version (migration 8):
 * - Versions guarded by the append lock alone: the unique (type, id, version) index is dropped. Every append checks
 *   an aggregate's current version under the writer lock (SQLite's, or the advisory lock on PostgreSQL) before it
 *   inserts, so the index guarded nothing the lock did not, and it cost the most of the five: 32 single-event writes
 *   to 32 aggregates dirtied its 32 leaves too (SQLite, batch of 32: 68 → 44 µs an event). The current version is now
 *   the last entry of the by-aggregate index, whose position order is the aggregate's version order. SQLite cannot
 *   drop a table's constraint, so the table is rebuilt (once, at open).
 * - PostgreSQL: `append_event` for a lone single-event write, with scalar parameters and a scalar result (fourteen
 *   array parameters cost ~0.25 ms a call to encode and parse, as much as the insert and its commit; the id check is
 *   the insert's `ON CONFLICT`, since one event is atomic on its own), and `append_batch` in place of `append_events`
 *   (see {@link appendBatchFunction}).
 * - PostgreSQL: a commit NOTIFYs only while a store listens (a row in `event_listeners`, see `postgres-listen.ts`).
 *   A NOTIFY takes a database-wide lock at commit: with 32 writers of one insert per commit it cut throughput 3.6×
 *   (5.2k → 1.4k commits/s), and a sequential writer paid ~7% for wake-ups nobody waited for.
 */
export const eventsWritePathSchema: Migration = {
  name: 'event store: versions guarded by the append lock; lone and JSON batch appends',
  sqlite: (t) => [
    `CREATE TABLE ${t('events_rebuilt')} (
      position INTEGER PRIMARY KEY,
      id TEXT NOT NULL UNIQUE,
      aggregator_type TEXT NOT NULL,
      aggregator_id TEXT NOT NULL,
      version INTEGER NOT NULL,
      name TEXT NOT NULL,
      routing_key TEXT,
      data BLOB NOT NULL,
      metadata BLOB NOT NULL,
      created_at INTEGER NOT NULL
    )`,
    `INSERT INTO ${t('events_rebuilt')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
      SELECT position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at FROM ${t('events')} ORDER BY position`,
    `DROP TABLE ${t('events')}`,
    `ALTER TABLE ${t('events_rebuilt')} RENAME TO ${t('events')}`,
    `CREATE INDEX ${t('events_by_aggregate')} ON ${t('events')} (aggregator_type, aggregator_id, position)`,
    `CREATE INDEX ${t('events_by_routing_key')} ON ${t('events')} (aggregator_type, routing_key, position)`,
  ],
  postgres: (t, schema) => [
    `CREATE TABLE ${t('event_listeners')} (token TEXT PRIMARY KEY, pid INT NOT NULL)`,
    appendEventFunction(t, schema, false),
    `DROP FUNCTION ${t('append_events')}(INT[], TEXT[], TEXT[], TEXT[], BIGINT[], TEXT[], TEXT[], BYTEA[], BYTEA[], INT[], TEXT[], TEXT[], BIGINT[], BIGINT)`,
    appendBatchFunction(t, schema),
    `ALTER TABLE ${t('events')} DROP CONSTRAINT events_aggregator_type_aggregator_id_version_key`,
  ],
}

/**
 * The lone append (one write of one event) since migration 8. With `positions` (migration 11) it reports the
 * stored position, so that the store can hand its listeners the events it committed without reading them back:
 * `-1 - position` (at most -2) when appended, -1 when the id is taken, else the aggregate's version; and it takes
 * `p_self`, the appending store's listener token (see {@link appendPositionsSchema}).
 */
function appendEventFunction(t: (name: string) => string, schema: string, positions: boolean): string {
  const lock = `pg_advisory_xact_lock(${APPEND_LOCK}, hashtext(${quoteLiteral(schema)}))`
  return `CREATE FUNCTION ${t('append_event')}(
      p_id TEXT, p_type TEXT, p_agg TEXT, p_version BIGINT, p_name TEXT, p_routing TEXT, p_data BYTEA, p_meta BYTEA,
      p_expected BIGINT, p_now BIGINT${positions ? ', p_self TEXT DEFAULT NULL' : ''}
    ) RETURNS BIGINT
    LANGUAGE plpgsql AS $fn$
    -- ${positions ? '-1 - position: appended' : 'NULL: appended'}; -1: the id is taken; otherwise the aggregate's version, which was not p_expected.
    DECLARE
      found_version BIGINT;${positions ? '\n      stored BIGINT;' : ''}
    BEGIN
      PERFORM ${lock};
      SELECT ev.version INTO found_version FROM ${t('events')} ev
        WHERE ev.aggregator_type = p_type AND ev.aggregator_id = p_agg ORDER BY ev.position DESC LIMIT 1;
      found_version := coalesce(found_version, 0);
      IF found_version <> p_expected THEN
        RETURN found_version;
      END IF;
      INSERT INTO ${t('events')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
        SELECT COALESCE(max(ev.position), 0) + 1, p_id, p_type, p_agg, p_version, p_name, p_routing, p_data, p_meta, p_now
        FROM ${t('events')} ev
        ON CONFLICT (id) DO NOTHING${positions ? '\n        RETURNING position INTO stored' : ''};
      IF NOT FOUND THEN
        RETURN -1;
      END IF;
      IF EXISTS (SELECT 1 FROM ${t('event_listeners')}${positions ? ' WHERE token IS DISTINCT FROM p_self' : ''}) THEN
        PERFORM pg_notify(${quoteLiteral(eventsChannel(schema))}, '');
      END IF;
      RETURN ${positions ? '-1 - stored' : 'NULL'};
    END
    $fn$`
}

/**
 * The batch append since migration 8: the events and the expected versions as two JSON arrays (thirteen array
 * parameters cost ~15% of a 32-write call to encode and parse), checked with one statement each instead of a statement
 * per write. Each probe is a LATERAL subquery with LIMIT 1, so its plan stays an index probe per row whatever the
 * table held when plpgsql cached it (a join planned on an empty table stayed a sequential scan). Rows of
 * `p_expect`: `{ w, o, t, a, e }` (write, order, type, id, expected version); of `p_events`: `{ w, o, i, t, a, v, n,
 * r, d, m }` with `d` and `m` in base64. A write fails on its first failing aggregate (in `o` order), then on its
 * first taken id.
 */
function appendBatchFunction(t: (name: string) => string, schema: string, positions = false): string {
  return `CREATE FUNCTION ${t('append_batch')}(p_events JSONB, p_expect JSONB, p_now BIGINT${positions ? ', p_self TEXT DEFAULT NULL' : ''})
    RETURNS TABLE (o_write INT, o_kind TEXT, o_type TEXT, o_agg TEXT, o_expected BIGINT, o_found BIGINT, o_id TEXT)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      bad INT[] := '{}';
      base BIGINT;
    BEGIN
      PERFORM pg_advisory_xact_lock(${APPEND_LOCK}, hashtext(${quoteLiteral(schema)}));
      FOR o_write, o_kind, o_type, o_agg, o_expected, o_found, o_id IN
        SELECT x.w, 'version', x.t, x.a, x.e, coalesce(f.version, 0), NULL::TEXT
        FROM jsonb_to_recordset(p_expect) AS x(w INT, o INT, t TEXT, a TEXT, e BIGINT)
        LEFT JOIN LATERAL (
          SELECT ev.version FROM ${t('events')} ev
          WHERE ev.aggregator_type = x.t AND ev.aggregator_id = x.a ORDER BY ev.position DESC LIMIT 1
        ) f ON TRUE
        WHERE coalesce(f.version, 0) <> x.e
        ORDER BY x.o
      LOOP
        CONTINUE WHEN o_write = ANY(bad);
        bad := bad || o_write;
        RETURN NEXT;
      END LOOP;
      FOR o_write, o_kind, o_type, o_agg, o_expected, o_found, o_id IN
        SELECT x.w, 'id', NULL::TEXT, NULL::TEXT, NULL::BIGINT, NULL::BIGINT, x.i
        FROM jsonb_to_recordset(p_events) AS x(w INT, o INT, i TEXT)
        CROSS JOIN LATERAL (SELECT 1 FROM ${t('events')} ev WHERE ev.id = x.i LIMIT 1) f
        WHERE NOT (x.w = ANY(bad))
        ORDER BY x.o
      LOOP
        CONTINUE WHEN o_write = ANY(bad);
        bad := bad || o_write;
        RETURN NEXT;
      END LOOP;
      SELECT COALESCE(max(ev.position), 0) INTO base FROM ${t('events')} ev;
      INSERT INTO ${t('events')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
        SELECT base + row_number() OVER (ORDER BY x.o), x.i, x.t, x.a, x.v, x.n, x.r, decode(x.d, 'base64'), decode(x.m, 'base64'), p_now
        FROM jsonb_to_recordset(p_events) AS x(w INT, o INT, i TEXT, t TEXT, a TEXT, v BIGINT, n TEXT, r TEXT, d TEXT, m TEXT)
        WHERE NOT (x.w = ANY(bad));
      IF FOUND AND EXISTS (SELECT 1 FROM ${t('event_listeners')}${positions ? ' WHERE token IS DISTINCT FROM p_self' : ''}) THEN
        PERFORM pg_notify(${quoteLiteral(eventsChannel(schema))}, '');
      END IF;${
        positions
          ? `
      -- The position before the first event appended: the rest follow in \`o\` order.
      RETURN QUERY SELECT -1, 'base'::TEXT, NULL::TEXT, NULL::TEXT, NULL::BIGINT, base, NULL::TEXT;`
          : ''
      }
    END
    $fn$`
}

/**
 * Subscriber leases (migration 9): the time a claimed subscriber's lease runs out, so that standbys in any process
 * can take a key whose owner stopped renewing it, and a generation that a rewind increments, so that an
 * acknowledgement fenced with an older one cannot move the cursor back over the rewind.
 */
export const subscriberLeasesSchema: Migration = {
  name: 'event store: subscriber leases and generations',
  sqlite: (t) => [
    `ALTER TABLE ${t('subscribers')} ADD COLUMN lease_until INTEGER`,
    `ALTER TABLE ${t('subscribers')} ADD COLUMN generation INTEGER NOT NULL DEFAULT 0`,
  ],
  postgres: (t) => [
    `ALTER TABLE ${t('subscribers')} ADD COLUMN lease_until BIGINT`,
    `ALTER TABLE ${t('subscribers')} ADD COLUMN generation BIGINT NOT NULL DEFAULT 0`,
  ],
}

/**
 * Reads by type in position order (migration 10). `(type, routing key, position)` could not serve the commonest
 * filter, a type alone, in order: SQLite read every event of the type and sorted them for each page (a projection's
 * live read of a few new events cost as much as the type's whole history). `(type, position, routing key)` keeps the
 * index count (each one costs writers ~20% on SQLite) and serves a type, a type with a name, and a type with a
 * routing key (checked in the index) from the cursor on, in order; a rare routing key now scans its type's events
 * after the cursor instead of only its own.
 */
export const eventsByTypeSchema: Migration = {
  name: 'event store: reads by type in position order',
  sqlite: (t) => [
    `DROP INDEX ${t('events_by_routing_key')}`,
    `CREATE INDEX ${t('events_by_type')} ON ${t('events')} (aggregator_type, position, routing_key)`,
  ],
  postgres: (t) => [
    `DROP INDEX ${t('events_by_routing_key')}`,
    `CREATE INDEX events_by_type ON ${t('events')} (aggregator_type, position, routing_key)`,
  ],
}

/**
 * Appends that report positions and do not NOTIFY their own store (migration 11), on PostgreSQL:
 * - `append_batch` returns a last row of kind `'base'` (the position before its first event; the appended events
 *   follow in order) and `append_event` returns `-1 - position` when it appends, so that a store can hand its
 *   `onCommitted` listeners the events it committed without reading them back. SQLite knows them already (rowids).
 * - `p_self`: the appending store's listener token. Its own listeners hear of its commits in-process, so a NOTIFY
 *   (which serialises commits database-wide: 32 writers with 16 subscriptions of their own store lost ~40% of their
 *   throughput to it) is sent only while another store listens.
 */
export const appendPositionsSchema: Migration = {
  name: 'event store: appends report positions and notify only other stores',
  sqlite: () => [],
  postgres: (t, schema) => [
    `DROP FUNCTION ${t('append_event')}(TEXT, TEXT, TEXT, BIGINT, TEXT, TEXT, BYTEA, BYTEA, BIGINT, BIGINT)`,
    `DROP FUNCTION ${t('append_batch')}(JSONB, JSONB, BIGINT)`,
    appendEventFunction(t, schema, true),
    appendBatchFunction(t, schema, true),
  ],
}
