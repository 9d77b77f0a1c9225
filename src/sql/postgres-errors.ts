import { HoldfastError, StoreUnavailableError } from '../errors.js'

/** Maps a PostgreSQL driver error to Holdfast's: every driver failure means the operation did not happen. */
export function postgresError(err: unknown): unknown {
  if (err instanceof HoldfastError) return err
  const e = err as { code?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? ` ${e.code}` : ''
  const message = typeof e.message === 'string' ? e.message : String(err)
  return new StoreUnavailableError(`postgres${code}: ${message}`, { cause: err })
}
