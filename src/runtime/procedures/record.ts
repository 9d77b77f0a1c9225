import type { StoredCheckpoint } from '../../checkpoints/types.js'
import type { ProcedureInfo, ProcedureStatus } from './types.js'

/*
 * A procedure is a trace of the checkpoint store, `procedure/<id>`, one checkpoint per step (`procedure/<id>/<n>`,
 * n = 0 for the record saved before the keys are taken). Each checkpoint's metadata says all that `get`, `list` and
 * `resumeAll` need, so the newest alone describes the procedure and retention may drop the others.
 */

/** The trace ids of procedures start with this; `listTraces({ after })` pages through them as an index range. */
export const TRACE_PREFIX = 'procedure/'
/** The subscriber key whose lease fences a runner's procedures. */
export const LEASE_PREFIX = 'holdfast/procedure-runner/'

export const DONE = '__done__'
export const FAILED = '__failed__'
export const POISONED = '__poisoned__'

export const traceOf = (id: string): string => TRACE_PREFIX + id
export const checkpointOf = (id: string, n: number): string => `${TRACE_PREFIX}${id}/${n}`
export const leaseKeyOf = (runnerId: string): string => LEASE_PREFIX + runnerId

/** The metadata of every procedure checkpoint. */
export interface Meta extends Record<string, unknown> {
  kind: 'procedure'
  type: string
  status: ProcedureStatus
  step: string
  input: unknown
  keys: string[]
  owner: string
  startedAt: number
  /** This checkpoint's number in the procedure: 0 before the keys, then one per step. */
  n: number
  /** Only on the final checkpoint of a failed or poisoned procedure (absent otherwise: smaller rows). */
  error?: string
  errorStep?: string
}

const STATUSES: readonly string[] = ['running', 'done', 'failed', 'poisoned']

/** The procedure a checkpoint of trace `procedure/<id>` describes, or `null` if it is not one of ours. */
export function toInfo(id: string, c: StoredCheckpoint): { info: ProcedureInfo; n: number } | null {
  const m = c.metadata as Partial<Meta>
  if (m.kind !== 'procedure' || typeof m.type !== 'string' || !STATUSES.includes(m.status as string) || typeof m.n !== 'number') return null
  const info: ProcedureInfo = {
    id,
    type: m.type,
    status: m.status!,
    step: String(m.step),
    state: c.state,
    input: m.input,
    error: m.error ?? null,
    errorStep: m.errorStep ?? null,
    keys: Array.isArray(m.keys) ? m.keys.map(String) : [],
    runnerId: String(m.owner),
    startedAt: Number(m.startedAt),
    updatedAt: c.createdAt,
  }
  return { info, n: m.n }
}
