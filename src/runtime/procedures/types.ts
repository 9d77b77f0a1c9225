/** Where a procedure stands: still going (or waiting for a resume), or ended one of three ways. */
export type ProcedureStatus = 'running' | 'done' | 'failed' | 'poisoned'

/** What a step returns: the step to run next (`'done'` to finish) and the state it hands over. */
export interface ProcedureStepResult<S = unknown> {
  /** A step name of the same definition, or `'done'`. */
  next: string
  /** Checkpointed before the next step runs; the next step (or `run`'s `result`) receives it. */
  state: S
}

/** What a step is told besides its state. */
export interface ProcedureStepContext<S = unknown> {
  /** The procedure's id (the token of its poison keys). */
  id: string
  /** Its type, as given to {@link ProcedureRunner.define}. */
  type: string
  /** The step being run. */
  step: string
  /** 1 on a step's first try, then 2, 3, … on its retries (a step resumed after a crash starts again at 1). */
  attempt: number
  /** The input `run` was given (the state of `start`). */
  input: S
  /** The runner running it now. */
  runnerId: string
  /** Aborted when this runner lost the procedure to another (its lease ran out): stop what can be stopped. */
  signal: AbortSignal
}

/**
 * One step. It may run more than once: after a crash between its side effect and its checkpoint, the step runs again
 * with the same state, so make it idempotent (check before you change, use the procedure id as an idempotency key).
 * Throw to retry it; throw {@link ProcedurePoisoned} when the resource may be left inconsistent.
 */
export type ProcedureStep<S = unknown> = (state: S, ctx: ProcedureStepContext<S>) => Promise<ProcedureStepResult<S>> | ProcedureStepResult<S>

/** A procedure type: the resources it fences and its steps (`start` first). */
export interface ProcedureDefinition<S = unknown> {
  /** The poison keys to hold while it runs, from its input (none: `[]`). */
  poisonKeys: (input: S) => string[]
  /** The steps by name; `start` runs first and receives the input as its state. Names starting `__` and `done` are reserved. */
  steps: { start: ProcedureStep<S>; [step: string]: ProcedureStep<S> }
}

/** A procedure as stored: what {@link ProcedureRunner.get} and {@link ProcedureRunner.list} give. */
export interface ProcedureInfo<S = unknown> {
  /** The procedure id. */
  id: string
  /** Its type. */
  type: string
  /** Where it stands. */
  status: ProcedureStatus
  /**
   * While running, the step that runs next; once ended, `'__done__'`, `'__failed__'` or `'__poisoned__'` (the step
   * that failed is {@link ProcedureInfo.errorStep}).
   */
  step: string
  /** The state of its last checkpoint: what the next step receives, or the final state. */
  state: S
  /** The input it was started with. */
  input: unknown
  /** The message of the error it failed or was poisoned with, else `null`. */
  error: string | null
  /** The step that threw that error, else `null`. */
  errorStep: string | null
  /** The poison keys it holds while running (and keeps once poisoned). */
  keys: string[]
  /** The runner whose lease it runs under (it started there; another runner's `resumeAll` may carry it on). */
  runnerId: string
  /** When it started (ms since epoch). */
  startedAt: number
  /** When its last checkpoint was saved (ms since epoch). */
  updatedAt: number
}

/** How a failing step is retried before the procedure ends `failed`. */
export interface ProcedureRetryOptions {
  /** Tries of a step in all, the first included (1..1000, default 5). */
  attempts?: number
  /** The wait before the first retry, in ms (default 100); it doubles, with jitter, up to `maxBackoffMs`. */
  minBackoffMs?: number
  /** The longest wait between two tries, in ms (default 30,000). */
  maxBackoffMs?: number
}

/** The options of {@link ProcedureRunner}. */
export interface ProcedureRunnerOptions {
  /** Checkpoints kept per procedure, the newest (1..1,000,000); default all. The final one is always the newest. */
  retention?: number
  /** Retries of a failing step (and of a store call that failed retryably). */
  retry?: ProcedureRetryOptions
  /**
   * This runner's id (a key string), default a fresh ULID. Unique among live processes; give a process the same id
   * across restarts and it takes back its unfinished procedures at once instead of after `leaseMs`.
   */
  runnerId?: string
  /** How long a silent runner keeps its procedures before another's `resumeAll` may take them, in ms (100..86,400,000; default 10,000). */
  leaseMs?: number
}

/** The options of {@link ProcedureRunner.run}. */
export interface ProcedureRunOptions {
  /**
   * The procedure id (a key string of at most 900 bytes); default a fresh ULID. An id already stored, or running in
   * this runner, is refused; two runs of one new id started at the same moment in two processes are not told apart
   * (both would run), so give each id to one caller.
   */
  id?: string
}

/** The options of {@link ProcedureRunner.list}. */
export interface ProcedureListOptions {
  /** Only procedures with this status. */
  status?: ProcedureStatus
  /** Only ids after this one (text order): the last id of the previous page. */
  after?: string
  /** At most this many (1..10,000; default all). */
  limit?: number
}

/** What {@link ProcedureRunner.resumeAll} did. */
export interface ProcedureResumeReport {
  /** The procedures it carried on, as each stood when this runner stopped running it (ended, unless it lost the lease). */
  resumed: ProcedureInfo[]
  /** Unfinished procedures under a live lease of another runner: that runner runs them (or resume again after `leaseMs`). */
  held: string[]
  /**
   * Unfinished procedures it did not run: `'undefined type'` (no definition in this runner; left for one that has
   * it), or `'poison conflict'` (stopped before its first step, its keys held by another: removed, as `run` does).
   */
  skipped: { id: string; type: string; reason: 'undefined type' | 'poison conflict' }[]
}
