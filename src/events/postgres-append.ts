import { InvalidArgumentError, InvalidOriginalVersionError } from '../errors.js'
import type { PostgresDatabase } from '../sql/database.js'
import type { CheckedWrite } from './validate.js'

interface Outcome {
  o_write: number
  o_kind: 'version' | 'id'
  o_type: string | null
  o_agg: string | null
  o_expected: number | string | null
  o_found: number | string | null
  o_id: string | null
}

/**
 * Appends a group commit on PostgreSQL in one round trip per call of the `append_events` function (see
 * `schema.ts`). The function checks each write against what is stored, not against other writes of the same call,
 * so writes that touch the same aggregate or event id go into successive calls, in submission order.
 */
export function postgresAppender(db: PostgresDatabase): (writes: CheckedWrite[]) => Promise<(Error | undefined)[]> {
  const sql = `SELECT * FROM ${db.table('append_events')}(?::int[], ?::text[], ?::text[], ?::text[], ?::bigint[], ?::text[],
    ?::text[], ?::bytea[], ?::bytea[], ?::int[], ?::text[], ?::text[], ?::bigint[], ?::bigint)`

  const call = async (writes: CheckedWrite[]): Promise<(Error | undefined)[]> => {
    const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], [], [], [], []]
    writes.forEach((w, i) => {
      for (const e of w.events) {
        cols[0]!.push(i)
        cols[1]!.push(e.id)
        cols[2]!.push(e.aggregatorType)
        cols[3]!.push(e.aggregatorId)
        cols[4]!.push(e.version)
        cols[5]!.push(e.name)
        cols[6]!.push(e.routingKey)
        cols[7]!.push(e.data)
        cols[8]!.push(e.metadata)
      }
      for (const a of w.aggregates) {
        cols[9]!.push(i)
        cols[10]!.push(a.aggregatorType)
        cols[11]!.push(a.aggregatorId)
        cols[12]!.push(a.expected)
      }
    })
    const rows = await db.all<Outcome>(sql, [...cols, Date.now()])
    const outcomes: (Error | undefined)[] = writes.map(() => undefined)
    for (const r of rows) {
      if (outcomes[r.o_write]) continue
      outcomes[r.o_write] =
        r.o_kind === 'version'
          ? new InvalidOriginalVersionError({ aggregatorType: r.o_type!, aggregatorId: r.o_agg!, expectedVersion: Number(r.o_expected), foundVersion: Number(r.o_found) })
          : new InvalidArgumentError(`events[${writes[r.o_write]!.events.findIndex((e) => e.id === r.o_id)}].id ${JSON.stringify(r.o_id)} is already stored`)
    }
    return outcomes
  }

  return async (writes) => {
    const outcomes: (Error | undefined)[] = []
    let start = 0
    while (start < writes.length) {
      const seen = new Set<string>()
      let end = start
      for (; end < writes.length; end++) {
        const w = writes[end]!
        const keys = [...w.aggregates.map((a) => `a${a.key}`), ...w.events.map((e) => `i${e.id}`)]
        if (end > start && keys.some((k) => seen.has(k))) break
        for (const k of keys) seen.add(k)
      }
      const chunk = writes.slice(start, end)
      // Each call commits on its own: a failed call fails its writes only, never ones an earlier call committed.
      try {
        outcomes.push(...(await call(chunk)))
      } catch (err) {
        outcomes.push(...chunk.map(() => err as Error))
      }
      start = end
    }
    return outcomes
  }
}
