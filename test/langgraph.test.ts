// LangGraph's own checkpointer validation suite (@langchain/langgraph-checkpoint-validation) on every backend, and a
// real graph resumed across a SIGKILL.
import { join } from 'node:path'
import * as vitest from 'vitest'
import { openStore } from '../src/index.js'
import { HoldfastSaver } from '../src/langgraph/index.js'
import { backends, PG_URL, tempDir, uniqueSchema } from './backends.js'
import { spawnChild } from './children/spawn.js'

// The suite calls describe/it/expect as globals (vitest's `globals: true`); give them to it for this file only.
const { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach } = vitest
Object.assign(globalThis, { describe, it, expect, beforeAll, afterAll, beforeEach, afterEach })
const { validate } = await import('@langchain/langgraph-checkpoint-validation')

for (const target of backends()) {
  validate<HoldfastSaver>({
    checkpointerName: `HoldfastSaver on ${target.name}`,
    createCheckpointer: async () => new HoldfastSaver(await target.open()),
    destroyCheckpointer: (saver) => saver.store.close(),
  })
}

describe('a StateGraph interrupted in one process and resumed from the store by another', () => {
  const targets: [string, () => { url: string; schema: string }][] = [['SQLite file', () => ({ url: join(tempDir(), 'graph.db'), schema: '-' })]]
  const pgUrl = PG_URL
  if (pgUrl) targets.push(['PostgreSQL server', () => ({ url: pgUrl, schema: uniqueSchema() })])

  it.each(targets)('finishes with the right state: %s', { timeout: 60_000 }, async (_name, where) => {
    const { url, schema } = where()
    const first = spawnChild('langgraph-graph.ts', [url, schema, 'start', 'trip-1'])
    expect(await first.nextLine()).toMatch(/^interrupted \[\{"id":"\w+","value":\{"question":"approve\?"\}\}\]$/)
    // Killed, not closed: whatever it reported must already be in the store.
    first.proc.kill('SIGKILL')
    expect(await first.exited).toBe('SIGKILL')

    const second = spawnChild('langgraph-graph.ts', [url, schema, 'resume', 'trip-1'])
    const [, pid, json] = /^done (\d+) (.*)$/.exec(await second.nextLine())!
    expect(await second.exited).toBe(0)
    // research finished in the first process: its pending write was resumed, not re-run.
    expect(JSON.parse(json!)).toEqual({
      topic: 'lisbon',
      log: [`research on lisbon by ${first.proc.pid}`, `review by ${pid}`],
      verdict: 'approved',
      summary: 'lisbon: approved',
    })

    const store = await openStore(schema === '-' ? url : { url, schema })
    try {
      const saver = new HoldfastSaver(store)
      const history = []
      for await (const t of saver.list({ configurable: { thread_id: 'trip-1' } })) history.push(t)
      expect(history.some((t) => t.config.configurable?.checkpoint_ns !== '')).toBe(true) // the subgraph's
      const latest = await saver.getTuple({ configurable: { thread_id: 'trip-1' } })
      expect(latest?.checkpoint.channel_values).toMatchObject({ verdict: 'approved', summary: 'lisbon: approved' })
      expect((await store.checkpoints.listTraces()).map((t) => t.traceId)).toContain('trip-1')
    } finally {
      await store.close()
    }
  })
})
