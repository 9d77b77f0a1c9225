import { Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ProcedurePoisoned, ProcedureRunner, type HistogramSnapshot, type NewEvent, type Store } from '../src/index.js'
import { createMetrics } from '../src/operator/metrics.js'
import { throwsWith } from '../src/testing/index.js'
import { backends } from './backends.js'

/** One sample line: its name, labels (unescaped) and value. */
interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** A metric family: its TYPE, HELP and samples. */
interface Family {
  type: string
  help: string
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

/**
 * A strict parser of Prometheus' text format 0.0.4 (prom-client ships none): every line a comment, a blank, a HELP
 * or TYPE line, or a sample; a family's TYPE before its samples and its samples together; label values with only
 * the three escapes; no series twice; a histogram's buckets cumulative, with `+Inf` equal to `_count`, and `_sum`.
 */
function parsePrometheus(text: string): Map<string, Family> {
  expect(text.endsWith('\n')).toBe(true)
  const families = new Map<string, Family>()
  const seen = new Set<string>()
  const closed = new Set<string>()
  let current: string | undefined
  const familyOf = (sample: string): string | undefined => {
    if (families.has(sample)) return sample
    for (const suffix of ['_bucket', '_sum', '_count']) {
      const base = sample.slice(0, -suffix.length)
      if (sample.endsWith(suffix) && ['histogram', 'summary'].includes(families.get(base)?.type ?? '')) return base
    }
    return undefined
  }
  const open = (name: string): Family => {
    if (current !== name) {
      if (closed.has(name)) throw new Error(`family ${name} is split`)
      if (current !== undefined) closed.add(current)
      current = name
    }
    let f = families.get(name)
    if (!f) families.set(name, (f = { type: 'untyped', help: '', samples: [] }))
    return f
  }
  for (const [n, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${n + 1}: ${JSON.stringify(line)}`
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string]
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name, ${where}`)
      const f = open(name)
      if (kind === 'TYPE') {
        if (!TYPES.has(rest) || f.samples.length > 0 || f.type !== 'untyped') throw new Error(`bad TYPE, ${where}`)
        f.type = rest
      } else {
        if (/\\[^\\n]/.test(rest.replaceAll('\\\\', ''))) throw new Error(`bad HELP escape, ${where}`)
        f.help = rest
      }
      continue
    }
    if (line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line)
    if (!m) throw new Error(`not a sample, ${where}`)
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string]
    const labels = parseLabels(labelText ?? '', where)
    const value = parseValue(valueText, where)
    const base = familyOf(name) ?? name
    const f = open(base)
    const series = `${name}${JSON.stringify(Object.entries(labels).sort())}`
    if (seen.has(series)) throw new Error(`series twice, ${where}`)
    seen.add(series)
    f.samples.push({ name, labels, value })
  }
  for (const [name, f] of families) if (f.type === 'histogram') checkHistogram(name, f)
  return families
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf('="', i)
    if (eq < 0) throw new Error(`bad labels, ${where}`)
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name) || name in labels) throw new Error(`bad label name ${name}, ${where}`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = text[j]
      if (c === undefined) throw new Error(`unterminated label value, ${where}`)
      if (c === '"') break
      if (c === '\\') {
        const e = text[j + 1]
        if (e === '\\') value += '\\'
        else if (e === '"') value += '"'
        else if (e === 'n') value += '\n'
        else throw new Error(`bad escape, ${where}`)
        j += 2
      } else {
        if (c === '\n') throw new Error(`raw newline, ${where}`)
        value += c
        j++
      }
    }
    labels[name] = value
    i = j + 1
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`expected a comma, ${where}`)
      i++
    }
  }
  return labels
}

function parseValue(text: string, where: string): number {
  if (text === '+Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (text === 'NaN') return NaN
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value, ${where}`)
  return Number(text)
}

function checkHistogram(name: string, f: Family): void {
  const groups = new Map<string, Sample[]>()
  for (const s of f.samples) {
    const { le: _le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    groups.set(key, [...(groups.get(key) ?? []), s])
  }
  for (const samples of groups.values()) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`)
    const count = samples.find((s) => s.name === `${name}_count`)
    expect(samples.find((s) => s.name === `${name}_sum`), `${name}_sum`).toBeDefined()
    expect(count, `${name}_count`).toBeDefined()
    const bounds = buckets.map((b) => parseValue(b.labels.le!, name))
    expect(bounds.at(-1)).toBe(Infinity)
    for (let i = 1; i < buckets.length; i++) {
      expect(bounds[i]! > bounds[i - 1]!, `${name} bounds ascend`).toBe(true)
      expect(buckets[i]!.value >= buckets[i - 1]!.value, `${name} buckets cumulative`).toBe(true)
    }
    expect(buckets.at(-1)!.value).toBe(count!.value)
  }
}

/** The value of the one sample of `name` with `labels` (all of them), or undefined. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue
      const keys = Object.keys(s.labels)
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value
    }
  }
  return undefined
}

/** The parsed buckets of histogram `name` for `labels`, in the in-process snapshot's shape. */
function histogram(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): HistogramSnapshot {
  const f = families.get(name)!
  const mine = f.samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  const buckets = mine.filter((s) => s.name === `${name}_bucket` && s.labels.le !== '+Inf')
  return {
    bounds: buckets.map((b) => Number(b.labels.le)),
    counts: buckets.map((b) => b.value),
    sum: mine.find((s) => s.name === `${name}_sum`)!.value,
    count: mine.find((s) => s.name === `${name}_count`)!.value,
  }
}

const event = (id: string, aggregatorId: string, version: number): NewEvent => ({
  id,
  aggregatorType: 'shop/Order',
  aggregatorId,
  version,
  name: 'Placed',
  data: new TextEncoder().encode('{}'),
})

const FAMILIES: [string, string][] = [
  ['holdfast_events_appended_total', 'counter'],
  ['holdfast_reads_total', 'counter'],
  ['holdfast_checkpoints_saved_total', 'counter'],
  ['holdfast_read_duration_seconds', 'histogram'],
  ['holdfast_group_commit_batch_size', 'histogram'],
  ['holdfast_commit_duration_seconds', 'histogram'],
  ['holdfast_subscriber_lag_events', 'gauge'],
  ['holdfast_subscriber_seconds_since_ack', 'gauge'],
  ['holdfast_subscriber_series_truncated', 'gauge'],
  ['holdfast_subscriptions_parked', 'gauge'],
  ['holdfast_poison_keys_held', 'gauge'],
  ['holdfast_procedures', 'gauge'],
  ['holdfast_procedures_truncated', 'gauge'],
]

for (const target of backends()) {
  describe(`metrics: ${target.name}`, () => {
    let store: Store
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(() => store.close())
    const sql = (): boolean => store.backend !== 'memory'

    it('renders every series in Prometheus text format, at zero on a new store', async () => {
      const metrics = createMetrics(store)
      expect(metrics.contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
      const families = parsePrometheus(await metrics.text())
      for (const [name, type] of FAMILIES) expect(families.get(name)?.type, name).toBe(type)
      for (const name of ['holdfast_events_appended_total', 'holdfast_reads_total', 'holdfast_checkpoints_saved_total', 'holdfast_subscriptions_parked', 'holdfast_poison_keys_held'])
        expect(value(families, name), name).toBe(0)
      for (const status of ['running', 'done', 'failed', 'poisoned']) expect(value(families, 'holdfast_procedures', { status })).toBe(0)
      expect(families.get('holdfast_subscriber_lag_events')!.samples).toEqual([])
      for (const kind of ['events', 'checkpoints', 'automerge']) expect(value(families, 'holdfast_group_commit_batch_size_count', { store: kind })).toBe(0)
    })

    it('moves with writes, reads, checkpoint saves and Automerge writes, as store.metrics() does', async () => {
      const metrics = createMetrics(store)
      await store.events.write([event('e1', 'o1', 1), event('e2', 'o1', 2)])
      // Concurrent writers share commits on the SQL backends.
      await Promise.all(Array.from({ length: 8 }, (_, i) => store.events.write([event(`c${i}`, `p${i}`, 1)])))
      await store.events.read(null, null, { first: 5 })
      await store.events.read([{ aggregatorType: 'shop/Order', aggregatorId: 'o1' }])
      await store.checkpoints.saveWithTrace('trace-1', { id: 'cp-1', state: { step: 1 }, metadata: {}, parentId: null })
      await store.automerge('doc-1').setDocument(new Uint8Array([1, 2, 3]))
      const families = parsePrometheus(await metrics.text())
      const m = store.metrics()

      expect(m.eventsAppended).toBe(10)
      expect(value(families, 'holdfast_events_appended_total')).toBe(10)
      expect(m.reads).toBe(2)
      expect(value(families, 'holdfast_reads_total')).toBe(2)
      expect(m.checkpointsSaved).toBe(1)
      expect(value(families, 'holdfast_checkpoints_saved_total')).toBe(1)
      expect(m.readDuration.count).toBe(2)
      expect(histogram(families, 'holdfast_read_duration_seconds')).toEqual(m.readDuration)
      for (const kind of ['events', 'checkpoints', 'automerge'] as const) {
        expect(histogram(families, 'holdfast_group_commit_batch_size', { store: kind })).toEqual(m.commits[kind].batchSize)
        expect(histogram(families, 'holdfast_commit_duration_seconds', { store: kind })).toEqual(m.commits[kind].duration)
        expect(m.commits[kind].duration.count).toBe(m.commits[kind].batchSize.count)
      }
      if (sql()) {
        const events = m.commits.events.batchSize
        // 9 writes in at most 9 commits; the 8 concurrent ones share fewer.
        expect(events.sum).toBe(9)
        expect(events.count).toBeGreaterThanOrEqual(2)
        expect(events.count).toBeLessThan(9)
        expect(m.commits.checkpoints.batchSize).toMatchObject({ count: 1, sum: 1 })
        expect(m.commits.automerge.batchSize).toMatchObject({ count: 1, sum: 1 })
        expect(m.commits.events.duration.sum).toBeGreaterThan(0)
      } else {
        expect(m.commits.events.batchSize.count).toBe(0)
      }

      // A refused write counts nothing.
      await expect(store.events.write([event('e3', 'o1', 1)])).rejects.toMatchObject({ code: 'INVALID_ORIGINAL_VERSION' })
      expect(store.metrics().eventsAppended).toBe(10)
      // A copy: later writes do not change a snapshot taken before.
      await store.events.write([event('e4', 'o1', 3)])
      expect(m.eventsAppended).toBe(10)
      expect(value(parsePrometheus(await metrics.text()), 'holdfast_events_appended_total')).toBe(11)
    })

    it('shows a subscriber lagging and acknowledging, parked subscriptions and held poison keys', async () => {
      const metrics = createMetrics(store)
      await store.events.write([event('e1', 'o1', 1), event('e2', 'o1', 2), event('e3', 'o1', 3)])
      const { edges } = await store.events.read()
      const key = 'projection "orders"\n\\ v2'
      await store.events.claimSubscriber(key, 'worker-1', 10_000)
      let families = parsePrometheus(await metrics.text())
      expect(value(families, 'holdfast_subscriber_lag_events', { key })).toBe(0)
      expect(value(families, 'holdfast_subscriber_seconds_since_ack', { key })).toBeGreaterThanOrEqual(0)

      // Bounded by the time since just before the acknowledgement (ms precision).
      const sinceAck = async (before: number): Promise<number> => {
        const v = value(parsePrometheus(await metrics.text()), 'holdfast_subscriber_seconds_since_ack', { key })!
        expect(v).toBeLessThanOrEqual((Date.now() - before) / 1000)
        return v
      }
      let before = Date.now()
      await store.events.acknowledge(key, edges[0]!.cursor, 2, 'worker-1')
      await new Promise((r) => setTimeout(r, 30))
      expect(value(parsePrometheus(await metrics.text()), 'holdfast_subscriber_lag_events', { key })).toBe(2)
      expect(await sinceAck(before)).toBeGreaterThanOrEqual(0.02)

      before = Date.now()
      await store.events.acknowledge(key, edges[2]!.cursor, 0, 'worker-1')
      expect(value(parsePrometheus(await metrics.text()), 'holdfast_subscriber_lag_events', { key })).toBe(0)
      await sinceAck(before)

      await store.poison.tryPutPoison('table/1', 'proc-1')
      await store.poison.tryPutPoison(`subscription/${key}`, 'worker-1')
      families = parsePrometheus(await metrics.text())
      expect(value(families, 'holdfast_poison_keys_held')).toBe(2)
      expect(value(families, 'holdfast_subscriptions_parked')).toBe(1)
      await store.poison.clearPoison('table/1', 'ops')
      expect(value(parsePrometheus(await metrics.text()), 'holdfast_poison_keys_held')).toBe(1)
    })

    it('counts procedures by status, leaves runner leases out of the subscriber series, and caches the count', async () => {
      const runner = new ProcedureRunner(store, { retry: { attempts: 1 }, leaseMs: 1000 })
      try {
        runner.define('demo/ok', { poisonKeys: () => [], steps: { start: (state) => ({ next: 'done', state }) } })
        runner.define('demo/bad', {
          poisonKeys: () => ['res/1'],
          steps: {
            start: () => {
              throw new ProcedurePoisoned('half done')
            },
          },
        })
        const fresh = createMetrics(store, { procedures: { refreshMs: 0 } })
        const cached = createMetrics(store)
        expect(value(parsePrometheus(await cached.text()), 'holdfast_procedures', { status: 'done' })).toBe(0)
        await runner.run('demo/ok', { n: 1 })
        await runner.run('demo/ok', { n: 2 })
        await expect(runner.run('demo/bad', {})).rejects.toThrow()
        const families = parsePrometheus(await fresh.text())
        expect(value(families, 'holdfast_procedures', { status: 'done' })).toBe(2)
        expect(value(families, 'holdfast_procedures', { status: 'poisoned' })).toBe(1)
        expect(value(families, 'holdfast_procedures', { status: 'running' })).toBe(0)
        expect(value(families, 'holdfast_poison_keys_held')).toBe(1)
        // The runner's lease is a subscriber record, not a subscription.
        expect(families.get('holdfast_subscriber_lag_events')!.samples).toEqual([])
        // Counted once a minute by default.
        expect(value(parsePrometheus(await cached.text()), 'holdfast_procedures', { status: 'done' })).toBe(0)
        const limited = createMetrics(store, { procedures: { limit: 2, refreshMs: 0 } })
        expect(value(parsePrometheus(await limited.text()), 'holdfast_procedures_truncated')).toBe(1)
        expect(value(parsePrometheus(await fresh.text()), 'holdfast_procedures_truncated')).toBe(0)
        expect(createMetrics(store, { procedures: false, registry: new Registry() }).registry.getSingleMetric('holdfast_procedures')).toBeUndefined()
      } finally {
        await runner.close()
      }
    })

    it('caps the subscriber series at maxSubscribers, the first keys in key order', async () => {
      for (let i = 0; i < 6; i++) await store.events.upsertSubscriber(`sub-${i}`, 'w')
      // Lease keys sort among them and are stepped over.
      await store.events.claimSubscriber('holdfast/procedure-runner/r1', 'r1', 1000)
      await store.events.upsertSubscriber('a-first', 'w')
      const capped = parsePrometheus(await createMetrics(store, { maxSubscribers: 4 }).text())
      expect(capped.get('holdfast_subscriber_lag_events')!.samples.map((s) => s.labels.key)).toEqual(['a-first', 'sub-0', 'sub-1', 'sub-2'])
      expect(capped.get('holdfast_subscriber_seconds_since_ack')!.samples).toHaveLength(4)
      expect(value(capped, 'holdfast_subscriber_series_truncated')).toBe(1)
      const all = parsePrometheus(await createMetrics(store, { maxSubscribers: 7 }).text())
      expect(all.get('holdfast_subscriber_lag_events')!.samples).toHaveLength(7)
      expect(value(all, 'holdfast_subscriber_series_truncated')).toBe(0)
      // The default cap.
      for (let i = 0; i < 1001; i += 50) {
        await Promise.all(Array.from({ length: Math.min(50, 1001 - i) }, (_, j) => store.events.upsertSubscriber(`bulk-${String(i + j).padStart(4, '0')}`, 'w')))
      }
      const many = parsePrometheus(await createMetrics(store).text())
      expect(many.get('holdfast_subscriber_lag_events')!.samples).toHaveLength(1000)
      expect(value(many, 'holdfast_subscriber_series_truncated')).toBe(1)
    })

    it('refuses bad options and a second set of series in one registry', async () => {
      throwsWith(() => createMetrics(store, { maxSubscribers: 0 }), 'INVALID_ARGUMENT')
      throwsWith(() => createMetrics(store, { maxSubscribers: 10_001 }), 'INVALID_ARGUMENT')
      throwsWith(() => createMetrics(store, { procedures: { limit: 0 } }), 'INVALID_ARGUMENT')
      throwsWith(() => createMetrics({} as Store), 'INVALID_ARGUMENT')
      const registry = new Registry()
      createMetrics(store, { registry })
      expect(() => createMetrics(store, { registry })).toThrow(/already been registered/)
    })
  })
}

describe('the strict parser', () => {
  it('refuses what Prometheus refuses', () => {
    for (const bad of ['x{a="1} 1\n', 'x 1 2 3\n', 'x{a="\\t"} 1\n', 'x{1a="v"} 1\n', '# TYPE x nope\n', 'x 1\nx 2\n', 'x 1\ny 1\nx{a="b"} 1\n', 'x one\n', 'x 1'])
      expect(() => parsePrometheus(bad), bad).toThrow()
    expect(value(parsePrometheus('# HELP x a \\\\ help\n# TYPE x gauge\nx{a="q\\"\\n"} 1.5e3\n'), 'x', { a: 'q"\n' })).toBe(1500)
  })
})
