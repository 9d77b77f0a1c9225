// SIGKILL during deploys, re-routes and rollbacks: every route and its route event commit together, or neither.
import { describe, expect, it } from 'vitest'
import { openStore, PACKAGE_ROUTE_AGGREGATE, PackageRegistry } from '../src/index.js'
import { readAll } from '../src/testing/index.js'
import { PG_REQUIRED, PG_URL, processTargets } from './backends.js'
import { spawnChild } from './children/spawn.js'

const KILLS = Number(process.env.HOLDFAST_TEST_KILLS ?? 20)
if (PG_REQUIRED && !PG_URL) throw new Error('HOLDFAST_TEST_PG_REQUIRED=1 but HOLDFAST_TEST_PG_URL is not set')

describe.each(processTargets('registry-crash.db'))('SIGKILL during registry changes: %s', (_name, where) => {
  it(`keeps each route with its route event across ${KILLS} kills`, { timeout: 120_000 }, async () => {
    const { url, schema } = where()
    const open = () => openStore(schema === '-' ? url : { url, schema })
    await (await open()).close()
    let killsInFlight = 0
    let changes = 0
    for (let run = 0; run < KILLS; run++) {
      const child = spawnChild('registry-deployer.ts', [url, schema, `r${run}`])
      expect(await child.nextLine()).toBe('ready')
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 150))
      child.proc.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      const oks = child.lines.filter((l) => l.startsWith('ok ')).map((l) => l.split(' ') as [string, string, string, string])
      if (oks.length > 0) killsInFlight++

      const store = await open()
      try {
        const registry = new PackageRegistry(store)
        const last = new Map<string, { contentHash: string; version: number }>()
        for (const e of await readAll(store.events)) {
          expect(e.aggregatorType).toBe(PACKAGE_ROUTE_AGGREGATE)
          const prior = last.get(e.aggregatorId)
          expect(e.version, `versions of ${e.aggregatorId}`).toBe((prior?.version ?? 0) + 1)
          last.set(e.aggregatorId, { contentHash: (JSON.parse(new TextDecoder().decode(e.data)) as { contentHash: string }).contentHash, version: e.version })
        }
        const routes = await store.packages.listPackageRoutes()
        // Every route has its event (the last one of its type names its version), and every route event its route.
        expect(new Set(routes.map((r) => r.workflowType))).toEqual(new Set(last.keys()))
        for (const r of routes) expect(r.contentHash, `route ${r.workflowType}`).toBe(last.get(r.workflowType)!.contentHash)
        // Every routed version is loadable, and every change the child saw resolve is in the history.
        for (const r of routes) expect(await registry.current(r.workflowType), `package of ${r.workflowType}`).not.toBeNull()
        for (const [, workflowType, contentHash, version] of oks) {
          const change = (await registry.history(workflowType)).find((c) => c.version === Number(version))
          expect(change?.contentHash, `${workflowType} v${version}`).toBe(contentHash)
        }
        changes = Math.max(changes, ...[...last.values()].map((l) => l.version))
      } finally {
        await store.close()
      }
    }
    expect(killsInFlight).toBeGreaterThanOrEqual(KILLS / 2)
    expect(changes).toBeGreaterThan(KILLS)
  })
})
