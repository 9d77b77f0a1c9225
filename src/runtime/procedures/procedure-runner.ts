import { HoldfastError, InvalidArgumentError, NotFoundError, PoisonConflictError, SubscriberReplacedError } from '../../errors.js'
import type { Store } from '../../store.js'
import { messageOf } from '../../validate.js'
import { newEventId } from '../ulid.js'
import { Lease } from './lease.js'
import { checkDefine, checkId, checkKeys, checkList, checkRun, checkRunner, checkType, type Definition, type RunnerSettings } from './options.js'
import { ProcedurePoisoned } from './procedure-poisoned.js'
import { checkpointOf, DONE, FAILED, leaseKeyOf, POISONED, toInfo, TRACE_PREFIX, traceOf, type Meta } from './record.js'
import type {
  ProcedureListOptions,
  ProcedureDefinition,
  ProcedureInfo,
  ProcedureRunnerOptions,
  ProcedureStatus,
  ProcedureResumeReport,
  ProcedureRunOptions,
  ProcedureStepResult,
} from './types.js'

/** A procedure in hand: what its next checkpoint is made of. */
interface Running {
  id: string
  def: Definition
  input: unknown
  keys: string[]
  owner: string
  lease: Lease
  startedAt: number
  /** The number of its last checkpoint. */
  n: number
  status: ProcedureStatus
  step: string
  state: unknown
  error: string | null
  errorStep: string | null
  updatedAt: number
}

/** A step returned something the runner cannot carry on from: the step ran, so the procedure is poisoned. */
class BadStepResult extends InvalidArgumentError {}

const PAGE = 100
/** Procedures of one lease that `resumeAll` runs at once. */
const RESUME_CONCURRENCY = 16

/** Error text that the checkpoint metadata (JSON, PostgreSQL `jsonb`) can hold. */
const errorText = (err: unknown): string => messageOf(err).toWellFormed().replaceAll('\0', '\uFFFD')

/**
 * Runs multi-step procedures that survive `kill -9` and fence their resources (`spec/runtime.md` §4; GreptimeDB's
 * procedure runner with poison keys, lellm-graph's checkpoint after every node):
 * - each step's returned state is checkpointed (`procedure/<id>` in the checkpoint store) before the next step runs,
 *   and {@link ProcedureRunner.resumeAll} carries every unfinished procedure on from its last checkpoint. **A step
 *   may run again** (a crash after its side effect, before its checkpoint): make every step idempotent;
 * - before the first step the procedure takes its poison keys with its id as token; a key held by another is
 *   `POISON_CONFLICT` and the procedure does not start. The keys are released when it ends `done` or `failed`
 *   (a plain error, retried with backoff until `retry.attempts`), and kept when a step throws
 *   {@link ProcedurePoisoned}, until an operator's `store.poison.clearPoison`;
 * - a procedure runs under its runner's lease (the subscriber key `holdfast/procedure-runner/<runnerId>`, renewed
 *   every `leaseMs / 3`); another runner's `resumeAll` takes the procedures of a runner whose lease ran out, one
 *   claim for all of them, so each is resumed by exactly one runner. Every checkpoint save is fenced by the lease
 *   (see `Lease` for the window that remains: a save slower than `leaseMs / 3` can land after a takeover).
 *
 * It calls only the public store contracts, so it runs on every backend.
 *
 * @example
 * const procedures = new ProcedureRunner(store, { retention: 10, runnerId: 'host-1' })
 * procedures.define<{ tableId: string; altered?: boolean }>('ddl/alter-table', {
 *   poisonKeys: (input) => [`table/${input.tableId}`],
 *   steps: {
 *     start: async (state) => ({ next: 'alter', state }),
 *     alter: async (state) => (await alterIfNotYet(state.tableId), { next: 'done', state: { ...state, altered: true } }),
 *   },
 * })
 * await procedures.resumeAll()                    // at start-up
 * const { id, result } = await procedures.run('ddl/alter-table', { tableId: 't1' })
 */
export class ProcedureRunner {
  /** This runner's id: its lease key is `holdfast/procedure-runner/<runnerId>`. */
  readonly runnerId: string
  readonly #store: Store
  readonly #s: RunnerSettings
  readonly #definitions = new Map<string, Definition>()
  /** The leases this runner holds, by the runner id they belong to (its own, and those it took over). */
  readonly #leases = new Map<string, Lease>()
  readonly #claiming = new Map<string, Promise<Lease | { holder: string }>>()
  /** Procedures running in this runner, so that a `resumeAll` here leaves them alone. */
  readonly #active = new Map<string, Promise<unknown>>()
  readonly #stop = new AbortController()
  #timer: NodeJS.Timeout | undefined
  #closed: Promise<void> | undefined

  /**
   * @param store - an open store
   * @param options - `retention`, `retry`, `runnerId`, `leaseMs` (see {@link ProcedureRunnerOptions})
   * @throws `INVALID_ARGUMENT` for a bad option
   */
  constructor(store: Store, options?: ProcedureRunnerOptions) {
    this.#s = checkRunner(store, options)
    this.#store = store
    this.runnerId = this.#s.runnerId
  }

  /**
   * Defines procedure type `type`: its poison keys (from the input) and its steps, `start` first. Each step returns
   * `{ next, state }`, `next` being another step's name or `'done'`. Returns the runner.
   * @throws `INVALID_ARGUMENT` for a bad definition or a type defined already
   */
  define<S = unknown>(type: string, definition: ProcedureDefinition<S>): this {
    const def = checkDefine(type, definition)
    if (this.#definitions.has(def.type)) throw new InvalidArgumentError(`type: procedure type ${JSON.stringify(def.type)} is defined already`)
    this.#definitions.set(def.type, def)
    return this
  }

  /**
   * Starts a procedure of `type` with `input` (JSON, the state `start` receives) and runs it to its end here:
   * resolves with its id and final state once it is `done`. Rejects with the step's error once it is `failed` or
   * `poisoned` (both recorded; see {@link ProcedureRunner.get}), with `POISON_CONFLICT` if one of its keys is held
   * by another (it did not start, and nothing of it is stored), and with `SUBSCRIBER_REPLACED` if this runner lost
   * its lease meanwhile (another runner's `resumeAll` carries it on).
   * @throws `INVALID_ARGUMENT` for bad arguments or an id already used (nothing stored); `NOT_FOUND` for a type not defined
   */
  async run<S = unknown>(type: string, input: S, options?: ProcedureRunOptions): Promise<{ id: string; result: S }> {
    this.#open()
    checkType('type', type)
    const def = this.#definitions.get(type)
    if (!def) throw new NotFoundError(`procedure type ${JSON.stringify(type)} is not defined in this runner`)
    const { id: given } = checkRun(input, options)
    const keys = checkKeys(type, def.poisonKeys(input))
    const id = given ?? newEventId()
    if (this.#active.has(id)) throw new InvalidArgumentError(`options.id: procedure ${JSON.stringify(id)} is running in this runner`)
    const result = this.#track(id, this.#start(def, id, input, keys, given !== undefined))
    return { id, result: (await result) as S }
  }

  /**
   * Carries on every unfinished procedure from its last checkpoint (call it at start-up): the step after that
   * checkpoint runs next, with its state. A procedure runs under the lease of the runner that started it: this
   * runner takes its own at once, and another's once that runner has been silent for `leaseMs`; a procedure whose
   * lease is live elsewhere is reported `held` (its runner runs it). Resolves once every procedure it resumed has
   * stopped here, ended or not (see the report). Also releases the keys of a procedure that ended just before a crash.
   */
  async resumeAll(): Promise<ProcedureResumeReport> {
    this.#open()
    const report: ProcedureResumeReport = { resumed: [], held: [], skipped: [] }
    const held = new Map<string, string[]>()
    for (const p of await this.#store.poison.listPoison()) held.set(p.token, [...(held.get(p.token) ?? []), p.key])
    const byOwner = new Map<string, string[]>()
    for await (const { info } of this.#scan(undefined)) {
      if (info.status === 'running') {
        if (this.#active.has(info.id)) continue
        if (!this.#definitions.has(info.type)) report.skipped.push({ id: info.id, type: info.type, reason: 'undefined type' })
        else byOwner.set(info.runnerId, [...(byOwner.get(info.runnerId) ?? []), info.id])
      } else if (info.status !== 'poisoned' && held.has(info.id)) {
        // Ended, but killed before it released its keys.
        await this.#release(info.id, held.get(info.id)!.filter((k) => info.keys.includes(k)))
      }
    }
    await Promise.all(
      [...byOwner].map(async ([owner, ids]) => {
        const lease = await this.#acquire(owner)
        if (!lease) return void report.held.push(...ids)
        try {
          await pool(ids, RESUME_CONCURRENCY, async (id) => {
            if (this.#active.has(id)) return
            await this.#track(id, this.#resume(lease, id, report)).catch(() => {})
          })
        } finally {
          this.#unuse(lease)
        }
      }),
    )
    return report
  }

  /**
   * The procedure `id` as its last checkpoint has it, or `null`.
   * @throws `INVALID_ARGUMENT` for a bad id
   */
  async get<S = unknown>(id: string): Promise<ProcedureInfo<S> | null> {
    checkId('id', id)
    const latest = await this.#store.checkpoints.loadLatest(traceOf(id))
    return (latest && (toInfo(id, latest)?.info as ProcedureInfo<S> | undefined)) ?? null
  }

  /**
   * The stored procedures in id order, each as its last checkpoint has it, optionally of one status and paged
   * (`after`, `limit`). It reads the procedure traces in pages of 100 and one checkpoint per procedure.
   * @throws `INVALID_ARGUMENT` for bad options
   */
  async list(options?: ProcedureListOptions): Promise<ProcedureInfo[]> {
    const { status, after, limit } = checkList(options)
    const out: ProcedureInfo[] = []
    for await (const { info } of this.#scan(after)) {
      if (status !== undefined && info.status !== status) continue
      out.push(info)
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Stops this runner: the procedures running here stop after the step in hand is checkpointed (their `run` rejects
   * with `STORE_CLOSED`; they stay `running`, for a `resumeAll`), then its leases are released, so that another runner
   * may take them at once. Idempotent; the store stays open.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#stop.abort()
      await Promise.allSettled([...this.#active.values()])
      clearInterval(this.#timer)
      await Promise.allSettled([...this.#leases.values()].map((l) => l.release()))
      this.#leases.clear()
    })()
    return this.#closed
  }

  #open(): void {
    if (this.#stop.signal.aborted) throw new HoldfastError('STORE_CLOSED', 'the procedure runner is closed')
  }

  /** Registers a procedure as running here until `ended` settles. */
  #track(id: string, ended: Promise<unknown>): Promise<unknown> {
    this.#active.set(id, ended)
    const untrack = (): void => void this.#active.delete(id)
    ended.then(untrack, untrack)
    return ended
  }

  async #start(def: Definition, id: string, input: unknown, keys: string[], given: boolean): Promise<unknown> {
    const lease = await this.#acquire(this.runnerId)
    if (!lease) throw new SubscriberReplacedError(leaseKeyOf(this.runnerId), this.runnerId, '(another runner, resuming its procedures)')
    try {
      // Closed while it waited for the lease: refused before anything is stored.
      this.#open()
      if (given && (await this.#store.checkpoints.loadLatest(traceOf(id))) !== null)
        throw new InvalidArgumentError(`options.id: procedure ${JSON.stringify(id)} exists already`)
      const now = Date.now()
      const p: Running = { id, def, input, keys, owner: this.runnerId, lease, startedAt: now, n: 0, status: 'running', step: 'start', state: input, error: null, errorStep: null, updatedAt: now }
      // The record comes first: keys taken by a procedure nobody knows of would stay held for ever after a crash.
      await this.#save(p, 0, 'running', 'start', input)
      await this.#takeKeys(p)
      return await this.#drive(p)
    } finally {
      this.#unuse(lease)
    }
  }

  async #resume(lease: Lease, id: string, report: ProcedureResumeReport): Promise<void> {
    // Read again under the lease: the previous owner may have gone on until its lease ran out.
    const latest = await this.#durable(() => this.#store.checkpoints.loadLatest(traceOf(id)))
    const found = latest && toInfo(id, latest)
    if (!found || found.info.status !== 'running') return
    const { info, n } = found
    const p: Running = { ...info, def: this.#definitions.get(info.type)!, owner: info.runnerId, lease, n }
    try {
      try {
        // Held already (the same token), unless the procedure stopped before it had them all.
        await this.#takeKeys(p)
      } catch (err) {
        if (!(err instanceof PoisonConflictError)) throw err
        if (n === 0) return void report.skipped.push({ id, type: info.type, reason: 'poison conflict' })
        // An operator cleared a key of this running procedure and another took it: it cannot go on fenced.
        await this.#end(p, 'failed', err)
      }
      await this.#drive(p)
    } finally {
      if (!report.skipped.some((s) => s.id === id)) report.resumed.push(infoOf(p))
    }
  }

  /** Takes the keys in order; on a conflict, releases those it took and, before the first step, removes the record. */
  async #takeKeys(p: Running): Promise<void> {
    for (let i = 0; i < p.keys.length; i++) {
      try {
        await this.#durable(() => this.#store.poison.tryPutPoison(p.keys[i]!, p.id))
      } catch (err) {
        if (err instanceof PoisonConflictError && p.n === 0) {
          await this.#release(p.id, p.keys.slice(0, i))
          await this.#durable(() => this.#store.checkpoints.prune(traceOf(p.id), 0))
        }
        throw err
      }
    }
  }

  /** Deletes the keys `id` holds; one an operator cleared and another took is left to its holder. */
  async #release(id: string, keys: string[]): Promise<void> {
    await Promise.all(
      keys.map((k) =>
        this.#durable(() => this.#store.poison.deletePoison(k, id)).catch((err: unknown) => {
          if (!(err instanceof PoisonConflictError)) throw err
        }),
      ),
    )
  }

  /** Runs the steps from `p.step` to the end; resolves with the final state, rejects once it failed or was poisoned. */
  async #drive(p: Running): Promise<unknown> {
    for (;;) {
      const step = p.def.steps.get(p.step)
      if (!step) return this.#end(p, 'poisoned', new BadStepResult(`procedure type ${JSON.stringify(p.def.type)} has no step ${JSON.stringify(p.step)} (its definition changed)`))
      let result: ProcedureStepResult
      for (let attempt = 1; ; attempt++) {
        this.#check(p)
        try {
          result = checkResult(p, await step(p.state, { id: p.id, type: p.def.type, step: p.step, attempt, input: p.input, runnerId: this.runnerId, signal: p.lease.signal }))
          break
        } catch (err) {
          if (err instanceof ProcedurePoisoned || err instanceof BadStepResult) return this.#end(p, 'poisoned', err)
          if (p.lease.lost) throw p.lease.lostError()
          if (attempt >= this.#s.attempts) return this.#end(p, 'failed', err)
          await this.#pause(attempt)
        }
      }
      const done = result.next === 'done'
      try {
        await this.#save(p, p.n + 1, done ? 'done' : 'running', done ? DONE : result.next, result.state)
      } catch (err) {
        if (!(err instanceof InvalidArgumentError)) throw err
        return this.#end(p, 'poisoned', new BadStepResult(`step ${JSON.stringify(p.step)} returned a state the store cannot hold: ${err.message}`, { cause: err }))
      }
      if (done) {
        await this.#release(p.id, p.keys)
        return p.state
      }
    }
  }

  /** Saves the final checkpoint of a failed or poisoned procedure, releases the keys of a failed one, and throws `err`. */
  async #end(p: Running, status: 'failed' | 'poisoned', err: unknown): Promise<never> {
    const step = p.step
    const kept = err instanceof ProcedurePoisoned && err.state !== undefined ? err.state : p.state
    const save = (state: unknown) => this.#save(p, p.n + 1, status, status === 'failed' ? FAILED : POISONED, state, errorText(err), step)
    try {
      await save(kept)
    } catch (saveErr) {
      // The state the step handed over cannot be stored: keep the last one instead.
      if (!(saveErr instanceof InvalidArgumentError) || kept === p.state) throw saveErr
      await save(p.state)
    }
    if (status === 'failed') await this.#release(p.id, p.keys)
    throw err
  }

  /** Checkpoints `p` as number `n`, fenced by its lease, and prunes to the retention; updates `p` once stored. */
  async #save(p: Running, n: number, status: ProcedureStatus, step: string, state: unknown, error: string | null = null, errorStep: string | null = null): Promise<void> {
    const trace = traceOf(p.id)
    const metadata: Meta = { kind: 'procedure', type: p.def.type, status, step, input: p.input, keys: p.keys, owner: p.owner, startedAt: p.startedAt, n }
    if (error !== null) Object.assign(metadata, { error, errorStep })
    const checkpoint = { id: checkpointOf(p.id, n), state, metadata, parentId: n > 0 ? checkpointOf(p.id, n - 1) : null, createdAt: Date.now() }
    await this.#durable(async () => {
      await p.lease.fence()
      await this.#store.checkpoints.saveWithTrace(trace, checkpoint)
    })
    Object.assign(p, { n, status, step, state, error, errorStep, updatedAt: checkpoint.createdAt })
    const keep = this.#s.retention
    if (keep !== null && n + 1 > keep) await this.#durable(() => this.#store.checkpoints.prune(trace, keep))
  }

  /** Throws if `p` may not go on here: its lease was lost, or the runner is closing. */
  #check(p: Running): void {
    if (p.lease.lost) throw p.lease.lostError()
    if (this.#stop.signal.aborted) throw new HoldfastError('STORE_CLOSED', `the procedure runner closed; procedure ${JSON.stringify(p.id)} continues at the next resumeAll`)
  }

  /** A store call retried while it fails retryably (a restart, a lock), up to `retry.attempts`. */
  async #durable<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call()
      } catch (err) {
        if (!(err instanceof HoldfastError && err.retryable) || attempt >= this.#s.attempts || this.#stop.signal.aborted) throw err
        await this.#pause(attempt)
      }
    }
  }

  /** The backoff after try `attempt`: doubling from `minBackoffMs`, with jitter; cut short by `close`. */
  #pause(attempt: number): Promise<void> {
    const backoff = Math.min(this.#s.maxBackoffMs, this.#s.minBackoffMs * 2 ** (attempt - 1))
    const signal = this.#stop.signal
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, backoff / 2 + Math.random() * (backoff / 2))
      signal.addEventListener('abort', done, { once: true })
    })
  }

  /** The lease of `owner`'s procedures, held by this runner and counted as used; `null` while another holds it. */
  async #acquire(owner: string): Promise<Lease | null> {
    for (;;) {
      let lease = this.#leases.get(owner)
      if (!lease || lease.lost) {
        const claimed = await this.#claim(owner)
        if (!(claimed instanceof Lease)) return null
        lease = claimed
      }
      // Another procedure's end may have released an inherited lease while this one waited for it.
      if (lease.lost) continue
      lease.users++
      return lease
    }
  }

  /** One claim in flight per lease key, however many procedures start at once. */
  #claim(owner: string): Promise<Lease | { holder: string }> {
    let pending = this.#claiming.get(owner)
    if (!pending) {
      pending = this.#durable(() => Lease.claim(this.#store, owner, this.runnerId, this.#s.leaseMs))
        .then((claimed) => {
          if (claimed instanceof Lease) {
            this.#leases.set(owner, claimed)
            this.#renewals()
          }
          return claimed
        })
        .finally(() => this.#claiming.delete(owner))
      this.#claiming.set(owner, pending)
    }
    return pending
  }

  /** An inherited lease goes back once its procedures are done here; the runner's own is kept until `close`. */
  #unuse(lease: Lease): void {
    if (--lease.users > 0 || lease.owner === this.runnerId) return
    if (this.#leases.get(lease.owner) === lease) this.#leases.delete(lease.owner)
    void lease.release().catch(() => {})
  }

  /** One timer renews every lease held, every `leaseMs / 3`; it does not keep the process alive. */
  #renewals(): void {
    if (this.#timer) return
    this.#timer = setInterval(() => {
      for (const lease of this.#leases.values()) {
        lease.renew().then(
          () => {
            if (lease.lost && this.#leases.get(lease.owner) === lease) this.#leases.delete(lease.owner)
          },
          () => {},
        )
      }
    }, Math.floor(this.#s.leaseMs / 3))
    this.#timer.unref()
  }

  /** The procedure traces after `after` (an id), in id order, each with its newest checkpoint, a page at a time. */
  async *#scan(after: string | undefined): AsyncGenerator<{ info: ProcedureInfo; n: number }> {
    let cursor = after === undefined ? TRACE_PREFIX : traceOf(after)
    for (;;) {
      const page = await this.#store.checkpoints.listTraces({ after: cursor, limit: PAGE })
      // The prefix is a contiguous range of text order: the first trace outside it ends the procedures.
      const ours = page.filter((t) => t.traceId.startsWith(TRACE_PREFIX))
      const latest = await Promise.all(ours.map((t) => this.#store.checkpoints.loadLatest(t.traceId)))
      for (let i = 0; i < ours.length; i++) {
        const found = latest[i] && toInfo(ours[i]!.traceId.slice(TRACE_PREFIX.length), latest[i]!)
        if (found) yield found
      }
      if (page.length < PAGE || ours.length < page.length) return
      cursor = page[page.length - 1]!.traceId
    }
  }
}

/** A step's result, checked: `next` is `'done'` or a step of the definition, and a state is given. */
function checkResult(p: Running, value: unknown): ProcedureStepResult {
  const what = `step ${JSON.stringify(p.step)} of ${JSON.stringify(p.def.type)}`
  if (typeof value !== 'object' || value === null) throw new BadStepResult(`${what} returned ${messageOf(value)}, not { next, state }`)
  const { next, state } = value as Partial<ProcedureStepResult>
  if (typeof next !== 'string' || (next !== 'done' && !p.def.steps.has(next)))
    throw new BadStepResult(`${what} returned next ${messageOf(next)}: neither "done" nor one of its steps`)
  if (state === undefined) throw new BadStepResult(`${what} returned no state`)
  return { next, state }
}

function infoOf(p: Running): ProcedureInfo {
  const { id, status, step, state, input, error, errorStep, keys, owner, startedAt, updatedAt } = p
  return { id, type: p.def.type, status, step, state, input, error, errorStep, keys, runnerId: owner, startedAt, updatedAt }
}

/** Runs `task` over `items`, at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await task(items[next++]!)
    }),
  )
}
