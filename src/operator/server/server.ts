import type { AddressInfo } from 'node:net'
import { serve, type ServerType } from '@hono/node-server'
import { Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { InvalidArgumentError } from '../../errors.js'
import type { Store } from '../../store.js'
import { createMetrics } from '../metrics.js'
import { EventStatsCounter } from '../operations.js'
import { guard } from './auth.js'
import { errorBody, toResponse } from './errors.js'
import { dashboardRoutes } from './dashboard.js'
import { apiRoutes } from './routes.js'

/** Options of {@link createServer}. */
export interface ServerOptions {
  /** Bearer token for mutations (and reads unless `publicRead`); none: the server listens on loopback only. */
  token?: string
  /** Reads need no token. */
  publicRead?: boolean
  /** Refuse every mutation (403). */
  readOnly?: boolean
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number
  /** Origins allowed to POST besides the server's own (CSRF check). */
  allowedOrigins?: string[]
  /** Events one `GET /api/v1/events/stats` may count before it answers; default 20,000. */
  statsBudget?: number
  /** `GET /metrics` in Prometheus' text format ({@link createMetrics}), read like the API's reads; default true. */
  metrics?: boolean
  /**
   * The dashboard at `/` (its files under `/assets/`): `true` (default) serves the package's own build, a string
   * serves the files of that directory, `false` leaves it out.
   */
  dashboard?: boolean | string
  /**
   * Mounts more routes on the app before the 404 fallback, outside `/api/v1` auth (e.g. `/metrics`, a dashboard):
   * `extraRoutes: (app) => app.get('/metrics', …)`.
   */
  extraRoutes?: (app: Hono) => void
}

/** A listening server. */
export interface RunningServer {
  /** `http://host:port`. */
  url: string
  port: number
  /** Stops accepting connections and ends open ones (event streams included). */
  close(): Promise<void>
}

/** What {@link createServer} returns: the Hono app (for tests, `app.request(…)`) and a way to listen. */
export interface HoldfastServer {
  app: Hono
  /** The server's incremental event counter (the stats route's). */
  stats: EventStatsCounter
  /**
   * Listens on `host:port` (default 127.0.0.1:4600; port 0 picks one). Without a token only a loopback host is
   * accepted (`INVALID_ARGUMENT` otherwise).
   */
  listen(options?: { port?: number; host?: string }): Promise<RunningServer>
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/**
 * The HTTP API of `holdfast serve` over `store`: routes under `/api/v1/` mirroring the CLI, `/healthz`, `/readyz`,
 * the dashboard at `/`, bearer-token auth, CSRF and body-size checks, and JSON errors `{ error: { code, message } }` (4xx for bad input
 * with the store's code, 503 when the database fails). The store stays the caller's to close.
 */
export function createServer(store: Store, options: ServerOptions = {}): HoldfastServer {
  const token = options.token === '' ? undefined : options.token
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) throw new InvalidArgumentError('token must be a string of at least 16 characters')
  const stats = new EventStatsCounter(store)
  const app = new Hono()
  app.onError((err, c) => {
    const { status, body } = toResponse(err)
    if (status === 500) console.error(err)
    return c.json(body, status)
  })
  app.notFound((c) => c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404))

  app.get('/healthz', (c) => c.json({ ok: true }))
  app.get('/readyz', async (c) => {
    try {
      await store.events.read(null, null, { last: 1 })
      return c.json({ ok: true })
    } catch (err) {
      const { body } = toResponse(err)
      return c.json(body, 503)
    }
  })

  const limit = options.bodyLimit ?? 1024 * 1024
  app.use(
    '/api/*',
    bodyLimit({ maxSize: limit, onError: (c) => c.json(errorBody('PAYLOAD_TOO_LARGE', `request bodies are limited to ${limit} bytes`), 413) }),
    guard({ token, publicRead: options.publicRead === true, readOnly: options.readOnly === true, allowedOrigins: options.allowedOrigins ?? [] }),
  )
  const api = new Hono()
  apiRoutes(api, { store, stats, statsBudget: options.statsBudget ?? 20_000 })
  app.route('/api/v1', api)
  if (options.metrics !== false) {
    const metrics = createMetrics(store)
    app.use('/metrics', guard({ token, publicRead: options.publicRead === true, readOnly: true, allowedOrigins: [] }))
    app.get('/metrics', async (c) => c.body(await metrics.text(), 200, { 'Content-Type': metrics.contentType }))
  }
  if (options.dashboard !== false) dashboardRoutes(app, typeof options.dashboard === 'string' ? options.dashboard : undefined)
  options.extraRoutes?.(app)

  return {
    app,
    stats,
    listen: ({ port = 4600, host = '127.0.0.1' } = {}) => {
      if (token === undefined && !LOOPBACK.has(host))
        return Promise.reject(new InvalidArgumentError(`listening on ${host} needs a token (--token or HOLDFAST_TOKEN); without one the server binds to loopback only`))
      return new Promise<RunningServer>((resolve, reject) => {
        let server: ServerType
        try {
          server = serve({ fetch: app.fetch, port, hostname: host }, (info: AddressInfo) => {
            const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address
            const stop = warm(stats)
            resolve({
              url: `http://${shown}:${info.port}`,
              port: info.port,
              close: () =>
                new Promise<void>((done) => {
                  stop()
                  server.close(() => done())
                  ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
                }),
            })
          })
          server.once('error', reject)
        } catch (err) {
          reject(err)
        }
      })
    },
  }
}

/** Counts the log in the background after start, a page at a time, so the first stats request is already cheap. */
function warm(stats: EventStatsCounter): () => void {
  let stopped = false
  void (async () => {
    while (!stopped) {
      const s = await stats.advance(5000).catch(() => null)
      if (!s || s.complete) return
      await new Promise((r) => setImmediate(r))
    }
  })()
  return () => void (stopped = true)
}
