import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { jsonSerializer, openStore, richSerializer } from '../src/index.js'
import { rejectsWith } from '../src/testing/index.js'
import { tempDir } from './backends.js'

const dir = tempDir()

describe('checkpoint serializers', () => {
  const rich = {
    bytes: new Uint8Array([0, 1, 255]),
    when: new Date('2026-11-23T10:00:00.123Z'),
    map: new Map<unknown, unknown>([['k', 1n], [2, new Set(['a', 'b'])]]),
    big: 2n ** 70n,
    nested: [{ missing: undefined, inf: -Infinity }, null, 'text'],
    lookalike: { '$hf:date': 5 },
  }

  it('round-trips bytes, dates, maps, sets, bigints and tag look-alikes through a SQLite file and memory', async () => {
    for (const url of [join(dir, 'rich.db'), 'memory:']) {
      const store = await openStore({ url, checkpointSerializer: richSerializer })
      await store.checkpoints.saveWithTrace('t', { id: 'c', state: rich })
      await store.close()
      if (url === 'memory:') continue
      const again = await openStore({ url, checkpointSerializer: richSerializer })
      expect((await again.checkpoints.load('c'))!.state).toEqual(rich)
      await again.close()
    }
  })

  it('uses JSON by default and refuses what JSON cannot hold', async () => {
    const store = await openStore('memory:')
    await rejectsWith(store.checkpoints.saveWithTrace('t', { id: 'c', state: { n: 1n } }), 'INVALID_ARGUMENT')
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    await rejectsWith(store.checkpoints.saveWithTrace('t', { id: 'c', state: cyclic }), 'INVALID_ARGUMENT')
    expect(() => richSerializer.serialize(cyclic)).toThrow(/cycle/)
    expect(new TextDecoder().decode(jsonSerializer.serialize({ a: [1] }))).toBe('{"a":[1]}')
    await store.close()
  })

  it('refuses a serializer without functions', async () => {
    await rejectsWith(openStore({ url: 'memory:', checkpointSerializer: {} as never }), 'INVALID_ARGUMENT')
  })
})
