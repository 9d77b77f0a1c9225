import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { PersistentDoc } from '../src/automerge/index.js'
import { openStore } from '../src/index.js'
import { readAll } from '../src/testing/index.js'
import { PG_URL, tempDir, uniqueSchema } from './backends.js'
import { spawnChild } from './children/spawn.js'

const KILLS = Number(process.env.HOLDFAST_TEST_KILLS ?? 20)
const dir = tempDir()
const decoder = new TextDecoder()

const targets: [string, () => { url: string; schema: string }][] = [['SQLite file', () => ({ url: join(dir, 'crash.db'), schema: '-' })]]
const pgUrl = PG_URL
if (pgUrl) targets.push(['PostgreSQL server', () => ({ url: pgUrl, schema: uniqueSchema() })])

describe.each(targets)('SIGKILL during writes: %s', (_name, where) => {
  it(`keeps every resolved write and no partial one across ${KILLS} kills`, { timeout: 300_000 }, async () => {
    const { url, schema } = where()
    const open = () => openStore(schema === '-' ? url : { url, schema })
    await (await open()).close()
    const reported = new Set<string>()
    let killsInFlight = 0
    for (let run = 0; run < KILLS; run++) {
      const child = spawnChild('crash-writer.ts', [url, schema, `r${run}`])
      expect(await child.nextLine()).toBe('ready')
      // Let it write for a random while, then kill it without warning.
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 200))
      child.proc.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      const oks = child.lines.filter((l) => l.startsWith('ok '))
      if (oks.length > 0) killsInFlight++
      for (const line of oks) reported.add(line.split(' ')[1]!)

      // After every restart: each reported batch is there whole, and no batch is there in part.
      const store = await open()
      try {
        const batches = new Map<string, number>()
        for (const e of await readAll(store.events)) {
          const [batch, size] = decoder.decode(e.data).split(':') as [string, string]
          expect(Number(size)).toBe(3)
          batches.set(batch, (batches.get(batch) ?? 0) + 1)
        }
        for (const [batch, count] of batches) expect(count, `batch ${batch}`).toBe(3)
        for (const batch of reported) expect(batches.has(batch), `reported batch ${batch}`).toBe(true)
      } finally {
        await store.close()
      }
    }
    // The kills must have hit a store that was writing, or the test proves nothing.
    expect(killsInFlight).toBeGreaterThanOrEqual(KILLS / 2)
    expect(reported.size).toBeGreaterThan(KILLS)
  })
})

describe.each(targets)('SIGKILL during deploys: %s', (_name, where) => {
  it(`moves each route only with its package, across ${KILLS} kills`, { timeout: 300_000 }, async () => {
    const { url, schema } = where()
    const file = schema === '-' ? join(dir, 'deploy.db') : url
    const openTarget = () => openStore(schema === '-' ? file : { url: file, schema })
    await (await openTarget()).close()
    let killsInFlight = 0
    for (let run = 0; run < KILLS; run++) {
      const child = spawnChild('crash-deployer.ts', [file, schema, `r${run}`])
      expect(await child.nextLine()).toBe('ready')
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 200))
      child.proc.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      const oks = child.lines.filter((l) => l.startsWith('ok ')).map((l) => l.split(' ') as [string, string, string])
      if (oks.length > 0) killsInFlight++
      const lastReported = new Map<string, string>()
      for (const [, wf, h] of oks) lastReported.set(wf, h)

      const store = await openTarget()
      try {
        const stored = new Set((await store.packages.listPackages({ withArchives: false })).map((p) => `${p.workflowType}|${p.contentHash}`))
        for (const route of await store.packages.listPackageRoutes()) {
          // Every route points at a stored package: it never moved without its package.
          expect(stored.has(`${route.workflowType}|${route.contentHash}`), `route ${route.workflowType}`).toBe(true)
          const reported = lastReported.get(route.workflowType)
          if (reported === undefined) continue
          // At the last reported deploy of this run, or the one it was in the middle of (the next of this type).
          const n = Number(reported.split('-').pop())
          expect([reported, `h-r${run}-${n + 3}`], `route ${route.workflowType}`).toContain(route.contentHash)
        }
        for (const [wf, h] of lastReported) expect(stored.has(`${wf}|${h}`)).toBe(true)
      } finally {
        await store.close()
      }
    }
    expect(killsInFlight).toBeGreaterThanOrEqual(KILLS / 2)
  })
})

describe.each(targets)('SIGKILL during Automerge edits and compactions: %s', (_name, where) => {
  it(`keeps every resolved change across ${KILLS} kills`, { timeout: 300_000 }, async () => {
    const { url, schema } = where()
    const file = schema === '-' ? join(dir, 'automerge.db') : url
    const openTarget = () => openStore(schema === '-' ? file : { url: file, schema })
    await (await openTarget()).close()
    const reported: string[] = []
    let compacted = false
    for (let run = 0; run < KILLS; run++) {
      const child = spawnChild('crash-automerge.ts', [file, schema, `r${run}`])
      expect(await child.nextLine()).toBe('ready')
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 300))
      child.proc.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      reported.push(...child.lines.filter((l) => l.startsWith('ok ')).map((l) => l.slice(3)))

      const store = await openTarget()
      try {
        const persister = store.automerge('crash')
        const doc = await PersistentDoc.load<{ items?: string[] }>(persister)
        const items = new Set(doc.doc.items ?? [])
        for (const item of reported) expect(items.has(item), `reported change ${item}`).toBe(true)
        if ((await persister.sizes()).document > 0) compacted = true
      } finally {
        await store.close()
      }
    }
    expect(reported.length).toBeGreaterThan(KILLS * 4)
    expect(compacted).toBe(true)
  })
})
