import { encodeCursor } from './cursor.js'
import type { Event, ReadResult } from './types.js'
import type { ReadPlan } from './validate.js'

/**
 * Turns the rows of a read (in query order: ascending forward, descending backward, at most `limit + 1`) into a
 * page. `otherSide` says whether a matching event exists on the far side of the cursor.
 */
export function toPage(plan: ReadPlan, rows: Event[], otherSide: boolean): ReadResult<Event> {
  const more = rows.length > plan.limit
  if (more) rows.length = plan.limit
  if (plan.direction === 'backward') rows.reverse()
  const edges = rows.map((node) => ({ cursor: encodeCursor(node.position), node }))
  const forward = plan.direction === 'forward'
  return {
    edges,
    pageInfo: {
      hasPreviousPage: forward ? otherSide : more,
      hasNextPage: forward ? more : otherSide,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  }
}
