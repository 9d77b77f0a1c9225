// Model-based test of the Automerge persister: memory, SQLite and PGlite agree on random operation sequences.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { compareBackends, outcome } from './model-harness.js'

const docId = fc.constantFrom('d', 'd1', 'D', 'd/é')
const actor = fc.constantFrom<Uint8Array | string>(Uint8Array.of(0xaa), 'aa', Uint8Array.of(0xaa, 0x00), Uint8Array.of(0x01), 'ff00')
const seq = fc.constantFrom(0, 1, 2, 3, Number.MAX_SAFE_INTEGER)
const payload = fc.uint8Array({ maxLength: 12 })
const peer = fc.constantFrom(Uint8Array.of(0x00), Uint8Array.of(0x00, 0x01), Uint8Array.of(0xff), Uint8Array.of(0x7f))
const address = fc.tuple(actor, seq)
const op = fc.oneof(
  fc.record({ op: fc.constant('insert' as const), docId, changes: fc.array(fc.tuple(actor, seq, payload), { maxLength: 4 }) }),
  fc.record({ op: fc.constant('remove' as const), docId, changes: fc.array(address, { maxLength: 4 }) }),
  fc.record({ op: fc.constant('setDocument' as const), docId, data: payload }),
  fc.record({ op: fc.constant('compact' as const), docId, data: payload, changes: fc.array(address, { maxLength: 4 }), peers: fc.array(peer, { maxLength: 2 }) }),
  fc.record({ op: fc.constant('setSync' as const), docId, peer, data: payload }),
  fc.record({ op: fc.constant('removeSync' as const), docId, peers: fc.array(peer, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('read' as const), docId, peer }),
  fc.record({ op: fc.constant('bad' as const), docId, seq: fc.constantFrom(-1, 0.5, Number.NaN) }),
)

describe('Automerge persister model', () => {
  it(
    'gives the same results on memory, SQLite and PGlite',
    { timeout: 240_000 },
    compareBackends(op, (store, o) =>
      outcome(async () => {
        const p = store.automerge(o.docId)
        switch (o.op) {
          case 'insert':
            return p.insertChanges(o.changes)
          case 'remove':
            return p.removeChanges(o.changes)
          case 'setDocument':
            return p.setDocument(o.data)
          case 'compact':
            return p.compact(o.data, o.changes, o.peers)
          case 'setSync':
            return p.setSyncState(o.peer, o.data)
          case 'removeSync':
            return p.removeSyncStates(o.peers)
          case 'read':
            return {
              changes: await p.getChanges(),
              document: await p.getDocument(),
              peers: await p.getPeerIds(),
              sync: await p.getSyncState(o.peer),
              sizes: await p.sizes(),
            }
          case 'bad':
            return p.insertChanges([[Uint8Array.of(1), o.seq, Uint8Array.of(1)]])
        }
      }),
    ),
  )
})
