// A small store for the operator's tests: events of two types (JSON, text and binary payloads), a running and a
// parked subscriber, held poison keys with an audit record, packages with a rollback in their history, checkpoint
// traces, a finished and a poisoned procedure, and an Automerge document with a peer.
import { PersistentDoc } from '../src/automerge/index.js'
import { PackageRegistry, ProcedurePoisoned, ProcedureRunner, subscribe, type Store } from '../src/index.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

/** What the seed wrote, for the tests to check against. */
export interface Seeded {
  events: number
  /** The cursor of the third event (the running subscriber's). */
  cursor3: string
  running: string
  parked: string
  poisonHeld: string[]
  cleared: string
  invoice: { v1: string; v2: string }
  traces: string[]
  checkpointId: string
  procedures: { done: string; poisoned: string }
  document: string
  peer: string
}

/** Seeds `store` (empty) and resolves with what it wrote. */
export async function seed(store: Store): Promise<Seeded> {
  const events = [
    ...[1, 2, 3, 4].map((v) => ({ id: `ev-o1-${v}`, aggregatorType: 'shop/Order', aggregatorId: 'o1', version: v, name: v === 1 ? 'OrderPlaced' : 'LineAdded', data: text(JSON.stringify({ n: v })), routingKey: 'eu' })),
    { id: 'ev-o2-1', aggregatorType: 'shop/Order', aggregatorId: 'o2', version: 1, name: 'OrderPlaced', data: text('plain text note') },
    { id: 'ev-i1-1', aggregatorType: 'shop/Invoice', aggregatorId: 'i/1', version: 1, name: 'Issued', data: Uint8Array.of(0, 159, 255, 1) },
  ]
  for (const e of events) await store.events.write([e])
  const page = await store.events.read(null, null, { first: 10 })
  const cursor3 = page.edges[2]!.cursor

  // Running: a live lease, acknowledged up to the third event.
  const running = 'orders/projection'
  await store.events.claimSubscriber(running, 'worker-1', 3_600_000)
  await store.events.acknowledge(running, cursor3, 3, 'worker-1')

  // Parked: a handler that always fails, with one attempt.
  const parked = 'orders/emailer'
  const sub = subscribe(store, { key: parked, workerId: 'mailer-1', handler: () => Promise.reject(new Error('smtp down')), retry: { attempts: 1 }, leaseMs: 1000 })
  await new Promise<void>((resolve) => sub.on('parked', () => resolve()))
  await sub.stop()

  await store.poison.tryPutPoison('table/1', 'proc-a')
  await store.poison.tryPutPoison('account/alice', 'tx-9')
  await store.poison.tryPutPoison('table/2', 'proc-b')
  await store.poison.clearPoison('table/2', 'alice', 'stuck since Tuesday')

  const registry = new PackageRegistry(store)
  const v1 = (await registry.deploy('billing/invoice', text('invoice v1'), { by: 'ci', reason: 'first' })).contentHash
  const v2 = (await registry.deploy('billing/invoice', text('invoice v2'), { by: 'ci' })).contentHash
  await registry.rollback('billing/invoice', { by: 'oncall', reason: 'v2 double-bills' })
  await registry.deploy('shipping/label', text('label v1'), { by: 'ci' })

  for (const [trace, n] of [
    ['agent/run-1', 3],
    ['agent/run-2', 2],
  ] as const) {
    let parent: string | null = null
    for (let i = 1; i <= n; i++) {
      const id = `${trace}#${i}`
      await store.checkpoints.saveWithTrace(trace, { id, state: { step: i, messages: ['hi'].concat(i > 1 ? ['again'] : []) }, metadata: { node: `n${i}` }, parentId: parent })
      parent = id
    }
  }

  const runner = new ProcedureRunner(store, { runnerId: 'seed-runner', retry: { attempts: 1 } })
  runner.define<{ from: string; to: string }>('bank/transfer', {
    poisonKeys: (t) => [`account/${t.from}`],
    steps: {
      start: (t) => ({ next: 'credit', state: t }),
      credit: (t) => {
        if (t.to === 'nobody') throw new ProcedurePoisoned('no such account')
        return { next: 'done', state: t }
      },
    },
  })
  await runner.run('bank/transfer', { from: 'bob', to: 'carol' }, { id: 'tx-1' })
  await runner.run('bank/transfer', { from: 'dave', to: 'nobody' }, { id: 'tx-2' }).catch(() => {})
  await runner.close()

  const doc = await PersistentDoc.load<{ title?: string; items?: string[] }>(store.automerge('notes/1'))
  await doc.change((d) => {
    d.title = 'Shopping'
  })
  await doc.change((d) => {
    d.items = ['milk']
  }, 'add milk')
  await doc.flush()
  const peer = Uint8Array.of(0xca, 0xfe)
  await store.automerge('notes/1').setSyncState(peer, text('sync'))

  return {
    events: events.length,
    cursor3,
    running,
    parked,
    poisonHeld: ['account/alice', 'account/dave', 'subscription/orders/emailer', 'table/1'],
    cleared: 'table/2',
    invoice: { v1, v2 },
    traces: ['agent/run-1', 'agent/run-2'],
    checkpointId: 'agent/run-1#2',
    procedures: { done: 'tx-1', poisoned: 'tx-2' },
    document: 'notes/1',
    peer: 'cafe',
  }
}

/**
 * A canonical dump of everything an operator route can change, for before/after comparisons: events, subscribers
 * (without lease times), poison keys and audit, packages and routes, checkpoints, Automerge sizes.
 */
export async function dump(store: Store): Promise<string> {
  const events = await store.events.read(null, null, { first: 10_000 })
  const subscribers = (await store.events.listSubscribers({ limit: 10_000 })).map(({ leaseExpiresAt: _l, updatedAt: _u, ...s }) => s)
  const traces = await store.checkpoints.listTraces({ limit: 10_000 })
  const checkpoints = await Promise.all(traces.map(async (t) => [t.traceId, await store.checkpoints.list(t.traceId)]))
  const docs = await store.automergeDocuments({ limit: 10_000 })
  const sizes = await Promise.all(docs.map(async (d) => [d, await store.automerge(d).sizes(), (await store.automerge(d).getPeerIds()).length]))
  return JSON.stringify({
    events: events.edges.map((e) => [e.node.position, e.node.id]),
    subscribers,
    poison: await store.poison.listPoison(),
    audit: await store.poison.listPoisonAudit(),
    packages: await store.packages.listPackages({ withArchives: false }),
    routes: (await store.packages.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash]),
    checkpoints,
    sizes,
  })
}
