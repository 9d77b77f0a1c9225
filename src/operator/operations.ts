/**
 * The operator's operations, written once over a `Store` and the runtime: the CLI formats them as tables, the HTTP
 * server as JSON. They call only the public store contracts and the runtime, so they work on every backend.
 * @module
 */
export * from './operations/admin.js'
export * from './operations/checkpoints.js'
export * from './operations/docs.js'
export * from './operations/events.js'
export * from './operations/packages.js'
export * from './operations/poison.js'
export * from './operations/procedures.js'
export * from './operations/subscribers.js'
export * from './operations/values.js'
