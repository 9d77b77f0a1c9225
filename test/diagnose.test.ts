// store.diagnose() and openStore's onMigrate, on every backend: what `holdfast doctor` and `holdfast migrate` read.
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { MIGRATIONS } from '../src/schema.js'
import { backends, openForTest, tempDir } from './backends.js'
import { rejectsWith } from '../src/testing/helpers.js'

describe.each(backends())('diagnose on $name', (target) => {
  it('reports the current schema, a passing integrity check and the engine', async () => {
    const store = await openForTest(target)
    const d = await store.diagnose()
    expect(d.schemaVersion).toBe(MIGRATIONS.length)
    expect(d.supportedSchemaVersion).toBe(MIGRATIONS.length)
    expect(d.integrity).toMatchObject({ ok: true, problems: [] })
    expect(d.backend).toBe(store.backend)
    if (store.backend === 'sqlite') {
      expect(d.integrity.checked).toBe(true)
      expect(d.walBytes).toBeGreaterThanOrEqual(0)
      expect(d.databaseBytes).toBeGreaterThan(0)
    } else expect(d.walBytes).toBeNull()
    if (store.backend === 'postgres') expect(d.databaseBytes).toBeGreaterThan(0)
  })
})

describe('onMigrate and openedAtSchemaVersion', () => {
  const dir = tempDir()
  it('tells each step of a fresh database, none on a current one; diagnose says where the open started', async () => {
    const path = join(dir, 'fresh.db')
    const steps: { version: number; name: string; of: number }[] = []
    const fresh = await openStore({ url: path, onMigrate: (s) => steps.push(s) })
    expect(steps.map((s) => s.version)).toEqual(MIGRATIONS.map((_, i) => i + 1))
    expect(steps.every((s) => s.of === MIGRATIONS.length)).toBe(true)
    expect((await fresh.diagnose()).openedAtSchemaVersion).toBe(0)
    await fresh.close()
    const again: unknown[] = []
    const current = await openStore({ url: path, onMigrate: (s) => again.push(s) })
    expect(again).toEqual([])
    expect((await current.diagnose()).openedAtSchemaVersion).toBe(MIGRATIONS.length)
    await current.close()
    await rejectsWith(current.diagnose(), 'STORE_CLOSED')
    await rejectsWith(openStore({ url: path, onMigrate: 5 as never }), 'INVALID_ARGUMENT')
  })
})
