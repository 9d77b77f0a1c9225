/**
 * The dashboard's client of `/api/v1`: reads with `GET`, changes with `POST` and a JSON body. The token is asked
 * once (on the first change, or when a read is refused) and kept in `sessionStorage` only, with the operator's name
 * for `X-Holdfast-By`.
 */
import { ask } from './dom.js'

/** `{ error: { code, message } }` of a refused request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`)
  }
}

const TOKEN = 'holdfast.token'
const BY = 'holdfast.by'

/** The operator's name sent as `X-Holdfast-By` (`dashboard` until they give one). */
export const operator = (): string => sessionStorage.getItem(BY) || 'dashboard'

let asking: Promise<boolean> | null = null

/**
 * Asks for the token and a name; `false` when cancelled. An empty token is kept too (a server without one). Requests
 * refused together share one dialog.
 */
export function askToken(why: string): Promise<boolean> {
  asking ??= showSignIn(why).finally(() => (asking = null))
  return asking
}

async function showSignIn(why: string): Promise<boolean> {
  const v = await ask({
    title: 'Sign in to Holdfast',
    message: why,
    fields: [
      { name: 'token', label: 'Token', type: 'password', placeholder: 'the server’s --token (empty if it has none)' },
      { name: 'by', label: 'Your name (recorded as who made the change)', value: sessionStorage.getItem(BY) ?? '', required: true },
    ],
    confirm: 'Continue',
  })
  if (!v) return false
  sessionStorage.setItem(TOKEN, v.token ?? '')
  sessionStorage.setItem(BY, v.by ?? '')
  return true
}

async function request<T>(method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const token = sessionStorage.getItem(TOKEN)
  if (token) headers.authorization = `Bearer ${token}`
  if (method === 'POST') {
    headers['content-type'] = 'application/json'
    headers['x-holdfast-by'] = operator()
  }
  const res = await fetch(`/api/v1${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
  const payload = (await res.json().catch(() => null)) as { error?: { code: string; message: string } } | null
  if (!res.ok) throw new ApiError(res.status, payload?.error?.code ?? `HTTP_${res.status}`, payload?.error?.message ?? res.statusText)
  return payload as T
}

/** A read; on 401 asks for the token once and tries again. */
export async function get<T>(path: string): Promise<T> {
  try {
    return await request<T>('GET', path)
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && (await askToken('This server needs a token to read.'))) return request<T>('GET', path)
    throw err
  }
}

/** A change: asks for the token first if this session has none; on 401 asks again and retries once. */
export async function post<T>(path: string, body: object = {}): Promise<T> {
  if (sessionStorage.getItem(TOKEN) === null && !(await askToken('Changes need the server’s token and your name.'))) throw new ApiError(0, 'CANCELLED', 'not signed in')
  try {
    return await request<T>('POST', path, body)
  } catch (err) {
    if (err instanceof ApiError && err.status === 401 && (await askToken('The token was refused; try again.'))) return request<T>('POST', path, body)
    throw err
  }
}

/** One URL-encoded path segment (`table/1` is `table%2F1`). */
export const seg = encodeURIComponent

/** A query string of the given parameters (empty ones left out), with its `?`. */
export function qs(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v))
  const s = q.toString()
  return s ? `?${s}` : ''
}

// What the routes answer (see src/operator/operations/): only what the pages read.

/** A payload decoded for display. */
export interface Payload {
  encoding: 'json' | 'utf8' | 'base64'
  value: unknown
  bytes: number
}

/** `GET /events`' events. */
export interface EventView {
  position: number
  cursor: string
  id: string
  aggregatorType: string
  aggregatorId: string
  version: number
  name: string
  routingKey: string | null
  timestamp: number
  data: Payload
  metadata: Payload
}

/** `GET /events`. */
export interface EventPage {
  events: EventView[]
  pageInfo: { hasPreviousPage: boolean; hasNextPage: boolean; startCursor: string | null; endCursor: string | null }
}

/** `GET /events/stats`. */
export interface EventStats {
  total: number
  byType: { aggregatorType: string; count: number; firstPosition: number; lastPosition: number; lastAt: number }[]
  last: { position: number; timestamp: number } | null
  countedThrough: number
  complete: boolean
}

/** A subscriber of `GET /subscribers`. */
export interface Subscriber {
  key: string
  kind: 'subscription' | 'procedure-runner'
  workerId: string | null
  state: 'active' | 'parked' | 'idle'
  cursor: string | null
  position: number
  lag: number | null
  positionsBehind: number
  lastAckAgeMs: number | null
  leaseExpiresAt: number | null
  generation: number
  parked: { error: string; eventId: string; attempts: number; parkedAt: number } | null
}

/** `GET /subscribers`. */
export interface SubscriberPage {
  subscribers: Subscriber[]
  nextAfter: string | null
  headPosition: number
}

/** A held key of `GET /poison`. */
export interface PoisonKey {
  key: string
  token: string
  createdAt: number
  ageMs: number
}

/** A record of `GET /poison/audit`. */
export interface PoisonAudit {
  key: string
  token: string
  by: string
  reason: string | null
  at: number
}

/** A package of `GET /packages`. */
export interface PackageMeta {
  workflowType: string
  contentHash: string
  deployedAt: number
}

/** A route of `GET /packages/routes`. */
export interface PackageRoute {
  workflowType: string
  contentHash: string
  updatedAt: number
}

/** A change of `GET /packages/{type}/history`. */
export interface RouteChange {
  workflowType: string
  action: string
  contentHash: string | null
  previousHash: string | null
  by: string | null
  reason: string | null
  at: number
  version: number
}

/** `GET /traces`. */
export interface TracePage {
  traces: { traceId: string; count: number; latestAt: number }[]
  nextAfter: string | null
}

/** A checkpoint of a timeline. */
export interface TimelineEntry {
  id: string
  parentId: string | null
  createdAt: number
  metadata: unknown
}

/** `GET /traces/{trace}`. */
export interface Timeline {
  traceId: string
  total: number
  offset: number
  checkpoints: TimelineEntry[]
}

/** `GET /checkpoints/{id}`. */
export interface CheckpointView extends TimelineEntry {
  state: unknown
}

/** A procedure of `GET /procedures`. */
export interface Procedure {
  id: string
  type: string
  status: 'running' | 'done' | 'failed' | 'poisoned'
  step: string
  state: unknown
  input: unknown
  error: string | null
  errorStep: string | null
  keys: string[]
  runnerId: string
  startedAt: number
  updatedAt: number
}

/** An Automerge document of `GET /docs`. */
export interface DocumentView {
  documentId: string
  sizes: { changes: number; document: number; syncStates: number }
  peers: string[]
}

/** `GET /docs/{id}`. */
export interface DocumentDetail extends DocumentView {
  changes: number
  lastChange: { actor: string; seq: number; time: number; message: string | null; hash: string } | null
}
