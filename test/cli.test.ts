// Every `holdfast` command as a child process against a seeded SQLite file and the PostgreSQL server: `--json`
// parsed and checked, exit codes 0 / 1 / 2, confirmations refused on a non-terminal without --yes.
import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { beforeAll, describe, expect, it } from 'vitest'
import { openStore } from '../src/index.js'
import { processTargets, tempDir } from './backends.js'
import { seed, type Seeded } from './operator-seed.js'

const MAIN = fileURLToPath(new URL('../src/operator/cli/main.ts', import.meta.url))
const dir = tempDir()

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `holdfast …` to its end, with stdin, stdout and stderr pipes (not a terminal). */
function holdfast(db: string[], args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...db, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', ...env } })
    let stdout = ''
    let stderr = ''
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    proc.stdin.end()
    proc.on('error', reject)
    proc.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

for (const [name, target] of processTargets('cli.db')) {
  describe(`holdfast CLI on ${name}`, { timeout: 120_000 }, () => {
    let db: string[]
    let s: Seeded
    let t: { url: string; schema: string }
    const run = (...args: string[]): Promise<Run> => holdfast(db, args)
    /** Runs with --json, expects exit 0 and returns the parsed document. */
    const json = async <T = Record<string, unknown>>(...args: string[]): Promise<T> => {
      const r = await run(...args, '--json')
      expect(r.stderr === '' || r.code === 0 ? r.code : r.stderr).toBe(0)
      return JSON.parse(r.stdout) as T
    }
    /** Expects a Holdfast error (exit 1, `CODE: message`). */
    const fails = async (code: string, ...args: string[]): Promise<void> => {
      const r = await run(...args)
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).toMatch(new RegExp(`^${code}: `))
    }
    const usage = async (...args: string[]): Promise<void> => {
      const r = await run(...args)
      expect(r.code, r.stderr).toBe(2)
    }

    beforeAll(async () => {
      t = target()
      db = t.schema === '-' ? ['--db', t.url] : ['--db', t.url, '--schema', t.schema]
      const store = await openStore(t.schema === '-' ? t.url : { url: t.url, schema: t.schema })
      try {
        s = await seed(store)
      } finally {
        await store.close()
      }
    }, 60_000)

    it('--help everywhere; bad usage is exit 2; a missing database or bad filter is exit 1', async () => {
      const helps = await Promise.all(
        [[], ['events'], ['events', 'read'], ['subscribers', 'rewind'], ['poison', 'clear'], ['packages', 'deploy'], ['checkpoints', 'prune'], ['procedures', 'ls'], ['docs', 'show'], ['serve'], ['doctor'], ['migrate']].map((a) =>
          run(...a, '--help'),
        ),
      )
      for (const h of helps) {
        expect(h.code).toBe(0)
        expect(h.stdout).toMatch(/^Usage: holdfast/)
      }
      await Promise.all([
        usage('bogus'),
        usage('events'),
        usage('events', 'read', '--first', 'x'),
        usage('procedures', 'ls', '--status', 'bogus'),
        usage('poison', 'clear', 'table/1'), // --by is required
        usage('checkpoints', 'prune', '--keep', '1'), // a trace or --all
        fails('INVALID_ARGUMENT', 'events', 'read', '--id', 'o1'),
        fails('INVALID_ARGUMENT', 'events', 'read', '--first', '0'),
        fails('INVALID_ARGUMENT', 'events', 'read', '--after', 'not-a-cursor'),
        fails('INVALID_ARGUMENT', 'events', 'read', '--first', '1', '--last', '1'),
      ])
      const missing = await holdfast(['--db', join(dir, 'nope', 'x.db')], ['events', 'read'])
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(/^NOT_FOUND: no database/)
    })

    it('events read: filters, pages both ways, payloads decoded', async () => {
      const all = await json<{ events: { id: string; data: { encoding: string; value: unknown } }[] }>('events', 'read', '--type', 'shop/Order', '--type', 'shop/Order')
      expect(all.events.map((e) => e.id)).toEqual(['ev-o1-1', 'ev-o1-2', 'ev-o1-3', 'ev-o1-4', 'ev-o2-1'])
      expect(all.events[0]!.data).toEqual({ encoding: 'json', value: { n: 1 }, bytes: 7 })
      expect(all.events[4]!.data).toMatchObject({ encoding: 'utf8', value: 'plain text note' })
      const inv = await json<{ events: { data: unknown }[] }>('events', 'read', '--type', 'shop/Invoice', '--id', 'i/1')
      expect(inv.events[0]!.data).toEqual({ encoding: 'base64', value: 'AJ//AQ==', bytes: 4 })
      type Page = { events: { id: string }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string; endCursor: string } }
      const p1 = await json<Page>('events', 'read', '--type', 'shop/Order', '--first', '2')
      expect(p1.events.map((e) => e.id)).toEqual(['ev-o1-1', 'ev-o1-2'])
      expect(p1.pageInfo.hasNextPage).toBe(true)
      const p2 = await json<Page>('events', 'read', '--type', 'shop/Order', '--first', '2', '--after', p1.pageInfo.endCursor)
      expect(p2.events.map((e) => e.id)).toEqual(['ev-o1-3', 'ev-o1-4'])
      const back = await json<Page>('events', 'read', '--type', 'shop/Order', '--last', '2', '--before', p2.pageInfo.startCursor)
      expect(back.events.map((e) => e.id)).toEqual(['ev-o1-1', 'ev-o1-2'])
      expect(back.pageInfo.hasPreviousPage).toBe(false)
      const named = await json<Page>('events', 'read', '--type', 'shop/Order', '--name', 'OrderPlaced', '--routing-key', 'eu')
      expect(named.events.map((e) => e.id)).toEqual(['ev-o1-1'])
      const table = await run('events', 'read', '--type', 'shop/Order', '--first', '2')
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/^POSITION +TIME +TYPE/)
      expect(table.stdout).toContain('next: --first N --after')
    })

    it('events stats: counts by type, first and last', async () => {
      const st = await json<{ total: number; complete: boolean; byType: { aggregatorType: string; count: number }[]; first: { position: number }; last: { position: number } }>('events', 'stats')
      expect(st.complete).toBe(true)
      const counts = Object.fromEntries(st.byType.map((t) => [t.aggregatorType, t.count]))
      expect(counts).toMatchObject({ 'shop/Order': 5, 'shop/Invoice': 1, 'holdfast/package-route': 4 })
      expect(st.total).toBe(st.byType.reduce((n, t) => n + t.count, 0))
      expect(st.last.position).toBeGreaterThan(st.first.position)
    })

    it('events tail: catches up from a cursor, then follows new commits until SIGINT', async () => {
      const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...db, 'events', 'tail', '--type', 'shop/Order', '--after', s.cursor3, '--json'], { stdio: ['pipe', 'pipe', 'pipe'] })
      const lines: string[] = []
      let waiting: (() => void) | undefined
      createInterface({ input: proc.stdout }).on('line', (l) => {
        lines.push(l)
        waiting?.()
      })
      const until = async (n: number): Promise<void> => {
        const deadline = Date.now() + 30_000
        while (lines.length < n && Date.now() < deadline) await new Promise<void>((r) => ((waiting = r), setTimeout(r, 200)))
      }
      await until(2)
      expect(lines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['ev-o1-4', 'ev-o2-1'])
      // A store that dies with the test, not the one the child reads: another process's commit must wake it.
      const writer = await openStore(t.schema === '-' ? t.url : { url: t.url, schema: t.schema })
      await writer.events.write([{ id: 'ev-tail-1', aggregatorType: 'shop/Order', aggregatorId: 'o9', version: 1, name: 'OrderPlaced', data: new TextEncoder().encode('{}') }])
      await writer.events.write([{ id: 'ev-tail-skip', aggregatorType: 'shop/Other', aggregatorId: 'x', version: 1, name: 'X', data: new Uint8Array() }])
      await writer.events.write([{ id: 'ev-tail-2', aggregatorType: 'shop/Order', aggregatorId: 'o9', version: 2, name: 'LineAdded', data: new TextEncoder().encode('{}') }])
      await writer.close()
      await until(4)
      expect(lines.slice(2).map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(['ev-tail-1', 'ev-tail-2'])
      const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)))
      proc.kill('SIGINT')
      expect(await exited).toBe(0)
    })

    it('subscribers ls: running active, parked parked, procedure runners apart', async () => {
      type View = { key: string; state: string; workerId: string; position: number; lag: number; positionsBehind: number; lastAckAgeMs: number | null; parked: { error: string } | null }
      const ls = await json<{ subscribers: View[]; runners: View[] }>('subscribers', 'ls')
      const by = Object.fromEntries(ls.subscribers.map((v) => [v.key, v]))
      expect(by[s.running]).toMatchObject({ state: 'active', workerId: 'worker-1', position: 3, lag: 3 })
      expect(by[s.running]!.positionsBehind).toBeGreaterThan(0)
      expect(by[s.running]!.lastAckAgeMs).toBeGreaterThanOrEqual(0)
      expect(by[s.parked]).toMatchObject({ state: 'parked', workerId: 'mailer-1' })
      expect(by[s.parked]!.parked!.error).toContain('smtp down')
      expect(ls.runners.map((r) => r.key)).toEqual(['holdfast/procedure-runner/seed-runner'])
      const without = await json<{ runners: View[] }>('subscribers', 'ls', '--no-runners')
      expect(without.runners).toEqual([])
      const table = await run('subscribers', 'ls')
      expect(table.stdout).toMatch(/KEY +WORKER +STATE/)
      expect(table.stdout).toContain('procedure runners')
    })

    it('subscribers rewind: says what it redelivers, refused on a non-terminal without --yes; resume', async () => {
      const refused = await run('subscribers', 'rewind', s.running, '--to', 'beginning', '--by', 'ops')
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain('will deliver 3 event(s) again')
      expect(refused.stderr).toContain('--yes')
      expect((await json<{ subscribers: { key: string; position: number }[] }>('subscribers', 'ls')).subscribers.find((v) => v.key === s.running)!.position).toBe(3)
      const done = await json<{ redeliver: number; fromPosition: number; toPosition: number }>('subscribers', 'rewind', s.running, '--to', 'beginning', '--by', 'ops', '--reason', 'rebuild', '--yes')
      expect(done).toMatchObject({ redeliver: 3, fromPosition: 3, toPosition: 0 })
      await fails('NOT_FOUND', 'subscribers', 'rewind', 'nobody', '--to', 'beginning', '--by', 'ops', '--yes')
      await fails('INVALID_ARGUMENT', 'subscribers', 'rewind', s.running, '--to', 'garbage', '--by', 'ops', '--yes')
      const resumed = await json<{ state: string }>('subscribers', 'resume', s.parked, '--by', 'ops', '--reason', 'smtp back')
      expect(resumed.state).not.toBe('parked')
      await fails('NOT_FOUND', 'subscribers', 'resume', s.parked, '--by', 'ops')
      const audit = await json<{ key: string; token: string; by: string }[]>('poison', 'audit', `subscription/${s.parked}`)
      expect(audit.map((a) => a.by)).toEqual(['ops'])
      const rewinds = await json<{ token: string }[]>('poison', 'audit', `subscription/${s.running}`)
      expect(rewinds.map((a) => a.token)).toEqual(['rewind:beginning'])
    })

    it('poison ls / audit / clear (refused without --yes on a non-terminal)', async () => {
      const held = await json<{ key: string; token: string; ageMs: number }[]>('poison', 'ls')
      expect(held.map((p) => p.key)).toEqual(expect.arrayContaining(['account/alice', 'account/dave', 'table/1']))
      expect(held.find((p) => p.key === 'table/1')!.token).toBe('proc-a')
      expect((await json<{ key: string }[]>('poison', 'ls', '--prefix', 'table/')).map((p) => p.key)).toEqual(['table/1'])
      const audit = await json<{ key: string; by: string; reason: string }[]>('poison', 'audit', s.cleared)
      expect(audit).toEqual([expect.objectContaining({ key: 'table/2', token: 'proc-b', by: 'alice', reason: 'stuck since Tuesday' })])
      const refused = await run('poison', 'clear', 'table/1', '--by', 'ops')
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain('--yes')
      expect((await json<{ key: string }[]>('poison', 'ls', '--prefix', 'table/')).map((p) => p.key)).toEqual(['table/1'])
      const cleared = await json('poison', 'clear', 'table/1', '--by', 'ops', '--reason', 'done by hand', '--yes')
      expect(cleared).toEqual({ key: 'table/1', token: 'proc-a', by: 'ops', reason: 'done by hand' })
      await fails('NOT_FOUND', 'poison', 'clear', 'table/1', '--by', 'ops', '--yes')
      await fails('INVALID_ARGUMENT', 'poison', 'clear', '', '--by', 'ops', '--yes')
      expect((await json<{ key: string }[]>('poison', 'audit')).map((a) => a.key)).toContain('table/1')
    })

    it('packages ls / routes / history / deploy / route / rollback', async () => {
      const ls = await json<Record<string, unknown>[]>('packages', 'ls')
      expect(ls).toHaveLength(3)
      for (const p of ls) expect(Object.keys(p).sort()).toEqual(['contentHash', 'deployedAt', 'workflowType'])
      const routes = await json<{ workflowType: string; contentHash: string }[]>('packages', 'routes')
      expect(routes.find((r) => r.workflowType === 'billing/invoice')!.contentHash).toBe(s.invoice.v1)
      const history = await json<{ action: string; contentHash: string; by: string; reason: string | null }[]>('packages', 'history', 'billing/invoice')
      expect(history.map((h) => [h.action, h.contentHash])).toEqual([
        ['deploy', s.invoice.v1],
        ['deploy', s.invoice.v2],
        ['rollback', s.invoice.v1],
      ])
      expect(history[2]).toMatchObject({ by: 'oncall', reason: 'v2 double-bills' })
      const file = join(dir, `pkg-${Math.random()}.bin`)
      writeFileSync(file, 'invoice v3')
      const deployed = await json<{ workflowType: string; contentHash: string; bytes: number }>('packages', 'deploy', 'billing/invoice', file, '--by', 'ci', '--also', 'billing/credit-note')
      expect(deployed).toMatchObject({ workflowType: 'billing/invoice', bytes: 10 })
      expect((await json<{ workflowType: string; contentHash: string }[]>('packages', 'routes')).find((r) => r.workflowType === 'billing/credit-note')!.contentHash).toBe(deployed.contentHash)
      expect(await json('packages', 'route', 'billing/invoice', s.invoice.v2, '--by', 'ops', '--reason', 'fixed')).toMatchObject({ contentHash: s.invoice.v2 })
      expect(await json('packages', 'rollback', 'billing/invoice', '--by', 'ops')).toMatchObject({ contentHash: deployed.contentHash })
      await fails('NOT_FOUND', 'packages', 'rollback', 'shipping/label', '--by', 'ops')
      await fails('NOT_FOUND', 'packages', 'route', 'billing/invoice', 'sha256:0000', '--by', 'ops')
      await fails('NOT_FOUND', 'packages', 'deploy', 'x', join(dir, 'no-such-file'), '--by', 'ops')
      await fails('INVALID_ARGUMENT', 'packages', 'history', '')
    })

    it('checkpoints traces / ls / show / prune', async () => {
      const traces = await json<{ traces: { traceId: string; count: number }[] }>('checkpoints', 'traces')
      expect(traces.traces.filter((t) => t.traceId.startsWith('agent/'))).toEqual([
        expect.objectContaining({ traceId: 'agent/run-1', count: 3 }),
        expect.objectContaining({ traceId: 'agent/run-2', count: 2 }),
      ])
      const timeline = await json<{ total: number; checkpoints: { id: string; parentId: string | null; metadata: unknown }[] }>('checkpoints', 'ls', 'agent/run-1')
      expect(timeline.total).toBe(3)
      expect(timeline.checkpoints.map((c) => [c.id, c.parentId])).toEqual([
        ['agent/run-1#1', null],
        ['agent/run-1#2', 'agent/run-1#1'],
        ['agent/run-1#3', 'agent/run-1#2'],
      ])
      expect(timeline.checkpoints[1]!.metadata).toEqual({ node: 'n2' })
      const shown = await json<{ state: unknown }>('checkpoints', 'show', s.checkpointId)
      expect(shown.state).toEqual({ step: 2, messages: ['hi', 'again'] })
      await fails('NOT_FOUND', 'checkpoints', 'show', 'nope')
      expect(await json('checkpoints', 'prune', 'agent/run-1', '--keep', '1')).toEqual({ traces: 1, deleted: 2 })
      expect(await json('checkpoints', 'prune', '--all', '--prefix', 'agent/', '--keep', '1')).toEqual({ traces: 1, deleted: 1 })
    })

    it('procedures ls / show', async () => {
      const ls = await json<{ procedures: { id: string; status: string; keys: string[] }[] }>('procedures', 'ls')
      expect(ls.procedures.map((p) => [p.id, p.status])).toEqual([
        ['tx-1', 'done'],
        ['tx-2', 'poisoned'],
      ])
      expect((await json<{ procedures: { id: string }[] }>('procedures', 'ls', '--status', 'poisoned')).procedures.map((p) => p.id)).toEqual(['tx-2'])
      const p = await json<{ status: string; error: string; errorStep: string; keys: string[]; input: unknown }>('procedures', 'show', s.procedures.poisoned)
      expect(p).toMatchObject({ status: 'poisoned', error: 'no such account', errorStep: 'credit', keys: ['account/dave'], input: { from: 'dave', to: 'nobody' } })
      await fails('NOT_FOUND', 'procedures', 'show', 'nope')
    })

    it('docs ls / show / compact', async () => {
      const ls = await json<{ documents: { documentId: string; sizes: { changes: number; document: number }; peers: string[] }[] }>('docs', 'ls')
      expect(ls.documents).toHaveLength(1)
      expect(ls.documents[0]).toMatchObject({ documentId: s.document, peers: [s.peer] })
      expect(ls.documents[0]!.sizes.changes).toBeGreaterThan(0)
      const shown = await json<{ changes: number; lastChange: { message: string | null; seq: number } }>('docs', 'show', s.document)
      expect(shown.changes).toBe(2)
      expect(shown.lastChange).toMatchObject({ message: 'add milk', seq: 2 })
      const compacted = await json<{ before: { changes: number }; after: { changes: number; document: number } }>('docs', 'compact', s.document)
      expect(compacted.before.changes).toBeGreaterThan(0)
      expect(compacted.after).toMatchObject({ changes: 0 })
      expect(compacted.after.document).toBeGreaterThan(0)
      expect((await json<{ changes: number }>('docs', 'show', s.document)).changes).toBe(2)
      await fails('INVALID_ARGUMENT', 'docs', 'ls', '--after', '')
    })

    it('migrate and doctor', async () => {
      const m = await json<{ from: number; to: number; applied: string[] }>('migrate')
      expect(m.applied).toEqual([])
      expect(m.from).toBe(m.to)
      const d = await json<{ ok: boolean; diagnostics: { backend: string; schemaVersion: number; walBytes: number | null }; poisonHeld: number; findings: { check: string }[] }>('doctor')
      expect(d.ok).toBe(true)
      expect(d.diagnostics.schemaVersion).toBe(m.to)
      expect(d.diagnostics.backend).toBe(name.startsWith('SQLite') ? 'sqlite' : 'postgres')
      if (name.startsWith('SQLite')) expect(d.diagnostics.walBytes).toBeGreaterThanOrEqual(0)
      expect(d.poisonHeld).toBeGreaterThan(0)
      expect(d.findings.map((f) => f.check)).toEqual(['schema', 'integrity', ...(name.startsWith('SQLite') ? ['wal'] : []), 'subscribers', 'parked', 'poison'])
      const fresh = join(dir, `fresh-${Math.random()}.db`)
      const created = await holdfast(['--db', fresh], ['migrate', '--json'])
      expect(created.code).toBe(0)
      expect(JSON.parse(created.stdout)).toMatchObject({ from: 0, to: m.to })
    })

    it('serve: listens, answers /healthz, refuses a non-loopback host without a token, stops on SIGINT', async () => {
      await usage('serve', '--port', 'x')
      await fails('INVALID_ARGUMENT', 'serve', '--port', '0', '--host', '0.0.0.0')
      const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...db, 'serve', '--port', '0', '--json'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, HOLDFAST_TOKEN: '' } })
      let stderr = ''
      proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      const first = await new Promise<string>((resolve) => createInterface({ input: proc.stdout }).once('line', resolve))
      const { url } = JSON.parse(first) as { url: string }
      expect(stderr).toContain('loopback only')
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ ok: true })
      expect((await fetch(`${url}/api/v1/subscribers`)).status).toBe(200)
      const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)))
      proc.kill('SIGINT')
      expect(await exited).toBe(0)
    })
  })
}
