import { Counter, Gauge, Registry, type Metric } from 'prom-client'
import { InvalidArgumentError } from '../errors.js'
import type { SubscriberInfo } from '../events/types.js'
import { ProcedureRunner } from '../runtime/procedures/procedure-runner.js'
import { LEASE_PREFIX } from '../runtime/procedures/record.js'
import type { ProcedureStatus } from '../runtime/procedures/types.js'
import { parkingKey } from '../runtime/subscriptions/parking.js'
import type { Store } from '../store.js'
import type { CommitKind, HistogramSnapshot, StoreMetrics } from '../store-metrics.js'
import { assertInteger, describe, readFields } from '../validate.js'

/** The options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Register into this registry (e.g. one with prom-client's `collectDefaultMetrics`); default a new one. One store per registry. */
  registry?: Registry
  /**
   * Most subscriber keys given series of their own (1..10,000; default 1,000): the first in key order. Beyond it,
   * `holdfast_subscriber_series_truncated` is 1, so a Prometheus server is never flooded by a store with many keys.
   */
  maxSubscribers?: number
  /**
   * `holdfast_procedures{status}`: `false` leaves it out. Counting reads one checkpoint per procedure, so it is
   * cached for `refreshMs` (default 60,000; 0 counts on every scrape) and stops at `limit` procedures (1..1,000,000;
   * default 10,000; `holdfast_procedures_truncated` is then 1).
   */
  procedures?: false | { limit?: number; refreshMs?: number }
}

/** What {@link createMetrics} returns: mount `text()` at `GET /metrics` with `contentType`. */
export interface HoldfastMetrics {
  /** The prom-client registry holding every `holdfast_` series. */
  readonly registry: Registry
  /** The `Content-Type` of {@link HoldfastMetrics.text}: Prometheus' text format 0.0.4. */
  readonly contentType: string
  /** Collects every series now (the gauges read the store) and renders them in Prometheus' text format. */
  text(): Promise<string>
}

/** The largest page the contracts hand out. */
const PAGE = 10_000
/** The first key after every runner lease (`/` + 1 is `0`); `holdfast/` keys are Holdfast's own. */
const LEASE_END = `${LEASE_PREFIX.slice(0, -1)}0`
const STATUSES: readonly ProcedureStatus[] = ['running', 'done', 'failed', 'poisoned']
const KINDS: readonly CommitKind[] = ['events', 'checkpoints', 'automerge']

/**
 * Prometheus series for one store, under KurrentDB-like names prefixed `holdfast_`. The counters and histograms are
 * the store's in-process figures ({@link Store.metrics}: this process's writes since the store opened); the gauges
 * are read through the public contracts at each scrape, at a bounded cost: one page of subscribers (at most
 * `maxSubscribers` + 1), the held poison keys, and the procedures at most once per `refreshMs`. Never a count over a
 * whole table.
 *
 * | series | type | what |
 * | --- | --- | --- |
 * | `holdfast_events_appended_total` | counter | events committed by `events.write` |
 * | `holdfast_reads_total`, `holdfast_read_duration_seconds` | counter, histogram | `events.read` calls and their latency |
 * | `holdfast_checkpoints_saved_total` | counter | checkpoints saved (LangGraph threads included) |
 * | `holdfast_group_commit_batch_size{store}` | histogram | writes per commit; `store` is `events`, `checkpoints` or `automerge` |
 * | `holdfast_commit_duration_seconds{store}` | histogram | a commit's latency (fsync or round trip included) |
 * | `holdfast_subscriber_lag_events{key}` | gauge | events left after the cursor, as of the last acknowledgement |
 * | `holdfast_subscriber_seconds_since_ack{key}` | gauge | since the last acknowledgement (or, before one, since the key was taken) |
 * | `holdfast_subscriber_series_truncated` | gauge | 1 when subscribers beyond `maxSubscribers` were left out |
 * | `holdfast_subscriptions_parked` | gauge | parked subscriptions |
 * | `holdfast_poison_keys_held` | gauge | held poison keys, parked subscriptions' included |
 * | `holdfast_procedures{status}` | gauge | durable procedures by status |
 * | `holdfast_procedures_truncated` | gauge | 1 when the count stopped at `procedures.limit` |
 *
 * Procedure runners' leases (`holdfast/procedure-runner/…`) are subscriber records too, and left out of the
 * subscriber series. A gauge whose read fails (the database unreachable) fails the scrape, which Prometheus records
 * as `up == 0`.
 *
 * @example
 * const metrics = createMetrics(store)
 * app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'Content-Type': metrics.contentType }))
 * @throws `INVALID_ARGUMENT` for a bad option
 */
export function createMetrics(store: Store, options?: MetricsOptions): HoldfastMetrics {
  if (typeof store !== 'object' || store === null || typeof store.metrics !== 'function') throw new InvalidArgumentError(`store must be an open Store, got ${describe(store)}`)
  const o = readFields('options', options ?? {}, ['registry', 'maxSubscribers', 'procedures'] as const)
  const maxSubscribers = (o.maxSubscribers as number | undefined) ?? 1000
  assertInteger('options.maxSubscribers', maxSubscribers, 1, 10_000)
  const registry = (o.registry as Registry | undefined) ?? new Registry()
  if (!(registry instanceof Registry)) throw new InvalidArgumentError(`options.registry must be a prom-client Registry, got ${describe(registry)}`)
  const procedures = checkProcedures(o.procedures)
  const registers = [registry]

  const counter = (name: string, help: string, value: (m: StoreMetrics) => number): void =>
    void new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(value(store.metrics()))
      },
    })
  counter('holdfast_events_appended_total', 'Events committed by events.write in this process since the store opened.', (m) => m.eventsAppended)
  counter('holdfast_reads_total', 'events.read calls that returned a page, in this process.', (m) => m.reads)
  counter('holdfast_checkpoints_saved_total', 'Checkpoints saved in this process (LangGraph thread checkpoints included).', (m) => m.checkpointsSaved)
  registry.registerMetric(
    snapshotHistogram('holdfast_read_duration_seconds', 'Latency of events.read, in seconds.', () => [[{}, store.metrics().readDuration]]),
  )
  registry.registerMetric(
    snapshotHistogram('holdfast_group_commit_batch_size', 'Writes per group commit, by store.', () => {
      const m = store.metrics()
      return KINDS.map((k) => [{ store: k }, m.commits[k].batchSize])
    }),
  )
  registry.registerMetric(
    snapshotHistogram('holdfast_commit_duration_seconds', 'Latency of a commit, in seconds, by store.', () => {
      const m = store.metrics()
      return KINDS.map((k) => [{ store: k }, m.commits[k].duration])
    }),
  )

  // The gauges of one scrape start together: they share one read of each source.
  const subscribers = shared(() => listSubscribers(store, maxSubscribers))
  const poison = shared(() => store.poison.listPoison())
  new Gauge({
    name: 'holdfast_subscriber_lag_events',
    help: 'Events a subscriber had left after its cursor, as of its last acknowledgement.',
    labelNames: ['key'],
    registers,
    async collect() {
      const { list } = await subscribers()
      this.reset()
      for (const s of list) this.set({ key: s.key }, s.lag)
    },
  })
  new Gauge({
    name: 'holdfast_subscriber_seconds_since_ack',
    help: 'Seconds since a subscriber last acknowledged (before its first, since its owner took it).',
    labelNames: ['key'],
    registers,
    async collect() {
      const { list } = await subscribers()
      const now = Date.now()
      this.reset()
      for (const s of list) this.set({ key: s.key }, secondsSince(s, now))
    },
  })
  new Gauge({
    name: 'holdfast_subscriber_series_truncated',
    help: `1 when subscribers beyond the first ${maxSubscribers} (key order) were left out of the subscriber series.`,
    registers,
    async collect() {
      this.set((await subscribers()).truncated ? 1 : 0)
    },
  })
  const parkedPrefix = parkingKey('')
  new Gauge({
    name: 'holdfast_subscriptions_parked',
    help: 'Subscriptions parked after a failing batch, waiting for an operator.',
    registers,
    async collect() {
      this.set((await poison()).filter((p) => p.key.startsWith(parkedPrefix)).length)
    },
  })
  new Gauge({
    name: 'holdfast_poison_keys_held',
    help: "Poison keys held (parked subscriptions' included).",
    registers,
    async collect() {
      this.set((await poison()).length)
    },
  })

  if (procedures) {
    const runner = new ProcedureRunner(store)
    let counted: { at: number; byStatus: Map<ProcedureStatus, number>; truncated: boolean } | undefined
    const count = shared(async () => {
      if (counted && Date.now() - counted.at < procedures.refreshMs) return counted
      const byStatus = new Map<ProcedureStatus, number>(STATUSES.map((s) => [s, 0]))
      let seen = 0
      let after: string | undefined
      for (;;) {
        const page = await runner.list({ after, limit: Math.min(PAGE, procedures.limit + 1 - seen) })
        for (const p of page.slice(0, procedures.limit - seen)) byStatus.set(p.status, (byStatus.get(p.status) ?? 0) + 1)
        seen += page.length
        if (seen > procedures.limit || page.length === 0 || page.length < PAGE) break
        after = page[page.length - 1]!.id
      }
      counted = { at: Date.now(), byStatus, truncated: seen > procedures.limit }
      return counted
    })
    new Gauge({
      name: 'holdfast_procedures',
      help: 'Durable procedures by status.',
      labelNames: ['status'],
      registers,
      async collect() {
        const { byStatus } = await count()
        for (const [status, n] of byStatus) this.set({ status }, n)
      },
    })
    new Gauge({
      name: 'holdfast_procedures_truncated',
      help: `1 when the procedure count stopped at ${procedures.limit}.`,
      registers,
      async collect() {
        this.set((await count()).truncated ? 1 : 0)
      },
    })
  }

  return { registry, contentType: registry.contentType, text: () => registry.metrics() }
}

function checkProcedures(value: unknown): false | { limit: number; refreshMs: number } {
  if (value === false) return false
  const p = readFields('options.procedures', value ?? {}, ['limit', 'refreshMs'] as const)
  const limit = (p.limit as number | undefined) ?? 10_000
  const refreshMs = (p.refreshMs as number | undefined) ?? 60_000
  assertInteger('options.procedures.limit', limit, 1, 1_000_000)
  assertInteger('options.procedures.refreshMs', refreshMs, 0, 86_400_000)
  return { limit, refreshMs }
}

/**
 * The first `max` subscribers in key order, without the runners' leases (they hold no cursor): the lease range is
 * stepped over with `after`, so at most two pages are read however many runners there were.
 */
async function listSubscribers(store: Store, max: number): Promise<{ list: SubscriberInfo[]; truncated: boolean }> {
  const list: SubscriberInfo[] = []
  let after: string | undefined
  for (let pages = 0; pages < 2; pages++) {
    const page = await store.events.listSubscribers({ after, limit: Math.min(PAGE, max + 1 - list.length) })
    const lease = page.findIndex((s) => s.key.startsWith(LEASE_PREFIX))
    list.push(...(lease < 0 ? page : page.slice(0, lease)))
    if (list.length > max) return { list: list.slice(0, max), truncated: true }
    if (lease < 0) break
    after = LEASE_END
  }
  return { list, truncated: false }
}

function secondsSince(s: SubscriberInfo, now: number): number {
  return Math.max(0, now - (s.acknowledgedAt ?? s.updatedAt)) / 1000
}

/** `fn`, with calls made while one is in flight sharing its promise. */
function shared<T>(fn: () => Promise<T>): () => Promise<T> {
  let inflight: Promise<T> | undefined
  return () =>
    (inflight ??= fn().finally(() => {
      inflight = undefined
    }))
}

type Labels = Record<string, string>

/**
 * A histogram whose buckets are a {@link HistogramSnapshot}, read at each scrape: prom-client's own `Histogram` can
 * only be fed one observation at a time, and the store keeps its own (cheaper) buckets. The registry needs only
 * `name`, `help`, `type`, `aggregator` and `get()`.
 */
function snapshotHistogram(name: string, help: string, read: () => [Labels, HistogramSnapshot][]): Metric {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    labelNames: [],
    reset: () => {},
    get: async () => ({
      name,
      help,
      type: 'histogram',
      aggregator: 'sum',
      values: read().flatMap(([labels, h]) => [
        ...h.bounds.map((le, i) => ({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: h.counts[i]! })),
        { metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count },
        { metricName: `${name}_sum`, labels, value: h.sum },
        { metricName: `${name}_count`, labels, value: h.count },
      ]),
    }),
  }
  // prom-client's Metric type lists its four classes; its registry reads only the fields above.
  return metric as unknown as Metric
}
