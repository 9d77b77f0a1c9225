import type { Context, Hono } from 'hono'
import { streamSSE } from 'hono/streaming'
import { InvalidArgumentError } from '../../errors.js'
import type { ProcedureStatus } from '../../runtime/procedures/types.js'
import type { Store } from '../../store.js'
import { describe } from '../../validate.js'
import * as op from '../operations.js'

/** What the routes share: the store and the server's incremental event counter. */
export interface RouteContext {
  store: Store
  stats: op.EventStatsCounter
  /** Events one `GET /events/stats` may count before answering (`complete: false` until caught up). */
  statsBudget: number
}

type Query = Record<string, string | undefined>

/** The query parameters named, as strings; anything else is ignored. */
function query<K extends string>(c: Context, names: readonly K[]): { [P in K]?: string } {
  const out: Query = {}
  for (const n of names) {
    const v = c.req.query(n)
    if (v !== undefined) out[n] = v
  }
  return out as { [P in K]?: string }
}

/** A query parameter as an integer; a value that is not one is `INVALID_ARGUMENT` (the store checks the range). */
function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (!/^-?\d{1,16}$/.test(value)) throw new InvalidArgumentError(`${name} must be an integer, got ${JSON.stringify(value.slice(0, 100))}`)
  return Number(value)
}

function boolean(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined
  if (value === 'true' || value === '1') return true
  if (value === 'false' || value === '0') return false
  throw new InvalidArgumentError(`${name} must be true or false, got ${JSON.stringify(value.slice(0, 100))}`)
}

/** Drops absent fields, so the operations see only what was given. */
function given<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}

/** The JSON body of a mutation: an object (empty when absent); anything else is `INVALID_ARGUMENT`. */
async function body(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    // A RangeError here is nesting deeper than the parser's stack: bad input as much as a syntax error.
    throw new InvalidArgumentError(`the body is not JSON: ${err instanceof Error ? err.message.slice(0, 200) : 'unparseable'}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentError(`the body must be a JSON object, got ${describe(value)}`)
  return value as Record<string, unknown>
}

/** `by` of a mutation: the `X-Holdfast-By` header, else the body's `by`, else `api`. */
function by(c: Context, b: Record<string, unknown>): string {
  return (c.req.header('x-holdfast-by') ?? b.by ?? 'api') as string
}

/** An optional string field of a body, passed on as given so the store's checks name it. */
const field = (b: Record<string, unknown>, name: string): string | undefined => b[name] as string | undefined

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** The API routes under `/api/v1`, mirroring the CLI: GET reads, POST mutations with a JSON body. */
export function apiRoutes(api: Hono, r: RouteContext): void {
  const { store } = r
  const FILTER = ['type', 'id', 'name', 'routingKey'] as const

  api.get('/events', async (c) => {
    const q = query(c, [...FILTER, 'first', 'after', 'last', 'before'])
    return c.json(await op.readEvents(store, given({ ...q, first: integer('first', q.first), last: integer('last', q.last) })))
  })
  api.get('/events/stats', async (c) => c.json(await r.stats.advance(r.statsBudget)))
  api.get('/events/stream', async (c) => {
    const q = query(c, [...FILTER, 'after'])
    const after = q.after ?? c.req.header('last-event-id')
    const filter = given({ type: q.type, id: q.id, name: q.name, routingKey: q.routingKey })
    op.readArguments(filter)
    // Bad input is refused before the stream starts, as a JSON error.
    if (after !== undefined) await op.readEvents(store, { first: 1, after })
    return streamSSE(c, async (stream) => {
      const stop = new AbortController()
      stream.onAbort(() => stop.abort())
      const ping = setInterval(() => void stream.write(': ping\n\n').catch(() => stop.abort()), 15_000)
      try {
        await stream.writeSSE({ event: 'ready', data: '{}' })
        await op.tailEvents(store, filter, {
          ...(after === undefined ? {} : { after }),
          signal: stop.signal,
          onEvents: async (events) => {
            for (const e of events) await stream.writeSSE({ event: 'event', id: e.cursor, data: JSON.stringify(e) })
          },
        })
      } catch (err) {
        if (!stop.signal.aborted) await stream.writeSSE({ event: 'error', data: JSON.stringify({ message: err instanceof Error ? err.message : String(err) }) }).catch(() => {})
      } finally {
        clearInterval(ping)
      }
    })
  })

  api.get('/subscribers', async (c) => {
    const q = query(c, ['after', 'limit', 'runners'])
    return c.json(await op.listSubscribers(store, given({ after: q.after, limit: integer('limit', q.limit), runners: boolean('runners', q.runners) })))
  })
  api.get('/subscribers/:key', async (c) => c.json(await op.getSubscriber(store, c.req.param('key'))))
  api.get('/subscribers/:key/rewind', async (c) => c.json(await op.planRewind(store, c.req.param('key'), c.req.query('to') ?? 'beginning')))
  api.post('/subscribers/:key/resume', async (c) => {
    const b = await body(c)
    const skip = b.skip
    if (skip !== undefined && typeof skip !== 'boolean') throw new InvalidArgumentError(`skip must be a boolean, got ${describe(skip)}`)
    return c.json(await op.resumeSubscriber(store, c.req.param('key'), given({ by: by(c, b), reason: field(b, 'reason'), skip })))
  })
  api.post('/subscribers/:key/rewind', async (c) => {
    const b = await body(c)
    return c.json(await op.rewindSubscriber(store, c.req.param('key'), given({ to: field(b, 'to') as string, by: by(c, b), reason: field(b, 'reason') })))
  })

  api.get('/poison', async (c) => c.json(await op.listPoison(store, c.req.query('prefix'))))
  api.get('/poison/audit', async (c) => c.json(await op.poisonAudit(store, c.req.query('key'))))
  api.post('/poison/:key/clear', async (c) => {
    const b = await body(c)
    return c.json(await op.clearPoison(store, c.req.param('key'), given({ by: by(c, b), reason: field(b, 'reason') })))
  })

  api.get('/packages', async (c) => c.json(await op.listPackages(store)))
  api.get('/packages/routes', async (c) => c.json(await op.listRoutes(store)))
  api.get('/packages/:type/history', async (c) => c.json(await op.routeHistory(store, c.req.param('type'))))
  api.post('/packages/:type/deploy', async (c) => {
    const b = await body(c)
    const archive = b.archive
    if (typeof archive !== 'string' || !BASE64.test(archive)) throw new InvalidArgumentError(`archive must be the package as base64 text, got ${describe(archive)}`)
    const also = b.also
    return c.json(await op.deployPackage(store, c.req.param('type'), Buffer.from(archive, 'base64'), given({ by: by(c, b), reason: field(b, 'reason'), also: also as string[] | undefined })))
  })
  api.post('/packages/:type/route', async (c) => {
    const b = await body(c)
    return c.json(await op.routePackage(store, c.req.param('type'), field(b, 'contentHash') as string, given({ by: by(c, b), reason: field(b, 'reason') })))
  })
  api.post('/packages/:type/rollback', async (c) => {
    const b = await body(c)
    return c.json(await op.rollbackPackage(store, c.req.param('type'), given({ by: by(c, b), reason: field(b, 'reason') })))
  })

  api.get('/traces', async (c) => {
    const q = query(c, ['after', 'limit'])
    return c.json(await op.listTraces(store, given({ after: q.after, limit: integer('limit', q.limit) })))
  })
  api.get('/traces/:trace', async (c) => {
    const q = query(c, ['offset', 'limit'])
    return c.json(await op.traceTimeline(store, c.req.param('trace'), given({ offset: integer('offset', q.offset), limit: integer('limit', q.limit) })))
  })
  api.post('/traces/:trace/prune', async (c) => {
    const b = await body(c)
    return c.json(await op.pruneTrace(store, c.req.param('trace'), b.keep as number))
  })
  api.get('/checkpoints/:id', async (c) => c.json(await op.showCheckpoint(store, c.req.param('id'))))

  api.get('/procedures', async (c) => {
    const q = query(c, ['status', 'after', 'limit'])
    return c.json(await op.listProcedures(store, given({ status: q.status as ProcedureStatus | undefined, after: q.after, limit: integer('limit', q.limit) })))
  })
  api.get('/procedures/:id', async (c) => c.json(await op.showProcedure(store, c.req.param('id'))))

  api.get('/docs', async (c) => {
    const q = query(c, ['after', 'limit'])
    return c.json(await op.listDocuments(store, given({ after: q.after, limit: integer('limit', q.limit) })))
  })
  api.get('/docs/:id', async (c) => c.json(await op.showDocument(store, c.req.param('id'))))
  api.post('/docs/:id/compact', async (c) => {
    await body(c)
    return c.json(await op.compactDocument(store, c.req.param('id')))
  })

  api.get('/doctor', async (c) => c.json(await op.doctor(store)))
}
