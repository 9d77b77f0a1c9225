import { fnv1a, quoteLiteral } from '../sql/database.js'
import type { Migration } from '../sql/migrations.js'

/** Advisory-lock class under which PostgreSQL appends assign positions (`hf` + `ev`). */
export const APPEND_LOCK = 0x6866_6576

/** The NOTIFY channel of a schema's commits: short and identifier-safe whatever the schema's name. */
export function eventsChannel(schema: string): string {
  return `holdfast_events_${fnv1a(schema)}`
}

/*
 * Indexes: the primary key is the global position (reads by position); (type, id, version) is the optimistic-
 * concurrency guard and answers "current version"; (type, id, position) serves reads by aggregate and
 * (type, routing key, position) reads by type and routing key, both in position order without sorting.
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
    // The lookups are per-row scalar subqueries on purpose: plpgsql caches its plans, and a join planned while the
    // table was empty stays a sequential scan for the life of the connection; a keyed subquery is an index probe.
    `CREATE FUNCTION ${t('append_events')}(
      p_write INT[], p_id TEXT[], p_type TEXT[], p_agg TEXT[], p_version BIGINT[], p_name TEXT[], p_routing TEXT[],
      p_data BYTEA[], p_meta BYTEA[], p_exp_write INT[], p_exp_type TEXT[], p_exp_agg TEXT[], p_expected BIGINT[],
      p_now BIGINT
    ) RETURNS TABLE (o_write INT, o_kind TEXT, o_type TEXT, o_agg TEXT, o_expected BIGINT, o_found BIGINT, o_id TEXT)
    LANGUAGE plpgsql AS $fn$
    DECLARE
      bad INT[] := '{}';
      base BIGINT;
      r RECORD;
    BEGIN
      PERFORM pg_advisory_xact_lock(${APPEND_LOCK}, hashtext(${quoteLiteral(schema)}));
      FOR r IN
        SELECT x.w, x.t, x.a, x.e, x.f FROM (
          SELECT u.w, u.t, u.a, u.e, u.o, COALESCE((
            SELECT max(ev.version) FROM ${t('events')} ev WHERE ev.aggregator_type = u.t AND ev.aggregator_id = u.a
          ), 0) AS f
          FROM unnest(p_exp_write, p_exp_type, p_exp_agg, p_expected) WITH ORDINALITY AS u(w, t, a, e, o)
        ) x WHERE x.f <> x.e ORDER BY x.o
      LOOP
        bad := bad || r.w;
        o_write := r.w; o_kind := 'version'; o_type := r.t; o_agg := r.a; o_expected := r.e; o_found := r.f; o_id := NULL;
        RETURN NEXT;
      END LOOP;
      FOR r IN
        SELECT x.w, x.id FROM (
          SELECT u.w, u.id, u.o, (SELECT true FROM ${t('events')} ev WHERE ev.id = u.id) AS taken
          FROM unnest(p_write, p_id) WITH ORDINALITY AS u(w, id, o)
        ) x WHERE x.taken AND NOT (x.w = ANY(bad))
        ORDER BY x.o
      LOOP
        bad := bad || r.w;
        o_write := r.w; o_kind := 'id'; o_type := NULL; o_agg := NULL; o_expected := NULL; o_found := NULL; o_id := r.id;
        RETURN NEXT;
      END LOOP;
      SELECT COALESCE(max(ev.position), 0) INTO base FROM ${t('events')} ev;
      INSERT INTO ${t('events')} (position, id, aggregator_type, aggregator_id, version, name, routing_key, data, metadata, created_at)
        SELECT base + row_number() OVER (ORDER BY u.o), u.id, u.t, u.a, u.v, u.n, u.rk, u.d, u.m, p_now
        FROM unnest(p_write, p_id, p_type, p_agg, p_version, p_name, p_routing, p_data, p_meta)
          WITH ORDINALITY AS u(w, id, t, a, v, n, rk, d, m, o)
        WHERE NOT (u.w = ANY(bad))
        ORDER BY u.o;
      IF FOUND THEN
        PERFORM pg_notify(${quoteLiteral(eventsChannel(schema))}, '');
      END IF;
    END
    $fn$`,
  ],
}
