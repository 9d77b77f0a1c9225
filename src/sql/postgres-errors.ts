import { HoldfastError, StoreUnavailableError, type Outcome } from '../errors.js'

/** Node's socket errors: the server or the network is away, for now. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

/** SQLSTATE classes a caller may retry: connection (08), resources (53), operator intervention (57), conflicts (40). */
const RETRYABLE_CLASSES = new Set(['08', '40', '53', '57'])

/**
 * Whether `err` says the connection itself failed (rather than the server refusing a statement): a socket error,
 * pg's "Connection terminated", a class 08 SQLSTATE, or the server shutting the backend down (57P01–57P03).
 */
export function isConnectionError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : undefined
  if (code !== undefined) return SOCKET_CODES.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code)
  const message = typeof e?.message === 'string' ? e.message : ''
  return /connection terminated|not queryable|connection error|timeout exceeded when trying to connect|Connection ended/i.test(message)
}

/**
 * Maps a PostgreSQL driver error to Holdfast's `STORE_UNAVAILABLE`, naming the server (`where`), with the driver's
 * error as `cause`. `retryable` follows the SQLSTATE class (or a socket error). `sent`: the failing request was a
 * commit (a COMMIT, or a statement outside a transaction) already handed to the connection, so a connection lost
 * before its reply leaves the outcome `'unknown'`; every other failure did nothing.
 */
export function postgresError(err: unknown, where = 'PostgreSQL', sent = false): unknown {
  if (err instanceof HoldfastError) return err
  const e = err as { code?: unknown; message?: unknown } | null
  const code = typeof e?.code === 'string' ? e.code : undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  const connection = isConnectionError(err)
  const sqlstate = code !== undefined && /^[0-9A-Z]{5}$/.test(code) ? code : undefined
  const retryable = connection || (sqlstate !== undefined && RETRYABLE_CLASSES.has(sqlstate.slice(0, 2)))
  const outcome: Outcome = sent && connection && !/not queryable/i.test(message) ? 'unknown' : 'none'
  const detail = outcome === 'unknown' ? '; the connection was lost after the commit was sent, so it may have committed: retry the same call' : ''
  return new StoreUnavailableError(`${where}: ${message}${code !== undefined ? ` (${code})` : ''}${detail}`, { cause: err, retryable, outcome })
}
