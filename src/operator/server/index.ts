/**
 * `holdfast serve`'s HTTP API as a library: {@link createServer} returns the Hono app and a `listen` helper.
 * @module
 */
export { createServer, type HoldfastServer, type RunningServer, type ServerOptions } from './server.js'
export { tokenMatches, type GuardOptions } from './auth.js'
export { errorBody, STATUS_OF, type ErrorBody } from './errors.js'
