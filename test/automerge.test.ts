import { join } from 'node:path'
import * as Automerge from '@automerge/automerge'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { changeAddress } from '../src/automerge/change-address.js'
import { PersistentDoc } from '../src/automerge/index.js'
import { openStore, type AutomergePersister, type Store } from '../src/index.js'
import { backends, tempDir } from './backends.js'

interface Todo {
  title?: string
  items?: string[]
  count?: Automerge.Counter
}

const PEER_A = new TextEncoder().encode('peer-a')
const PEER_B = new TextEncoder().encode('peer-b')

/** Persists a change at its own address, as a caller of the raw persister would. */
async function persist(p: AutomergePersister, changes: Uint8Array[]): Promise<void> {
  await p.insertChanges(changes.map((c) => {
    const { actor, seq } = Automerge.decodeChange(c)
    return [actor, seq, c] as const
  }))
}

/** Loads what `p` holds the way the spec describes: the document, then every change. */
async function reload<T>(p: AutomergePersister): Promise<Automerge.Doc<T>> {
  const document = await p.getDocument()
  const doc = document ? Automerge.load<T>(document) : Automerge.init<T>()
  return Automerge.applyChanges(doc, await p.getChanges())[0]
}

/** Appends to `items`, creating the list on first use (through the proxy: `(d.items ??= [])` would push to a copy). */
function push(d: Todo, item: string): void {
  if (!d.items) d.items = []
  d.items.push(item)
}

/** `p` with some methods replaced. */
function intercept(p: AutomergePersister, methods: Partial<AutomergePersister>): AutomergePersister {
  return new Proxy(p, {
    get(target, key) {
      const own = (methods as Record<PropertyKey, unknown>)[key]
      if (own !== undefined) return own
      const value: unknown = Reflect.get(target, key)
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
    },
  })
}

function expectSame<T>(a: Automerge.Doc<T>, b: Automerge.Doc<T>): void {
  expect(Automerge.getHeads(a).sort()).toEqual(Automerge.getHeads(b).sort())
  expect(Automerge.toJS(a)).toEqual(Automerge.toJS(b))
}

describe.each(backends())('real Automerge documents: $name', (target) => {
  let store: Store
  beforeEach(async () => {
    store = await target.open()
  })
  afterEach(async () => {
    await store.close()
  })

  it('reloads a document two actors edited, change by change, equal to the original', async () => {
    const p = store.automerge('shared')
    let alice = Automerge.init<Todo>({ actor: 'aa01' })
    let bob = Automerge.init<Todo>({ actor: 'bb02' })
    for (let i = 0; i < 30; i++) {
      const before = alice
      alice = Automerge.change(alice, (d) => {
        push(d, `alice ${i}`)
      })
      await persist(p, Automerge.getChanges(before, alice))
      const beforeBob = bob
      bob = Automerge.change(bob, (d) => {
        d.title = `bob's title ${i}`
      })
      await persist(p, Automerge.getChanges(beforeBob, bob))
      if (i % 10 === 9) {
        // The actors exchange changes now and then, so later changes depend on both histories.
        ;[alice] = Automerge.applyChanges(alice, Automerge.getAllChanges(bob))
        ;[bob] = Automerge.applyChanges(bob, Automerge.getAllChanges(alice))
      }
    }
    const merged = Automerge.merge(Automerge.clone(alice), bob)
    expect(await p.getChanges()).toHaveLength(60)
    expectSame(await reload<Todo>(p), merged)
    expect((await reload<Todo>(p)).items).toHaveLength(30)
  })

  it('persists PersistentDoc changes, compacts by hand and automatically, and reloads equal', async () => {
    const p = store.automerge('todo')
    const doc = await PersistentDoc.load<Todo>(p, { compactAfterBytes: Number.POSITIVE_INFINITY })
    for (let i = 0; i < 40; i++) await doc.change((d) => push(d, `item ${i}`))
    expect((await p.getChanges()).length).toBe(40)
    expect((await p.sizes()).document).toBe(0)
    await doc.compact()
    const sizes = await p.sizes()
    expect(sizes.changes).toBe(0)
    expect(sizes.document).toBe((await p.getDocument())!.byteLength)
    expectSame(await reload<Todo>(p), doc.doc)
    await doc.change((d) => void d.items!.push('after compaction'))
    expect(await p.getChanges()).toHaveLength(1)
    expectSame((await PersistentDoc.load<Todo>(p)).doc, doc.doc)

    const auto = await PersistentDoc.load<Todo>(store.automerge('auto'), { compactAfterBytes: 1024 })
    // Unawaited changes are applied in order and written in shared commits.
    await Promise.all(Array.from({ length: 300 }, (_, i) => auto.change((d) => push(d, `x${i}`))))
    await auto.flush()
    const autoSizes = await auto.persister.sizes()
    expect(autoSizes.document).toBeGreaterThan(0)
    expect(autoSizes.changes).toBeLessThan(Math.max(1024, autoSizes.document) + 1024)
    const again = await PersistentDoc.load<Todo>(store.automerge('auto'))
    expectSame(again.doc, auto.doc)
    await auto.close()
    expect((await auto.persister.sizes()).changes).toBe(0)
    expectSame((await PersistentDoc.load<Todo>(store.automerge('auto'))).doc, auto.doc)
    expect(again.doc.items).toEqual(Array.from({ length: 300 }, (_, i) => `x${i}`))
  })

  it('syncs two persistent documents, persisting received changes and each peer’s sync state', async () => {
    const a = await PersistentDoc.load<Todo>(store.automerge('replica-a'), { actor: 'a0a0' })
    const b = await PersistentDoc.load<Todo>(store.automerge('replica-b'), { actor: 'b0b0' })
    await a.change((d) => void (d.title = 'from a'))
    await b.change((d) => {
      d.items = ['from b']
      d.count = new Automerge.Counter(1)
    })
    for (let round = 0; round < 10; round++) {
      const toB = await a.generateSyncMessage(PEER_B)
      if (toB) await b.receiveSyncMessage(PEER_A, toB)
      const toA = await b.generateSyncMessage(PEER_A)
      if (toA) await a.receiveSyncMessage(PEER_B, toA)
      if (!toA && !toB) break
    }
    expectSame(a.doc, b.doc)
    expect(a.doc).toMatchObject({ title: 'from a', items: ['from b'] })
    expect(await a.persister.getPeerIds()).toEqual([PEER_B])
    expect(await b.persister.getPeerIds()).toEqual([PEER_A])
    // What each replica received is stored: reloading either gives the merged document.
    expectSame(await reload<Todo>(store.automerge('replica-a')), b.doc)
    expectSame(await reload<Todo>(store.automerge('replica-b')), a.doc)
    // A reloaded replica resumes from its stored sync state: nothing left to send.
    const a2 = await PersistentDoc.load<Todo>(store.automerge('replica-a'))
    const b2 = await PersistentDoc.load<Todo>(store.automerge('replica-b'))
    const m1 = await a2.generateSyncMessage(PEER_B)
    if (m1) await b2.receiveSyncMessage(PEER_A, m1)
    expectSame(b2.doc, a.doc)
    await a2.resetSyncState(PEER_B)
    expect(await a2.persister.getPeerIds()).toEqual([])
    await b2.compact([PEER_A])
    expect(await b2.persister.getPeerIds()).toEqual([])
  })

  it('resolves a change only once every change before it is stored, so a reload holds it', async () => {
    const real = store.automerge('ordered')
    // The first write is held back, as a statement can be on a busy pooled connection, until the second change
    // resolves or 100 ms pass.
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    let calls = 0
    const held = intercept(real, {
      insertChanges: async (changes) => {
        if (calls++ === 0) await gate
        return real.insertChanges(changes)
      },
    })
    const doc = await PersistentDoc.load<Todo>(held)
    const first = doc.change((d) => push(d, 'first'))
    await new Promise((r) => setImmediate(r))
    const timer = setTimeout(release, 100)
    await doc.change((d) => push(d, 'second'))
    release()
    clearTimeout(timer)
    expect((await PersistentDoc.load<Todo>(real)).doc.items).toEqual(['first', 'second'])
    await first
    expect(calls).toBe(2)
  })

  it('loads everything when a compaction elsewhere commits between its reads', async () => {
    const real = store.automerge('compacted-meanwhile')
    const writer = await PersistentDoc.load<Todo>(real, { compactAfterBytes: Number.POSITIVE_INFINITY })
    for (let i = 0; i < 5; i++) await writer.change((d) => push(d, `w${i}`))
    // Whichever read comes first, the writer compacts right after it and before the other read runs.
    let firstRead: Promise<unknown> | undefined
    const read = <R>(fn: () => Promise<R>): Promise<R> => {
      if (firstRead) return firstRead.then(fn)
      const result = fn()
      firstRead = result.then(() => writer.compact())
      return firstRead.then(() => result)
    }
    const racing = intercept(real, { getChanges: () => read(() => real.getChanges()), getDocument: () => read(() => real.getDocument()) })
    const loaded = await PersistentDoc.load<Todo>(racing)
    expect((await real.sizes()).changes).toBe(0)
    expect(loaded.doc.items).toEqual(['w0', 'w1', 'w2', 'w3', 'w4'])
  })

  it('persists only the new ones among applied changes', async () => {
    const source = Automerge.change(Automerge.init<Todo>(), (d) => void (d.title = 'x'))
    const doc = await PersistentDoc.load<Todo>(store.automerge('applied'))
    await doc.applyChanges(Automerge.getAllChanges(source))
    await doc.applyChanges(Automerge.getAllChanges(source))
    expect(await doc.persister.getChanges()).toHaveLength(1)
    expectSame(doc.doc, source)
  })
})

describe('Automerge persistence across a restart (SQLite file)', () => {
  const dir = tempDir()

  it('reloads after close and reopen, with the document and the changes since', async () => {
    const path = join(dir, 'restart.db')
    let store = await openStore(path)
    const doc = await PersistentDoc.load<Todo>(store.automerge('d'), { compactAfterBytes: 512 })
    for (let i = 0; i < 50; i++) await doc.change((d) => push(d, `i${i}`))
    const before = Automerge.getHeads(doc.doc)
    await store.close()
    store = await openStore(path)
    try {
      const again = await PersistentDoc.load<Todo>(store.automerge('d'))
      expect(Automerge.getHeads(again.doc)).toEqual(before)
      expect(again.doc.items).toHaveLength(50)
      const sizes = await store.automerge('d').sizes()
      expect(sizes.document).toBeGreaterThan(0)
    } finally {
      await store.close()
    }
  })

  it("flush() syncs what synchronous: 'normal' left pending, and reports its bytes", async () => {
    const store = await openStore({ url: join(dir, 'normal.db'), synchronous: 'normal' })
    try {
      const p = store.automerge('d')
      await p.insertChanges([['aa', 1, new Uint8Array(100)]])
      await p.setSyncState(PEER_A, new Uint8Array(10))
      expect(await p.flush()).toBe(110)
      expect(await p.flush()).toBe(0)
    } finally {
      await store.close()
    }
    const full = await openStore(join(dir, 'full.db'))
    try {
      await full.automerge('d').insertChanges([['aa', 1, new Uint8Array(100)]])
      expect(await full.automerge('d').flush()).toBe(0)
    } finally {
      await full.close()
    }
  })
})

describe('reading change addresses from headers', () => {
  it('agrees with Automerge.decodeChange on small, large and long-history changes', () => {
    let doc = Automerge.init<Todo>({ actor: 'ab'.repeat(32) })
    const changes: Uint8Array[] = []
    for (let i = 0; i < 300; i++) {
      doc = Automerge.change(doc, (d) => push(d, i % 50 === 0 ? 'x'.repeat(20_000 + i) : `item ${i}`))
      changes.push(Automerge.getLastLocalChange(doc)!)
    }
    let other = Automerge.init<Todo>({ actor: '01' })
    ;[other] = Automerge.applyChanges(other, changes)
    other = Automerge.change(other, (d) => void (d.title = 'merged'))
    changes.push(Automerge.getLastLocalChange(other)!)
    expect(changeAddress(changes[299]!).seq).toBe(300) // a sequence number of two LEB128 bytes
    for (const c of changes) {
      const { actor, seq } = Automerge.decodeChange(c)
      expect(changeAddress(c)).toEqual({ actor, seq, bytes: c.byteLength })
    }
  })
})
