import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { PG_URL, tempDir, uniqueSchema } from './backends.js'

const dir = tempDir()
const targets: [string, () => string | { url: string; schema: string }][] = [['SQLite file', () => join(dir, 'poison.db')]]
const pgUrl = PG_URL
if (pgUrl) targets.push(['PostgreSQL server', () => ({ url: pgUrl, schema: uniqueSchema() })])

describe.each(targets)('poison keys and the audit trail survive a restart: %s', (_name, where) => {
  it('keeps held keys and recorded clears after reopening', async () => {
    const target = where()
    const first = await openStore(target)
    await first.poison.tryPutPoison('table/1', 'proc-1')
    await first.poison.tryPutPoison('table/2', 'proc-2')
    await first.poison.clearPoison('table/2', 'operator', 'fixed by hand')
    await first.close()
    const second = await openStore(target)
    try {
      expect(await second.poison.getPoison('table/1')).toBe('proc-1')
      expect(await second.poison.getPoison('table/2')).toBeNull()
      expect(await second.poison.listPoisonAudit()).toEqual([
        { key: 'table/2', token: 'proc-2', by: 'operator', reason: 'fixed by hand', at: expect.any(Number) },
      ])
    } finally {
      await second.close()
    }
  })
})
