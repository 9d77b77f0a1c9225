import { createHash, timingSafeEqual } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import { errorBody } from './errors.js'

/** How the API guards itself (see {@link guard}). */
export interface GuardOptions {
  /** The bearer token; `undefined` when none is configured (the server then listens on loopback only). */
  token: string | undefined
  /** Reads need no token. */
  publicRead: boolean
  /** Every mutation is refused. */
  readOnly: boolean
  /** Origins allowed to POST besides the server's own (e.g. a dashboard served elsewhere). */
  allowedOrigins: readonly string[]
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d{1,5})?$/i

const digest = (text: string): Buffer => createHash('sha256').update(text).digest()

/**
 * Whether `given` is `token`, in time that does not depend on where they differ: both are hashed first, so the
 * comparison is of equal-length digests and the token's length does not leak either.
 */
export function tokenMatches(given: string, token: string): boolean {
  return timingSafeEqual(digest(given), digest(token))
}


/**
 * Auth, read-only and CSRF checks for `/api/v1/*`: mutations need the token (reads too unless `publicRead`), a
 * browser's POST must come from the server's own origin (or one allowed) and carry JSON (a form cannot), and
 * `readOnly` refuses every mutation.
 */
export function guard(o: GuardOptions): MiddlewareHandler {
  return async (c, next) => {
    // The API has GET reads and POST mutations only: any other method names no route.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && c.req.method !== 'POST')
      return c.json(errorBody('NOT_FOUND', `no route ${c.req.method} ${new URL(c.req.url).pathname}`), 404)
    const mutation = c.req.method === 'POST'
    // Without a token the server is on loopback only; a Host that is not loopback is a DNS-rebinding page.
    const host = c.req.header('host')
    if (o.token === undefined && host !== undefined && !LOOPBACK_HOST.test(host)) return c.json(errorBody('FORBIDDEN', `host ${JSON.stringify(host)} refused: without a token only loopback names are served`), 403)
    if (mutation) {
      const origin = c.req.header('origin')
      const own = `${new URL(c.req.url).protocol}//${c.req.header('host') ?? ''}`
      if (origin !== undefined && origin !== own && !o.allowedOrigins.includes(origin))
        return c.json(errorBody('FORBIDDEN', `cross-origin request from ${JSON.stringify(origin)} refused`), 403)
      if (c.req.header('sec-fetch-site') === 'cross-site' && origin === undefined) return c.json(errorBody('FORBIDDEN', 'cross-site request refused'), 403)
    }
    if (o.token !== undefined && (mutation || !o.publicRead)) {
      const header = c.req.header('authorization') ?? ''
      const match = /^Bearer (.+)$/.exec(header)
      if (!match || !tokenMatches(match[1]!, o.token)) {
        c.header('WWW-Authenticate', 'Bearer realm="holdfast"')
        return c.json(errorBody('UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)'), 401)
      }
    }
    if (mutation) {
      if (o.readOnly) return c.json(errorBody('FORBIDDEN', 'the server is read-only (--read-only)'), 403)
      const type = c.req.header('content-type') ?? ''
      if (!/^application\/json\s*(;|$)/i.test(type)) return c.json(errorBody('UNSUPPORTED_MEDIA_TYPE', 'a mutation takes a JSON body (Content-Type: application/json)'), 415)
    }
    await next()
  }
}
