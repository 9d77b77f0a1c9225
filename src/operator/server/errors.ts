import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { HoldfastError, type HoldfastErrorCode } from '../../errors.js'

/** An error response's body: `{ error: { code, message } }`. */
export interface ErrorBody {
  error: { code: string; message: string }
}

/** The body of an error response. */
export function errorBody(code: string, message: string): ErrorBody {
  return { error: { code, message } }
}

/** The HTTP status of each Holdfast code: bad input and conflicts are 4xx, a database failing is 503. */
export const STATUS_OF: Record<HoldfastErrorCode, ContentfulStatusCode> = {
  INVALID_ARGUMENT: 400,
  NOT_FOUND: 404,
  POISON_CONFLICT: 409,
  INVALID_ORIGINAL_VERSION: 409,
  SUBSCRIBER_REPLACED: 409,
  SCHEMA_VERSION: 409,
  STORE_CLOSED: 503,
  STORE_UNAVAILABLE: 503,
}

/** The status and body for an error an operation threw; anything not a HoldfastError is a 500 (a bug). */
export function toResponse(err: unknown): { status: ContentfulStatusCode; body: ErrorBody } {
  if (err instanceof HoldfastError) return { status: STATUS_OF[err.code] ?? 500, body: errorBody(err.code, err.message) }
  return { status: 500, body: errorBody('INTERNAL', 'internal error') }
}
