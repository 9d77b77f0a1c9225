import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { AutomergePersister, StoredSizes } from '../automerge/types.js'
import type { Store } from '../store.js'
import { bytes, rejectsWith, throwsWith, type ConformanceTarget } from './helpers.js'

const A = Uint8Array.of(0xa1, 0x01)
const B = Uint8Array.of(0xb2, 0x02)

/** Changes as sorted strings: the contract leaves their order open. */
async function changeSet(p: AutomergePersister): Promise<string[]> {
  return (await p.getChanges()).map((c) => Buffer.from(c).toString()).sort()
}

/** Everything one document holds, to show that a refused call changed nothing. */
async function snapshot(p: AutomergePersister): Promise<unknown> {
  const peers = await p.getPeerIds()
  return {
    changes: await changeSet(p),
    document: await p.getDocument(),
    peers: await Promise.all(peers.map(async (peer) => [peer, await p.getSyncState(peer)])),
    sizes: await p.sizes(),
  }
}

/** Registers the Automerge persister conformance cases (`spec/automerge.md`) for `target` with vitest. */
export function runAutomergePersisterSuite(target: ConformanceTarget): void {
  describe(`automerge persister conformance: ${target.name}`, () => {
    let store: Store
    let doc: AutomergePersister
    beforeEach(async () => {
      store = await target.open()
      doc = store.automerge('doc-1')
    })
    afterEach(async () => {
      await store.close()
    })

    it('starts empty', async () => {
      expect(doc.documentId).toBe('doc-1')
      expect(await doc.getChanges()).toEqual([])
      expect(await doc.getDocument()).toBeNull()
      expect(await doc.getPeerIds()).toEqual([])
      expect(await doc.getSyncState(A)).toBeNull()
      expect(await doc.sizes()).toEqual({ changes: 0, document: 0, syncStates: 0 } satisfies StoredSizes)
      expect(await doc.flush()).toBeGreaterThanOrEqual(0)
    })

    it('lists documents with anything stored, in text order, paged by the last id (automergeDocuments)', async () => {
      expect(await store.automergeDocuments()).toEqual([])
      await store.automerge('read-only').getChanges()
      await store.automerge('c').insertChanges([[A, 1, bytes('x')]])
      await store.automerge('a/1').setDocument(bytes('d'))
      await store.automerge('\u{1F600}').setSyncState(A, bytes('s'))
      await store.automerge('\uE000').insertChanges([[A, 1, bytes('x')], [B, 1, bytes('y')]])
      await store.automerge('\uE000').setDocument(bytes('d'))
      await store.automerge('b').insertChanges([[A, 1, bytes('x')]])
      await store.automerge('b').removeChanges([[A, 1]])
      expect(await store.automergeDocuments()).toEqual(['a/1', 'c', '\uE000', '\u{1F600}'])
      expect(await store.automergeDocuments({ limit: 2 })).toEqual(['a/1', 'c'])
      expect(await store.automergeDocuments({ after: 'c', limit: 1 })).toEqual(['\uE000'])
      expect(await store.automergeDocuments({ after: '\u{1F600}' })).toEqual([])
      for (const bad of [{ limit: 0 }, { limit: 10_001 }, { after: '' }, { after: 3 }, 'x'])
        await rejectsWith(store.automergeDocuments(bad as never), 'INVALID_ARGUMENT')
    })

    it('stores changes by (actor, sequence number); re-inserting an address replaces it', async () => {
      await doc.insertChanges([
        [A, 1, bytes('a1')],
        [A, 2, bytes('a2')],
        [B, 1, bytes('b1')],
      ])
      expect(await changeSet(doc)).toEqual(['a1', 'a2', 'b1'])
      await doc.insertChanges([[A, 2, bytes('a2-replaced')]])
      expect(await changeSet(doc)).toEqual(['a1', 'a2-replaced', 'b1'])
      expect((await doc.sizes()).changes).toBe(2 + 11 + 2)
      // In one batch the last entry for an address wins, as if inserted one after another.
      await doc.insertChanges([
        [B, 7, bytes('first')],
        [B, 7, bytes('last')],
      ])
      expect(await changeSet(doc)).toEqual(['a1', 'a2-replaced', 'b1', 'last'])
      await doc.insertChanges([])
      expect(await changeSet(doc)).toHaveLength(4)
    })

    it('accepts actor ids as bytes or as hex, naming the same address', async () => {
      await doc.insertChanges([['a101', 1, bytes('hex')]])
      await doc.insertChanges([[A, 1, bytes('bytes')]])
      expect(await changeSet(doc)).toEqual(['bytes'])
      await doc.removeChanges([['A101', 1]])
      expect(await doc.getChanges()).toEqual([])
    })

    it('keeps sequence numbers 0 and 2^53 - 1 apart from their neighbours', async () => {
      const max = Number.MAX_SAFE_INTEGER
      await doc.insertChanges([
        [A, 0, bytes('zero')],
        [A, max, bytes('max')],
        [A, max - 1, bytes('max-1')],
      ])
      await doc.removeChanges([[A, max - 1]])
      expect(await changeSet(doc)).toEqual(['max', 'zero'])
    })

    it('removes changes, absent addresses included, without error', async () => {
      await doc.insertChanges([
        [A, 1, bytes('a1')],
        [A, 2, bytes('a2')],
        [B, 1, bytes('b1')],
      ])
      await doc.removeChanges([
        [A, 1],
        [B, 9],
        [Uint8Array.of(9), 1],
        [A, 1],
      ])
      expect(await changeSet(doc)).toEqual(['a2', 'b1'])
      await doc.removeChanges([])
      await doc.removeChanges([[B, 1]])
      expect(await changeSet(doc)).toEqual(['a2'])
      expect((await doc.sizes()).changes).toBe(2)
    })

    it('saves the compacted document, the last one winning', async () => {
      await doc.setDocument(bytes('v1'))
      await doc.setDocument(bytes('version 2'))
      expect(await doc.getDocument()).toEqual(bytes('version 2'))
      expect((await doc.sizes()).document).toBe(9)
      await doc.setDocument(new Uint8Array(0))
      expect(await doc.getDocument()).toEqual(new Uint8Array(0))
    })

    it('round-trips large payloads and every byte value exactly', async () => {
      const big = new Uint8Array(5 * 1024 * 1024 + 3)
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 0xff
      const all = Uint8Array.from({ length: 256 }, (_, i) => i)
      await doc.setDocument(big)
      await doc.insertChanges([[A, 1, all]])
      expect(Buffer.compare(Buffer.from((await doc.getDocument())!), Buffer.from(big))).toBe(0)
      expect(await doc.getChanges()).toEqual([all])
      expect(await doc.sizes()).toEqual({ changes: 256, document: big.length, syncStates: 0 })
    })

    it('compacts in one step: new document, named changes and peers gone, the rest kept', async () => {
      await doc.insertChanges([
        [A, 1, bytes('a1')],
        [A, 2, bytes('a2')],
        [B, 1, bytes('b1')],
      ])
      await doc.setSyncState(A, bytes('sA'))
      await doc.setSyncState(B, bytes('sB'))
      await doc.compact(bytes('doc'), [
        [A, 1],
        [A, 2],
      ], [A])
      expect(await doc.getDocument()).toEqual(bytes('doc'))
      expect(await changeSet(doc)).toEqual(['b1'])
      expect(await doc.getPeerIds()).toEqual([B])
      await doc.compact(bytes('doc2'), [])
      expect(await doc.getDocument()).toEqual(bytes('doc2'))
      expect(await changeSet(doc)).toEqual(['b1'])
    })

    it('refuses a compaction with one bad address as a whole', async () => {
      await doc.insertChanges([[A, 1, bytes('a1')]])
      await doc.setDocument(bytes('old'))
      const before = await snapshot(doc)
      await rejectsWith(doc.compact(bytes('new'), [[A, 1], [A, -1]]), 'INVALID_ARGUMENT')
      await rejectsWith(doc.compact(bytes('new'), [[A, 1]], [bytes('ok'), 'not bytes' as unknown as Uint8Array]), 'INVALID_ARGUMENT')
      expect(await snapshot(doc)).toEqual(before)
    })

    it('keeps a sync state per peer and lists peers in byte order', async () => {
      const peers = [Uint8Array.of(0xff), Uint8Array.of(0x00, 0x01), Uint8Array.of(0x01), Uint8Array.of(0x00), bytes('peer-é')]
      for (const [i, p] of peers.entries()) await doc.setSyncState(p, bytes(`state-${i}`))
      expect(await doc.getPeerIds()).toEqual([Uint8Array.of(0x00), Uint8Array.of(0x00, 0x01), Uint8Array.of(0x01), bytes('peer-é'), Uint8Array.of(0xff)])
      expect(await doc.getSyncState(Uint8Array.of(0x00, 0x01))).toEqual(bytes('state-1'))
      await doc.setSyncState(Uint8Array.of(0x00, 0x01), bytes('newer'))
      expect(await doc.getSyncState(Uint8Array.of(0x00, 0x01))).toEqual(bytes('newer'))
      expect((await doc.sizes()).syncStates).toBe(5 + 7 + 7 + 7 + 7)
      await doc.removeSyncStates([Uint8Array.of(0xff), Uint8Array.of(0x00), Uint8Array.of(0x42)])
      expect(await doc.getPeerIds()).toEqual([Uint8Array.of(0x00, 0x01), Uint8Array.of(0x01), bytes('peer-é')])
      expect(await doc.getSyncState(Uint8Array.of(0xff))).toBeNull()
      await doc.removeSyncStates([])
      expect(await doc.getPeerIds()).toHaveLength(3)
    })

    it('reports sizes equal to the bytes it returns', async () => {
      await doc.insertChanges(Array.from({ length: 40 }, (_, i) => [A, i, new Uint8Array(i * 13)] as const))
      await doc.setDocument(new Uint8Array(777))
      await doc.setSyncState(A, new Uint8Array(55))
      await doc.setSyncState(B, new Uint8Array(45))
      const changes = (await doc.getChanges()).reduce((n, c) => n + c.byteLength, 0)
      const document = (await doc.getDocument())!.byteLength
      let syncStates = 0
      for (const p of await doc.getPeerIds()) syncStates += (await doc.getSyncState(p))!.byteLength
      expect(await doc.sizes()).toEqual({ changes, document, syncStates })
      expect(changes).toBe((39 * 40 * 13) / 2)
    })

    it('keeps documents apart, whatever their ids look like', async () => {
      const ids = ['doc-1', 'doc-10', 'DOC-1', 'doc-1 ', 'doc%', 'doc_1', 'dóc-1', 'doc-1/x']
      for (const id of ids) {
        const p = store.automerge(id)
        await p.insertChanges([[A, 1, bytes(`change of ${id}`)]])
        await p.setDocument(bytes(`document of ${id}`))
        await p.setSyncState(B, bytes(`sync of ${id}`))
      }
      for (const id of ids) {
        const p = store.automerge(id)
        expect(await changeSet(p)).toEqual([`change of ${id}`])
        expect(await p.getDocument()).toEqual(bytes(`document of ${id}`))
        expect(await p.getSyncState(B)).toEqual(bytes(`sync of ${id}`))
        expect(await p.getPeerIds()).toEqual([B])
      }
      await store.automerge('doc-1').removeChanges([[A, 1]])
      await store.automerge('doc-1').removeSyncStates([B])
      expect(await changeSet(store.automerge('doc-10'))).toEqual(['change of doc-10'])
      expect(await store.automerge('doc-10').getPeerIds()).toEqual([B])
      expect(await store.automerge('never-written').sizes()).toEqual({ changes: 0, document: 0, syncStates: 0 })
    })

    it('stores copies: changing a buffer after the call changes nothing stored', async () => {
      const change = bytes('original')
      const actor = Uint8Array.of(1, 2, 3)
      await doc.insertChanges([[actor, 1, change]])
      change.fill(0)
      actor.fill(9)
      const [got] = await doc.getChanges()
      expect(got).toEqual(bytes('original'))
      got!.fill(0)
      expect(await doc.getChanges()).toEqual([bytes('original')])
      await doc.removeChanges([[Uint8Array.of(1, 2, 3), 1]])
      expect(await doc.getChanges()).toEqual([])
    })

    it('commits concurrent writes from many callers, each whole', async () => {
      await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          doc.insertChanges([
            [A, i, bytes(`a${i}`)],
            [B, i, bytes(`b${i}`)],
          ]),
        ),
      )
      expect(await doc.getChanges()).toHaveLength(100)
    })

    it('rejects bad input with INVALID_ARGUMENT and changes nothing', async () => {
      await doc.insertChanges([[A, 1, bytes('a1')]])
      await doc.setDocument(bytes('doc'))
      await doc.setSyncState(A, bytes('s'))
      const before = await snapshot(doc)
      const bad = (v: unknown) => v as never
      const oversized = new Uint8Array(64 * 1024 * 1024 + 1)
      const attempts: Promise<unknown>[] = [
        doc.insertChanges(bad(null)),
        doc.insertChanges(bad([[A, 1]])),
        doc.insertChanges(bad([[A, 1, 'text']])),
        doc.insertChanges(bad([[A, -1, bytes('x')]])),
        doc.insertChanges(bad([[A, 1.5, bytes('x')]])),
        doc.insertChanges(bad([[A, Number.NaN, bytes('x')]])),
        doc.insertChanges(bad([[A, 2 ** 53, bytes('x')]])),
        doc.insertChanges(bad([[A, '1', bytes('x')]])),
        doc.insertChanges(bad([[new Uint8Array(0), 1, bytes('x')]])),
        doc.insertChanges(bad([['xyz', 1, bytes('x')]])),
        doc.insertChanges(bad([['abc', 1, bytes('x')]])),
        doc.insertChanges(bad([[new Uint8Array(1025), 1, bytes('x')]])),
        doc.insertChanges(bad([[42, 1, bytes('x')]])),
        doc.insertChanges([[B, 5, bytes('fine')], [A, 1, oversized]]),
        doc.removeChanges(bad('A:1')),
        doc.removeChanges(bad([[A, 1, bytes('extra')]])),
        doc.removeChanges(bad([[A, 1], [A, -3]])),
        doc.setDocument(bad('text')),
        doc.setDocument(bad(null)),
        doc.setDocument(oversized),
        doc.compact(oversized, [[A, 1]]),
        doc.getSyncState(bad('peer')),
        doc.getSyncState(new Uint8Array(0)),
        doc.setSyncState(bad('peer'), bytes('s')),
        doc.setSyncState(B, bad(undefined)),
        doc.setSyncState(B, oversized),
        doc.removeSyncStates(bad(A)),
        doc.removeSyncStates(bad([A, 'B'])),
      ]
      for (const [i, attempt] of attempts.entries()) {
        const err = await rejectsWith(attempt, 'INVALID_ARGUMENT')
        expect(err.message.length, `attempt ${i}`).toBeGreaterThan(10)
      }
      expect(await snapshot(doc)).toEqual(before)
      for (const id of ['', 'x'.repeat(1025), 'a\0b', '\ud800', 42, null]) throwsWith(() => store.automerge(id as string), 'INVALID_ARGUMENT')
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      throwsWith(() => store.automerge('doc-2'), 'STORE_CLOSED')
      const calls: Promise<unknown>[] = [
        doc.getChanges(),
        doc.insertChanges([[A, 1, bytes('x')]]),
        doc.removeChanges([[A, 1]]),
        doc.getDocument(),
        doc.setDocument(bytes('d')),
        doc.compact(bytes('d'), []),
        doc.getSyncState(A),
        doc.setSyncState(A, bytes('s')),
        doc.removeSyncStates([A]),
        doc.getPeerIds(),
        doc.sizes(),
        doc.flush(),
      ]
      for (const call of calls) await rejectsWith(call, 'STORE_CLOSED')
    })
  })
}
