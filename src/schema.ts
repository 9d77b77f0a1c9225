import { automergeChunksSchema, automergeSchema } from './automerge/schema.js'
import { checkpointsSchema, checkpointThreadsSchema } from './checkpoints/schema.js'
import { appendPositionsSchema, eventsByTypeSchema, eventsSchema, eventsWritePathSchema, subscriberLeasesSchema } from './events/schema.js'
import { packagesSchema } from './packages/schema.js'
import { poisonSchema } from './poison/schema.js'
import type { Migration } from './sql/database.js'

/**
 * Every migration, oldest first; a migration's place (1-based) is its version. Append only: never edit or reorder a
 * released entry. The list lives here, above the stores, so that `sql/` never imports a store.
 */
export const MIGRATIONS: readonly Migration[] = [
  eventsSchema,
  poisonSchema,
  packagesSchema,
  checkpointsSchema,
  automergeSchema,
  automergeChunksSchema,
  checkpointThreadsSchema,
  eventsWritePathSchema,
  subscriberLeasesSchema,
  eventsByTypeSchema,
  appendPositionsSchema,
]
