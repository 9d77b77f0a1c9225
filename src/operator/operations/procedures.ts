import { NotFoundError } from '../../errors.js'
import { ProcedureRunner } from '../../runtime/procedures/procedure-runner.js'
import type { ProcedureListOptions, ProcedureStatus } from '../../runtime/procedures/types.js'
import type { Store } from '../../store.js'
import { readFields } from '../../validate.js'
import { toJson, type JsonValue } from './values.js'

/** A durable procedure as the operator sees it: {@link ProcedureInfo} with its state and input as JSON. */
export interface ProcedureView {
  id: string
  type: string
  status: ProcedureStatus
  step: string
  state: JsonValue
  input: JsonValue
  error: string | null
  errorStep: string | null
  keys: string[]
  runnerId: string
  startedAt: number
  updatedAt: number
}

/**
 * A runner with no definitions, only to read: `get` and `list` read the `procedure/` checkpoint traces and need
 * none, and a runner that never runs takes no lease.
 */
const reader = (store: Store): ProcedureRunner => new ProcedureRunner(store, { runnerId: 'holdfast-operator' })

const view = (p: { state: unknown; input: unknown } & Omit<ProcedureView, 'state' | 'input'>): ProcedureView => ({ ...p, state: toJson(p.state), input: toJson(p.input) })

/** `procedures ls [--status S]`: procedures in id order, paged (`after`, `limit` 1..10,000, default 100). */
export async function listProcedures(store: Store, input: ProcedureListOptions = {}): Promise<{ procedures: ProcedureView[]; nextAfter: string | null }> {
  const i = readFields('input', input, ['status', 'after', 'limit'] as const)
  const limit = (i.limit as number | undefined) ?? 100
  const list = await reader(store).list({ ...(i as ProcedureListOptions), limit })
  return { procedures: list.map(view), nextAfter: list.length === limit ? list.at(-1)!.id : null }
}

/** `procedures show ID`; `NOT_FOUND` for an unknown id. */
export async function showProcedure(store: Store, id: string): Promise<ProcedureView> {
  const p = await reader(store).get(id)
  if (!p) throw new NotFoundError(`procedure ${JSON.stringify(id)} does not exist`)
  return view(p)
}
