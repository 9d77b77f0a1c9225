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
