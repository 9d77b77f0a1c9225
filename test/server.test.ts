// The HTTP API of `holdfast serve`, route by route, on a seeded SQLite file and the PostgreSQL server.
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { event } from '../src/testing/index.js'
import { createServer, tokenMatches, type HoldfastServer } from '../src/operator/server/index.js'
import { processTargets } from './backends.js'
import { seed, type Seeded } from './operator-seed.js'

const TOKEN = 'a-token-of-sixteen-or-more'
const auth = { authorization: `Bearer ${TOKEN}` }
const enc = encodeURIComponent

describe('tokenMatches', () => {
  it('compares digests: equal is true, any difference (length too) is false', () => {
    expect(tokenMatches(TOKEN, TOKEN)).toBe(true)
    for (const other of ['', TOKEN.slice(1), `${TOKEN}x`, TOKEN.toUpperCase()]) expect(tokenMatches(other, TOKEN)).toBe(false)
  })
})

for (const [name, target] of processTargets('server.db')) {
  describe(`HTTP API on ${name}`, { timeout: 60_000 }, () => {
    let store: Store
    let s: Seeded
    let server: HoldfastServer
    const get = async (path: string, headers: Record<string, string> = auth): Promise<{ status: number; body: Record<string, unknown> & unknown[] }> => {
      const r = await server.app.request(`/api/v1${path}`, { headers })
      return { status: r.status, body: (await r.json()) as Record<string, unknown> & unknown[] }
    }
    const post = async (path: string, body: unknown = {}, headers: Record<string, string> = auth): Promise<{ status: number; body: Record<string, unknown> }> => {
      const r = await server.app.request(`/api/v1${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
      return { status: r.status, body: (await r.json()) as Record<string, unknown> }
    }

    beforeAll(async () => {
      const t = target()
      store = await openStore(t.schema === '-' ? t.url : { url: t.url, schema: t.schema })
      s = await seed(store)
      server = createServer(store, { token: TOKEN })
    }, 60_000)
    afterAll(() => store?.close())

    it('/healthz, /readyz, unknown routes 404 as JSON', async () => {
      expect(await (await server.app.request('/healthz')).json()).toEqual({ ok: true })
      expect((await server.app.request('/readyz')).status).toBe(200)
      const r = await get('/nope')
      expect(r.status).toBe(404)
      expect(r.body).toMatchObject({ error: { code: 'NOT_FOUND' } })
      expect((await server.app.request('/api/v1/events', { method: 'DELETE', headers: auth })).status).toBe(404)
    })

    it('events: filters, cursors both ways, bad input is 400 with the store code; stats', async () => {
      const p1 = await get('/events?type=shop%2FOrder&first=2')
      expect(p1.status).toBe(200)
      const page = p1.body as unknown as { events: { id: string }[]; pageInfo: { endCursor: string; hasNextPage: boolean } }
      expect(page.events.map((e) => e.id)).toEqual(['ev-o1-1', 'ev-o1-2'])
      const p2 = (await get(`/events?type=shop%2FOrder&first=2&after=${page.pageInfo.endCursor}`)).body as unknown as { events: { id: string }[]; pageInfo: { startCursor: string } }
      expect(p2.events.map((e) => e.id)).toEqual(['ev-o1-3', 'ev-o1-4'])
      const back = (await get(`/events?type=shop%2FOrder&last=1&before=${p2.pageInfo.startCursor}`)).body as unknown as { events: { id: string }[] }
      expect(back.events.map((e) => e.id)).toEqual(['ev-o1-2'])
      for (const bad of ['first=0', 'first=x', 'after=nope', 'first=1&last=1', 'id=o1']) {
        const r = await get(`/events?${bad}`)
        expect(r.status, bad).toBe(400)
        expect(r.body).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } })
      }
      const stats = (await get('/events/stats')).body as unknown as { complete: boolean; byType: { aggregatorType: string; count: number }[] }
      expect(stats.complete).toBe(true)
      expect(stats.byType.find((t) => t.aggregatorType === 'shop/Order')!.count).toBe(5)
      // Incremental: a new event is counted by the next call.
      await store.events.write([{ id: 'ev-srv-1', aggregatorType: 'shop/Order', aggregatorId: 'o3', version: 1, name: 'OrderPlaced', data: new Uint8Array() }])
      const again = (await get('/events/stats')).body as unknown as { byType: { aggregatorType: string; count: number }[] }
      expect(again.byType.find((t) => t.aggregatorType === 'shop/Order')!.count).toBe(6)
    })

    it('events/stream: Server-Sent Events of new commits', async () => {
      const running = await server.listen({ port: 0 })
      try {
        const ctl = new AbortController()
        const res = await fetch(`${running.url}/api/v1/events/stream?type=shop%2FOrder`, { headers: auth, signal: ctl.signal })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toContain('text/event-stream')
        const reader = res.body!.getReader()
        let text = ''
        const until = async (needle: string): Promise<void> => {
          while (!text.includes(needle)) {
            const { value, done } = await reader.read()
            if (done) throw new Error(`stream ended before ${needle}: ${text}`)
            text += new TextDecoder().decode(value)
          }
        }
        await until('event: ready')
        await store.events.write([{ id: 'ev-sse-1', aggregatorType: 'shop/Order', aggregatorId: 'o4', version: 1, name: 'OrderPlaced', data: new TextEncoder().encode('{"sse":true}') }])
        await until('ev-sse-1')
        expect(text).toMatch(/event: event\ndata: .*"id":"ev-sse-1".*"value":\{"sse":true\}/)
        ctl.abort()
        expect((await fetch(`${running.url}/api/v1/events/stream?after=bad`, { headers: auth })).status).toBe(400)
      } finally {
        await running.close()
      }
    })

    it('subscribers: list, show, rewind plan and rewind, resume', async () => {
      const ls = (await get('/subscribers')).body as unknown as { subscribers: { key: string; state: string; kind: string }[] }
      const by = Object.fromEntries(ls.subscribers.map((v) => [v.key, v]))
      expect(by[s.running]!.state).toBe('active')
      expect(by[s.parked]!.state).toBe('parked')
      expect(by['holdfast/procedure-runner/seed-runner']!.kind).toBe('procedure-runner')
      expect(((await get('/subscribers?runners=false')).body as unknown as { subscribers: unknown[] }).subscribers).toHaveLength(2)
      expect((await get(`/subscribers/${enc(s.running)}`)).body).toMatchObject({ key: s.running, position: 3 })
      expect((await get('/subscribers/nobody')).status).toBe(404)
      expect((await get(`/subscribers/${enc(s.running)}/rewind?to=beginning`)).body).toMatchObject({ redeliver: 3 })
      const rewound = await post(`/subscribers/${enc(s.running)}/rewind`, { to: 'beginning', reason: 'rebuild' }, { ...auth, 'x-holdfast-by': 'alice' })
      expect(rewound.status).toBe(200)
      expect(rewound.body).toMatchObject({ redeliver: 3, toPosition: 0 })
      expect((await store.poison.listPoisonAudit(`subscription/${s.running}`)).map((a) => [a.by, a.token])).toEqual([['alice', 'rewind:beginning']])
      const resumed = await post(`/subscribers/${enc(s.parked)}/resume`, { reason: 'smtp back' })
      expect(resumed.status).toBe(200)
      expect((await store.poison.listPoisonAudit(`subscription/${s.parked}`)).map((a) => a.by)).toEqual(['api'])
      expect((await post(`/subscribers/${enc(s.parked)}/resume`, {})).status).toBe(404)
    })

    it('poison: ls, audit, clear (audited, by from the body), 404 for a key not held', async () => {
      expect(((await get('/poison?prefix=table%2F')).body as unknown as { key: string }[]).map((p) => p.key)).toEqual(['table/1'])
      expect(((await get('/poison/audit?key=table%2F2')).body as unknown as { by: string }[]).map((a) => a.by)).toEqual(['alice'])
      const cleared = await post('/poison/table%2F1/clear', { by: 'bob', reason: 'fixed' })
      expect(cleared).toEqual({ status: 200, body: { key: 'table/1', token: 'proc-a', by: 'bob', reason: 'fixed' } })
      expect(await store.poison.getPoison('table/1')).toBeNull()
      expect((await post('/poison/table%2F1/clear', {})).status).toBe(404)
    })

    it('packages: ls (no archives), routes, history, deploy, route, rollback', async () => {
      const ls = (await get('/packages')).body as unknown as Record<string, unknown>[]
      expect(ls.every((p) => !('archive' in p))).toBe(true)
      expect(((await get(`/packages/${enc('billing/invoice')}/history`)).body as unknown as { action: string }[]).map((h) => h.action)).toEqual(['deploy', 'deploy', 'rollback'])
      const deployed = await post(`/packages/${enc('billing/invoice')}/deploy`, { archive: Buffer.from('v3').toString('base64'), also: ['billing/credit'], by: 'ci' })
      expect(deployed.status).toBe(200)
      expect(deployed.body).toMatchObject({ workflowType: 'billing/invoice', bytes: 2 })
      expect(((await get('/packages/routes')).body as unknown as { workflowType: string }[]).map((r) => r.workflowType)).toContain('billing/credit')
      expect((await post(`/packages/${enc('billing/invoice')}/route`, { contentHash: s.invoice.v2 })).body).toMatchObject({ contentHash: s.invoice.v2 })
      expect((await post(`/packages/${enc('billing/invoice')}/rollback`, { reason: 'undo' })).body).toMatchObject({ contentHash: deployed.body.contentHash })
      expect((await post(`/packages/${enc('shipping/label')}/rollback`, {})).status).toBe(404)
      expect((await post(`/packages/${enc('billing/invoice')}/deploy`, { archive: 'not base64!' })).status).toBe(400)
    })

    it('traces, checkpoints, prune', async () => {
      expect(((await get('/traces')).body as unknown as { traces: { traceId: string }[] }).traces.map((t) => t.traceId)).toEqual(expect.arrayContaining(s.traces))
      expect((await get(`/traces/${enc('agent/run-1')}?limit=2`)).body).toMatchObject({ total: 3, checkpoints: [{ id: 'agent/run-1#1' }, { id: 'agent/run-1#2' }] })
      expect((await get(`/checkpoints/${enc(s.checkpointId)}`)).body).toMatchObject({ state: { step: 2 } })
      expect((await get('/checkpoints/nope')).status).toBe(404)
      expect((await post(`/traces/${enc('agent/run-2')}/prune`, { keep: 1 })).body).toEqual({ traces: 1, deleted: 1 })
      expect((await post(`/traces/${enc('agent/run-2')}/prune`, { keep: -1 })).status).toBe(400)
    })

    it('procedures, docs, doctor', async () => {
      expect(((await get('/procedures?status=poisoned')).body as unknown as { procedures: { id: string }[] }).procedures.map((p) => p.id)).toEqual(['tx-2'])
      expect((await get('/procedures?status=bogus')).status).toBe(400)
      expect((await get('/procedures/tx-1')).body).toMatchObject({ status: 'done' })
      expect((await get('/procedures/none')).status).toBe(404)
      expect((await get('/docs')).body).toMatchObject({ documents: [{ documentId: s.document, peers: [s.peer] }] })
      expect((await get(`/docs/${enc(s.document)}`)).body).toMatchObject({ changes: 2 })
      expect((await get('/docs/none')).status).toBe(404)
      expect((await post(`/docs/${enc(s.document)}/compact`)).body).toMatchObject({ after: { changes: 0 } })
      expect((await post('/docs/none/compact')).status).toBe(404)
      expect((await get('/doctor')).body).toMatchObject({ ok: true })
    })

    it('auth: reads need the token unless publicRead; read-only refuses mutations; JSON only', async () => {
      expect((await get('/subscribers', {})).status).toBe(401)
      const open = createServer(store, { token: TOKEN, publicRead: true })
      expect((await open.app.request('/api/v1/subscribers')).status).toBe(200)
      expect((await open.app.request('/api/v1/poison/x/clear', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(401)
      const ro = createServer(store, { token: TOKEN, readOnly: true })
      const r = await ro.app.request('/api/v1/poison/x/clear', { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: '{}' })
      expect(r.status).toBe(403)
      expect((await server.app.request('/api/v1/poison/x/clear', { method: 'POST', headers: { 'content-type': 'text/plain', ...auth }, body: '{}' })).status).toBe(415)
      const noToken = createServer(store)
      expect((await noToken.app.request('/api/v1/subscribers')).status).toBe(200)
      expect((await noToken.app.request('/api/v1/subscribers', { headers: { host: '127.0.0.1:4600' } })).status).toBe(200)
      // DNS rebinding: a page of another name resolved to 127.0.0.1.
      expect((await noToken.app.request('/api/v1/subscribers', { headers: { host: 'evil.example:4600' } })).status).toBe(403)
      await expect(noToken.listen({ port: 0, host: '0.0.0.0' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
      expect(() => createServer(store, { token: 'short' })).toThrow(/16 characters/)
    })

    it('serves /metrics in Prometheus text, behind the token like the reads, moving as events are written', async () => {
      const server = createServer(store, { token: TOKEN })
      expect((await server.app.request('/metrics')).status).toBe(401)
      const scrape = async (): Promise<number> => {
        const res = await server.app.request('/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })
        expect(res.status).toBe(200)
        expect(res.headers.get('content-type')).toContain('text/plain')
        const line = (await res.text()).split('\n').find((l) => l.startsWith('holdfast_events_appended_total'))
        return Number(line!.split(' ').at(-1))
      }
      const before = await scrape()
      await store.events.write([event('metrics-1', 1), event('metrics-1', 2)])
      expect(await scrape()).toBe(before + 2)
      const open = createServer(store, { token: TOKEN, publicRead: true })
      expect((await open.app.request('/metrics')).status).toBe(200)
      expect((await createServer(store, { token: TOKEN, metrics: false }).app.request('/metrics')).status).toBe(404)
    })

    it('extraRoutes mounts beside the API', async () => {
      const withMetrics = createServer(store, { token: TOKEN, extraRoutes: (app) => app.get('/custom', (c) => c.text('holdfast_up 1\n')) })
      expect(await (await withMetrics.app.request('/custom')).text()).toBe('holdfast_up 1\n')
    })
  })
}

// A server with no seeded store must still answer readiness correctly when the store is closed.
describe('readyz on a closed store', () => {
  it('is 503 with the store code', async () => {
    const store = await openStore(join(processTargets('ready.db')[0]![1]().url))
    const server = createServer(store)
    await store.close()
    const r = await server.app.request('/readyz')
    expect(r.status).toBe(503)
    expect(await r.json()).toMatchObject({ error: { code: 'STORE_CLOSED' } })
  })
})

describe('the dashboard’s files', () => {
  it('/ and /assets/ serve the page, its modules (from source: transpiled) and styles, with a CSP; nothing else', async () => {
    const store = await openStore('memory:')
    try {
      const { app } = createServer(store, { token: TOKEN })
      const page = await app.request('/')
      expect(page.status).toBe(200)
      expect(page.headers.get('content-type')).toMatch(/^text\/html/)
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
      expect(await page.text()).toContain('/assets/app.js')
      const js = await app.request('/assets/app.js')
      expect(js.status).toBe(200)
      expect(js.headers.get('content-type')).toMatch(/^text\/javascript/)
      const source = await js.text()
      expect(source).toContain("from './pages.js'")
      expect(source).not.toMatch(/: HTMLElement|<string>/)
      expect((await app.request('/assets/style.css')).headers.get('content-type')).toMatch(/^text\/css/)
      for (const bad of ['/assets/nope.js', '/assets/..%2Fserver%2Fserver.ts', '/assets/tsconfig.json', '/assets/index.html', '/assets/app.ts'])
        expect((await app.request(bad)).status, bad).toBe(404)
      expect((await createServer(store, { dashboard: false }).app.request('/')).status).toBe(404)
    } finally {
      await store.close()
    }
  })
})
