import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { ChunkStore } from '../automerge/chunk-store.js'
import type { Store } from '../store.js'
import { rejectsWith, throwsWith, type ConformanceTarget } from './helpers.js'

/** Registers the chunk store conformance cases (automerge-repo's storage, `store.chunks`) for `target` with vitest. */
export function runChunkStoreSuite(target: ConformanceTarget): void {
  describe(`chunk store conformance: ${target.name}`, () => {
    let store: Store
    let chunks: ChunkStore
    beforeEach(async () => {
      store = await target.open()
      chunks = store.chunks()
    })
    afterEach(async () => {
      await store.close()
    })

    const range = async (prefix: string[], c = chunks) => (await c.loadRange(prefix)).map((x) => x.key)

    it('saves, replaces, loads and removes a chunk', async () => {
      expect(await chunks.load(['d', 'x'])).toBeUndefined()
      await chunks.save(['d', 'x'], Uint8Array.of(1, 2))
      await chunks.save(['d', 'x'], Uint8Array.of(3))
      expect(await chunks.load(['d', 'x'])).toEqual(Uint8Array.of(3))
      await chunks.remove(['d', 'x'])
      await chunks.remove(['d', 'never'])
      expect(await chunks.load(['d', 'x'])).toBeUndefined()
    })

    it('matches prefixes by whole parts, whatever characters the parts hold, in order of first save', async () => {
      const keys = [['doc1'], ['doc1', 'x'], ['doc10', 'x'], ['doc1\0', 'x'], ['doc1', ''], ['doc1.%_*?\\ é/', 'y'], ['do'], ['', 'empty first']]
      for (const [i, key] of keys.entries()) await chunks.save(key, Uint8Array.of(i))
      await chunks.save(['doc1'], Uint8Array.of(9)) // a re-save keeps its place
      expect(await range(['doc1'])).toEqual([['doc1'], ['doc1', 'x'], ['doc1', '']])
      expect((await chunks.loadRange(['doc1']))[0]!.data).toEqual(Uint8Array.of(9))
      expect(await range(['doc1', 'x'])).toEqual([['doc1', 'x']])
      expect(await range(['doc1.%_*?\\ é/'])).toEqual([['doc1.%_*?\\ é/', 'y']])
      expect(await range(['doc'])).toEqual([])
      expect(await range(['doc1\0'])).toEqual([['doc1\0', 'x']])
      expect(await range([''])).toEqual([['', 'empty first']])
      expect(await range([])).toHaveLength(keys.length)
      await chunks.removeRange(['doc1'])
      expect(await chunks.load(['doc1', 'x'])).toBeUndefined()
      expect(await chunks.load(['doc10', 'x'])).toEqual(Uint8Array.of(2))
      expect(await chunks.load(['doc1\0', 'x'])).toEqual(Uint8Array.of(3))
      expect(await range([])).toHaveLength(keys.length - 3)
      await chunks.removeRange([])
      expect(await range([])).toEqual([])
    })

    it('keeps namespaces apart', async () => {
      const other = store.chunks('other')
      await chunks.save(['d'], Uint8Array.of(1))
      await other.save(['d'], Uint8Array.of(2))
      expect(await other.load(['d'])).toEqual(Uint8Array.of(2))
      await other.removeRange([])
      expect(await chunks.load(['d'])).toEqual(Uint8Array.of(1))
      expect(other.namespace).toBe('other')
    })

    it('rejects bad input with INVALID_ARGUMENT and changes nothing', async () => {
      await chunks.save(['d'], Uint8Array.of(1))
      const bad = (v: unknown) => v as never
      for (const attempt of [
        chunks.save([], Uint8Array.of(1)),
        chunks.save(bad('d'), Uint8Array.of(1)),
        chunks.save(bad(['d', 1]), Uint8Array.of(1)),
        chunks.save(['\ud800'], Uint8Array.of(1)),
        chunks.save(['x'.repeat(3000)], Uint8Array.of(1)),
        chunks.save(['d'], bad('text')),
        chunks.save(['d'], new Uint8Array(64 * 1024 * 1024 + 1)),
        chunks.load([]),
        chunks.loadRange(bad(null)),
        chunks.removeRange(bad([null])),
      ])
        await rejectsWith(attempt, 'INVALID_ARGUMENT')
      expect(await chunks.loadRange([])).toEqual([{ key: ['d'], data: Uint8Array.of(1) }])
      throwsWith(() => store.chunks(bad(42)), 'INVALID_ARGUMENT')
    })

    it('refuses every call after close() with STORE_CLOSED', async () => {
      await store.close()
      throwsWith(() => store.chunks(), 'STORE_CLOSED')
      for (const call of [chunks.load(['d']), chunks.save(['d'], Uint8Array.of(1)), chunks.remove(['d']), chunks.loadRange([]), chunks.removeRange([])])
        await rejectsWith(call, 'STORE_CLOSED')
    })
  })
}
