import { describe, expect, it } from 'vitest'
import type { Edge, Event } from '../src/index.js'
import { event } from '../src/testing/index.js'
import { backends } from './backends.js'

// Holdfast's own backends know what each of their commits stored, lone writes and group commits alike (SQLite from
// rowids, PostgreSQL from the append functions, memory directly), so a subscription that follows a busy store in
// this process reads nothing back. The conformance suite checks only that what a backend gives is exact.
for (const target of backends()) {
  describe(`committed events: ${target.name}`, () => {
    it('hands every listener the events of every commit made through the store', async () => {
      const store = await target.open()
      try {
        const given: Edge<Event>[] = []
        const stop = store.events.onCommitted((committed) => void (committed && given.push(...committed)))
        await store.events.write([event('lone', 1)])
        await Promise.all(Array.from({ length: 32 }, (_, i) => store.events.write([event(`w${i}`, 1)])))
        await store.events.write([event('pair', 1), event('pair', 2)])
        await new Promise((r) => setTimeout(r, 50))
        stop()
        expect(given.map((e) => e.node.position).sort((a, b) => a - b)).toEqual(Array.from({ length: 35 }, (_, i) => i + 1))
      } finally {
        await store.close()
      }
    })
  })
}
