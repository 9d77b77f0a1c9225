// LangGraph's own checkpointer validation suite (@langchain/langgraph-checkpoint-validation) on every backend.
import * as vitest from 'vitest'
import { HoldfastSaver } from '../src/langgraph/index.js'
import { backends } from './backends.js'

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
