// The HTTP API under attack: no token, a wrong token, cross-origin POSTs, and an injection corpus in every
// parameter of every route. No 500, no crash, no state change; every refusal a 4xx with a stable code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, type Store } from '../src/index.js'
import { createServer, type HoldfastServer } from '../src/operator/server/index.js'
import { processTargets } from './backends.js'
import { dump, seed, type Seeded } from './operator-seed.js'

const TOKEN = 'the-right-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }
const b64 = (s: string): string => Buffer.from(s).toString('base64')

/** Codes a refusal may carry: the store's, and the HTTP layer's own. */
const CODES = new Set(['INVALID_ARGUMENT', 'NOT_FOUND', 'POISON_CONFLICT', 'INVALID_ORIGINAL_VERSION', 'UNAUTHORIZED', 'FORBIDDEN', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'])

const deep = (n: number, open: string, close: string, inner = '1'): string => open.repeat(n) + inner + close.repeat(n)

/** Strings for every string slot: SQL metacharacters, paths, NUL, lone surrogates, sizes, numbers as text. */
const STRINGS = [
  "' OR '1'='1",
  "'; DROP TABLE holdfast_events; --",
  '" OR ""="',
  '1; SELECT pg_sleep(5)',
  '%',
  '_',
  '\\',
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/',
  'a/../b',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83d',
  '',
  ' ',
  '\n',
  'x'.repeat(1025),
  'y'.repeat(70_000),
  '-1',
  '0',
  '1.5',
  '1e309',
  'NaN',
  'Infinity',
  '9007199254740993',
  'true',
  'null',
  '[]',
  '{}',
  '__proto__',
  'constructor',
  '🙂',
  '%00',
  '%2e%2e%2f',
  '<script>alert(1)</script>',
  '$(rm -rf /)',
]

/** Values for JSON body fields: the strings, and every wrong type. */
const VALUES: unknown[] = [...STRINGS, 0, -1, 1.5, 1e308, -0, true, false, null, [], {}, ['x'], { a: 1 }, { __proto__: { by: 'x' } }, JSON.parse(deep(2000, '[', ']'))]

/**
 * A path or query segment as a client would send it. HTTP cannot carry a lone surrogate, only bytes: it is sent as
 * the invalid UTF-8 `%ED%A0%80` (what a careless client produces), which must not decode into a stored key either.
 */
function segment(v: string): string {
  return v.isWellFormed() ? encodeURIComponent(v) : encodeURIComponent(v.toWellFormed()).replace(/%EF%BF%BD/g, '%ED%A0%80')
}

const query = (q: Record<string, string>): string => {
  const parts = Object.entries(q).map(([k, v]) => `${k}=${segment(v)}`)
  return parts.length ? `?${parts.join('&')}` : ''
}

interface Route {
  method: 'GET' | 'POST'
  /** Path with `:name` parameters. */
  path: string
  params: Record<string, string>
  query?: Record<string, string>
  body?: Record<string, unknown>
  /** Per-slot bases: the other fields set so that no value of this slot can change state (see the file's head). */
  bases?: Record<string, { params?: Record<string, string>; body?: Record<string, unknown> }>
}

function routes(s: Seeded): Route[] {
  return [
    { method: 'GET', path: '/events', params: {}, query: { type: 'shop/Order', id: 'o1', name: 'OrderPlaced', routingKey: 'eu', first: '2', after: s.cursor3, last: '', before: '' } },
    { method: 'GET', path: '/events/stats', params: {}, query: { x: '1' } },
    { method: 'GET', path: '/events/stream', params: {}, query: { type: 'shop/Order', id: 'o1', name: 'N', routingKey: 'eu', after: s.cursor3 } },
    { method: 'GET', path: '/subscribers', params: {}, query: { after: 'a', limit: '10', runners: 'true' } },
    { method: 'GET', path: '/subscribers/:key', params: { key: s.running } },
    { method: 'GET', path: '/subscribers/:key/rewind', params: { key: s.running }, query: { to: 'beginning' } },
    { method: 'GET', path: '/poison', params: {}, query: { prefix: 'table/' } },
    { method: 'GET', path: '/poison/audit', params: {}, query: { key: 'table/2' } },
    { method: 'GET', path: '/packages', params: {} },
    { method: 'GET', path: '/packages/routes', params: {} },
    { method: 'GET', path: '/packages/:type/history', params: { type: 'billing/invoice' } },
    { method: 'GET', path: '/traces', params: {}, query: { after: 'a', limit: '5' } },
    { method: 'GET', path: '/traces/:trace', params: { trace: 'agent/run-1' }, query: { offset: '0', limit: '2' } },
    { method: 'GET', path: '/checkpoints/:id', params: { id: s.checkpointId } },
    { method: 'GET', path: '/procedures', params: {}, query: { status: 'done', after: 'a', limit: '5' } },
    { method: 'GET', path: '/procedures/:id', params: { id: 'tx-1' } },
    { method: 'GET', path: '/docs', params: {}, query: { after: 'a', limit: '5' } },
    { method: 'GET', path: '/docs/:id', params: { id: s.document } },
    { method: 'GET', path: '/doctor', params: {} },
    // Mutations aimed at targets that do not exist, or at a change already made: a value valid by the store's rules
    // then changes nothing either, so "no state change" holds for every value, accepted or refused.
    { method: 'POST', path: '/subscribers/:key/resume', params: { key: 'not-parked' }, body: { by: 'ops', reason: 'r', skip: false } },
    { method: 'POST', path: '/subscribers/:key/rewind', params: { key: 'no-such-subscriber' }, body: { to: 'beginning', by: 'ops', reason: 'r' } },
    { method: 'POST', path: '/poison/:key/clear', params: { key: 'not-held' }, body: { by: 'ops', reason: 'r' } },
    {
      method: 'POST',
      path: '/packages/:type/deploy',
      params: { type: 'billing/invoice' },
      body: { archive: b64('x'), also: [], by: 'ops', reason: 'r' },
      bases: {
        type: { body: { archive: b64('x'), also: 5 } }, // `also` fails after the type is checked
        archive: { body: { also: 5 } },
        also: { body: { archive: b64('x'), by: '' } }, // `by` fails after `also` is checked
        by: { params: { type: 'shipping/label' }, body: { archive: b64('label v1') } }, // already routed: a no-op
        reason: { params: { type: 'shipping/label' }, body: { archive: b64('label v1') } },
      },
    },
    {
      method: 'POST',
      path: '/packages/:type/route',
      params: { type: 'billing/invoice' },
      body: { contentHash: 'sha256:none', by: 'ops', reason: 'r' },
      bases: { by: { body: { contentHash: s.invoice.v1 } }, reason: { body: { contentHash: s.invoice.v1 } } }, // routed already: a no-op
    },
    { method: 'POST', path: '/packages/:type/rollback', params: { type: 'nobody/none' }, body: { by: 'ops', reason: 'r' } },
    { method: 'POST', path: '/traces/:trace/prune', params: { trace: 'no-such-trace' }, body: { keep: 1 } },
    { method: 'POST', path: '/docs/:id/compact', params: { id: 'no-such-doc' }, body: {} },
  ]
}

function url(r: Route, params: Record<string, string>, q: Record<string, string> = {}): string {
  return `/api/v1${r.path.replace(/:(\w+)/g, (_, n: string) => segment(params[n]!))}${query(q)}`
}

for (const [name, target] of processTargets('security.db')) {
  describe(`HTTP API security on ${name}`, { timeout: 300_000 }, () => {
    let store: Store
    let s: Seeded
    let server: HoldfastServer
    const send = async (method: string, path: string, init: { headers?: Record<string, string>; body?: string | Uint8Array } = {}): Promise<{ status: number; body: { error?: { code: string; message: string } } }> => {
      const r = await server.app.request(path, { method, headers: init.headers ?? {}, ...(init.body === undefined ? {} : { body: init.body }) })
      const status = r.status
      if (r.headers.get('content-type')?.includes('text/event-stream')) {
        await r.body?.cancel()
        return { status, body: {} }
      }
      return { status, body: (await r.json()) as { error?: { code: string; message: string } } }
    }
    const refusedWell = (res: { status: number; body: { error?: { code: string } } }, what: string): void => {
      expect(res.status, what).toBeGreaterThanOrEqual(200)
      expect(res.status, `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500)
      if (res.status >= 400) expect(CODES.has(res.body.error?.code ?? ''), `${what}: ${JSON.stringify(res.body).slice(0, 300)}`).toBe(true)
    }

    beforeAll(async () => {
      const t = target()
      store = await openStore(t.schema === '-' ? t.url : { url: t.url, schema: t.schema })
      s = await seed(store)
      server = createServer(store, { token: TOKEN })
    }, 60_000)
    afterAll(() => store?.close())

    /** Requests that would change state if they were let through. */
    const effective = (): { path: string; body: unknown }[] => [
      { path: `/api/v1/subscribers/${segment(s.parked)}/resume`, body: { by: 'x' } },
      { path: `/api/v1/subscribers/${segment(s.running)}/rewind`, body: { to: 'beginning' } },
      { path: '/api/v1/poison/table%2F1/clear', body: {} },
      { path: '/api/v1/packages/new%2Ftype/deploy', body: { archive: b64('new') } },
      { path: '/api/v1/packages/billing%2Finvoice/route', body: { contentHash: s.invoice.v2 } },
      { path: '/api/v1/packages/billing%2Finvoice/rollback', body: {} },
      { path: '/api/v1/traces/agent%2Frun-1/prune', body: { keep: 1 } },
      { path: `/api/v1/docs/${segment(s.document)}/compact`, body: {} },
    ]

    it('every mutating route without a token, or with a wrong one, is 401 and changes nothing; cross-origin is 403', async () => {
      const before = await dump(store)
      const wrong: Record<string, string>[] = [
        {},
        { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
        { authorization: `Bearer ${TOKEN}x` },
        { authorization: 'Bearer ' },
        { authorization: `bearer ${TOKEN}` },
        { authorization: `Basic ${b64(`u:${TOKEN}`)}` },
        { authorization: TOKEN },
      ]
      for (const m of effective()) {
        for (const h of wrong) {
          const r = await send('POST', m.path, { headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify(m.body) })
          expect(r.status, `${m.path} ${JSON.stringify(h)}`).toBe(401)
          expect(r.body.error?.code).toBe('UNAUTHORIZED')
        }
        for (const origin of ['http://evil.example', 'null', 'http://localhost.evil.example']) {
          const r = await send('POST', m.path, { headers: { 'content-type': 'application/json', origin, ...auth }, body: JSON.stringify(m.body) })
          expect(r.status, `${m.path} from ${origin}`).toBe(403)
        }
        // A form post (what a cross-site page can send without preflight) is refused even with the token.
        expect((await send('POST', m.path, { headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth }, body: 'by=x' })).status).toBe(415)
      }
      for (const r of routes(s).filter((r) => r.method === 'GET')) expect((await send('GET', url(r, r.params))).status, r.path).toBe(401)
      expect(await dump(store)).toBe(before)
      // The same requests with the token do change the store: the refusals above were of effective requests.
      for (const m of effective().slice(2, 3)) expect((await send('POST', m.path, { headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(m.body) })).status).toBe(200)
      expect(await dump(store)).not.toBe(before)
    })

    it('an injection corpus in every parameter of every route: no 500, no state change, refusals 4xx with a code', async () => {
      let requests = 0
      for (const r of routes(s)) {
        const before = await dump(store)
        const slots = [...Object.keys(r.params).map((k) => ['param', k] as const), ...Object.keys(r.query ?? {}).map((k) => ['query', k] as const), ...Object.keys(r.body ?? {}).map((k) => ['body', k] as const)]
        for (const [kind, slot] of slots) {
          const base = r.bases?.[slot] ?? {}
          const params = { ...r.params, ...base.params }
          const body = { ...r.body, ...base.body }
          const values = kind === 'body' ? VALUES : STRINGS
          for (const v of values) {
            const p = kind === 'param' ? { ...params, [slot]: v as string } : params
            const q = kind === 'query' ? { ...(r.query ?? {}), [slot]: v as string } : (r.query ?? {})
            const b = kind === 'body' ? { ...body, [slot]: v } : body
            const res = await send(r.method, url(r, p, q), r.method === 'POST' ? { headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify(b) } : { headers: auth })
            requests++
            refusedWell(res, `${r.method} ${r.path} ${kind} ${slot}=${JSON.stringify(v)?.slice(0, 40)}`)
          }
        }
        if (r.method === 'POST') {
          // Whole bodies: not JSON, not an object, nested past any parser's comfort, bytes that are not UTF-8, 10 MiB.
          const path = url(r, r.params)
          const raw: (string | Uint8Array)[] = ['{', '"by"', '[]', 'null', '123', '"x"', deep(100_000, '[', ']'), deep(50_000, '{"a":', '}'), '{"by":"a\u0000b"}', '{"by":"\\ud800"}', Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d), '{"__proto__":{"by":5}}', 'x'.repeat(10 * 1024 * 1024)]
          for (const bodyText of raw) {
            const res = await send('POST', path, { headers: { 'content-type': 'application/json', ...auth }, body: bodyText })
            requests++
            refusedWell(res, `${r.path} raw body ${String(bodyText).slice(0, 30)}`)
            if (typeof bodyText === 'string' && bodyText.length > 1024 * 1024) expect(res.status).toBe(413)
          }
        }
        expect(await dump(store), `${r.method} ${r.path} changed the store`).toBe(before)
      }
      // Raw path tricks: dot segments, encoded slashes and NUL in the path itself.
      for (const p of ['/api/v1/../../etc/passwd', '/api/v1/poison/..%2F..%2Fetc/clear', '/api/v1/%2e%2e/healthz', '/api/v1/poison/%00/clear', '/api/v1//clear', '/api/v1/poison//clear']) {
        const res = await send('POST', p, { headers: { 'content-type': 'application/json', ...auth }, body: '{}' })
        refusedWell(res, p)
        expect(res.status).toBeGreaterThanOrEqual(400)
      }
      expect(requests).toBeGreaterThan(1500)
      // The store is still fine after all of it.
      expect((await send('GET', '/api/v1/doctor', { headers: auth })).status).toBe(200)
    })
  })
}
