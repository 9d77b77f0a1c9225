import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openStore, ProcedurePoisoned, ProcedureRunner, type ProcedureStepContext, type Store } from '../src/index.js'
import { rejectsWith, throwsWith } from '../src/testing/index.js'
import { backends, processTargets } from './backends.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const fast = { retry: { attempts: 3, minBackoffMs: 1, maxBackoffMs: 5 }, leaseMs: 1000 }

interface Trail {
  trail: string[]
}

/** Everything a refused call could have left behind. */
async function stored(store: Store): Promise<unknown> {
  return { traces: await store.checkpoints.listTraces(), poison: await store.poison.listPoison() }
}

/** A gate a step waits on until the test opens it. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void
  const wait = new Promise<void>((r) => (open = r))
  return { wait, open }
}

for (const target of backends()) {
  describe(`procedures: ${target.name}`, () => {
    let store: Store
    const runners: ProcedureRunner[] = []
    beforeEach(async () => {
      store = await target.open()
    })
    afterEach(async () => {
      for (const r of runners.splice(0)) await r.close()
      await store.close()
    })
    const runner = (options: ConstructorParameters<typeof ProcedureRunner>[1] = {}): ProcedureRunner => {
      const r = new ProcedureRunner(store, { ...fast, ...options })
      runners.push(r)
      return r
    }

    it('runs the steps in order, each with the state the one before returned, and checkpoints each', async () => {
      const r = runner()
      const seen: [string, string[], number][] = []
      const step = (next: string) => async (s: Trail, ctx: ProcedureStepContext<Trail>) => {
        seen.push([ctx.step, [...s.trail], ctx.attempt])
        expect(await store.poison.getPoison('res/1')).toBe(ctx.id)
        return { next, state: { trail: [...s.trail, ctx.step] } }
      }
      r.define<Trail>('chain', { poisonKeys: () => ['res/1', 'res/1'], steps: { start: step('b'), b: step('c'), c: step('done') } })
      const { id, result } = await r.run('chain', { trail: ['in'] })
      expect(result).toEqual({ trail: ['in', 'start', 'b', 'c'] })
      expect(seen).toEqual([
        ['start', ['in'], 1],
        ['b', ['in', 'start'], 1],
        ['c', ['in', 'start', 'b'], 1],
      ])
      expect(await store.poison.getPoison('res/1')).toBeNull()
      expect(await store.checkpoints.list(`procedure/${id}`)).toEqual([0, 1, 2, 3].map((n) => `procedure/${id}/${n}`))
      const info = await r.get(id)
      expect(info).toMatchObject({ id, type: 'chain', status: 'done', step: '__done__', state: result, input: { trail: ['in'] }, error: null, keys: ['res/1'], runnerId: r.runnerId })
      expect(info!.updatedAt).toBeGreaterThanOrEqual(info!.startedAt)
      // The checkpoint before `c` holds what `c` received, and says `c` runs next.
      const before = await store.checkpoints.load(`procedure/${id}/2`)
      expect(before!.state).toEqual({ trail: ['in', 'start', 'b'] })
      expect(before!.metadata).toMatchObject({ status: 'running', step: 'c' })
    })

    it('retries a throwing step with backoff; after the attempts it ends failed and releases its keys', async () => {
      const r = runner()
      let flaky = 0
      let broken = 0
      r.define('flaky', {
        poisonKeys: () => ['res/flaky'],
        steps: {
          start: (s) => {
            if (++flaky < 3) throw new Error(`try ${flaky}`)
            return { next: 'done', state: s }
          },
        },
      })
      r.define('broken', {
        poisonKeys: () => ['res/broken', 'res/other'],
        steps: {
          start: (s) => ({ next: 'boom', state: s }),
          boom: () => {
            broken++
            throw new Error('still broken')
          },
        },
      })
      expect((await r.run('flaky', { a: 1 })).result).toEqual({ a: 1 })
      expect(flaky).toBe(3)
      await expect(r.run('broken', { b: 1 }, { id: 'b1' })).rejects.toThrow('still broken')
      expect(broken).toBe(3)
      expect(await r.get('b1')).toMatchObject({ status: 'failed', step: '__failed__', state: { b: 1 }, error: 'still broken', errorStep: 'boom' })
      expect(await store.poison.listPoison()).toEqual([])
    })

    it('keeps the keys of a poisoned procedure, with its state and error, until clearPoison', async () => {
      const r = runner()
      let calls = 0
      r.define('ddl', {
        poisonKeys: (input: { table: string }) => [`table/${input.table}`],
        steps: {
          start: (s) => ({ next: 'alter', state: s }),
          alter: (s) => {
            calls++
            throw new ProcedurePoisoned('altered 2 of 3 regions', { state: { ...s, altered: 2 } })
          },
        },
      })
      const err = await r.run('ddl', { table: 't1' }, { id: 'p1' }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(ProcedurePoisoned)
      expect(calls).toBe(1)
      expect(await r.get('p1')).toMatchObject({ status: 'poisoned', step: '__poisoned__', state: { table: 't1', altered: 2 }, error: 'altered 2 of 3 regions', errorStep: 'alter' })
      expect(await store.poison.getPoison('table/t1')).toBe('p1')
      const blocked = await rejectsWith(r.run('ddl', { table: 't1' }, { id: 'p2' }), 'POISON_CONFLICT')
      expect(blocked.message).toContain('p1')
      expect(await r.get('p2')).toBeNull()
      // A resume leaves a poisoned procedure alone.
      expect((await r.resumeAll()).resumed).toEqual([])
      expect(await store.poison.clearPoison('table/t1', 'ops', 'repaired')).toBe('p1')
      await expect(r.run('ddl', { table: 't1' }, { id: 'p3' })).rejects.toThrow(ProcedurePoisoned)
      expect(calls).toBe(2)
    })

    it('of two procedures on an overlapping key, one runs; the other gets POISON_CONFLICT, does not start, and leaves nothing', async () => {
      const r = runner()
      const g = gate()
      const started: string[] = []
      r.define('two', {
        poisonKeys: (input: { keys: string[] }) => input.keys,
        steps: {
          start: async (s, ctx) => {
            started.push(ctx.id)
            await g.wait
            return { next: 'done', state: s }
          },
        },
      })
      const first = r.run('two', { keys: ['r/b', 'r/a'] }, { id: 'first' })
      while (started.length === 0) await sleep(5)
      await rejectsWith(r.run('two', { keys: ['r/c', 'r/b'] }, { id: 'second' }), 'POISON_CONFLICT')
      expect(started).toEqual(['first'])
      expect(await r.get('second')).toBeNull()
      expect(await store.checkpoints.list('procedure/second')).toEqual([])
      expect((await store.poison.listPoison()).map((p) => [p.key, p.token])).toEqual([
        ['r/a', 'first'],
        ['r/b', 'first'],
      ])
      g.open()
      await first
      // Nothing was stored for it, so the id is free again.
      await r.run('two', { keys: ['r/c', 'r/b'] }, { id: 'second' })
      expect(started).toEqual(['first', 'second'])
      expect(await store.poison.listPoison()).toEqual([])
    })

    it('prunes each procedure to its newest checkpoints; the final one stays', async () => {
      const r = runner({ retention: 2 })
      const next: Record<string, string> = { start: 's1', s1: 's2', s2: 's3', s3: 'done' }
      const steps = Object.fromEntries(Object.keys(next).map((name) => [name, (s: number) => ({ next: next[name]!, state: s + 1 })]))
      r.define<number>('five', { poisonKeys: () => [], steps: steps as never })
      const { id, result } = await r.run('five', 0)
      expect(result).toBe(4)
      expect(await store.checkpoints.list(`procedure/${id}`)).toEqual([`procedure/${id}/3`, `procedure/${id}/4`])
      expect(await r.get(id)).toMatchObject({ status: 'done', state: 4 })
    })

    it('lists procedures in id order, by status and in pages, and ignores traces that are not procedures', async () => {
      const r = runner()
      r.define('ok', { poisonKeys: () => [], steps: { start: (s) => ({ next: 'done', state: s }) } })
      r.define('bad', {
        poisonKeys: () => [],
        steps: {
          start: () => {
            throw new Error('no')
          },
        },
      })
      await store.checkpoints.saveWithTrace('procedure', { id: 'x1', state: 1 })
      await store.checkpoints.saveWithTrace('procedure/zz', { id: 'x2', state: 1 })
      await store.checkpoints.saveWithTrace('procedurez', { id: 'x3', state: 1 })
      for (const id of ['c', 'a', 'd']) await r.run('ok', { id }, { id })
      await r.run('bad', {}, { id: 'b' }).catch(() => {})
      expect((await r.list()).map((p) => [p.id, p.status])).toEqual([
        ['a', 'done'],
        ['b', 'failed'],
        ['c', 'done'],
        ['d', 'done'],
      ])
      expect((await r.list({ status: 'failed' })).map((p) => p.id)).toEqual(['b'])
      expect((await r.list({ status: 'running' })).map((p) => p.id)).toEqual([])
      expect((await r.list({ after: 'a', limit: 2 })).map((p) => p.id)).toEqual(['b', 'c'])
      expect(await r.get('zz')).toBeNull()
      expect(await r.get('nope')).toBeNull()
      expect(await r.get('a')).toMatchObject({ id: 'a', type: 'ok', status: 'done', state: { id: 'a' } })
    })

    it('stops after the step in hand on close, hands the lease over, and another runner resumes from the checkpoint', async () => {
      const g = gate()
      const calls: string[] = []
      const steps = {
        start: async (s: Trail, ctx: ProcedureStepContext<Trail>) => {
          calls.push(`${ctx.runnerId}:start`)
          await g.wait
          return { next: 'finish', state: { trail: [...s.trail, 'start'] } }
        },
        finish: (s: Trail, ctx: ProcedureStepContext<Trail>) => {
          calls.push(`${ctx.runnerId}:finish`)
          return { next: 'done', state: { trail: [...s.trail, 'finish'] } }
        },
      }
      const a = runner({ runnerId: 'a' }).define('handover', { poisonKeys: () => ['res/h'], steps })
      const b = runner({ runnerId: 'b' }).define('handover', { poisonKeys: () => ['res/h'], steps })
      const running = a.run('handover', { trail: [] }, { id: 'h1' })
      while (calls.length === 0) await sleep(5)
      // a's lease is live: b leaves it to a.
      expect(await b.resumeAll()).toEqual({ resumed: [], held: ['h1'], skipped: [] })
      const closed = a.close()
      g.open()
      await rejectsWith(running, 'STORE_CLOSED')
      await closed
      expect(await a.get('h1')).toMatchObject({ status: 'running', step: 'finish', state: { trail: ['start'] } })
      expect(await store.poison.getPoison('res/h')).toBe('h1')
      const report = await b.resumeAll()
      expect(report.resumed.map((p) => [p.id, p.status, p.state])).toEqual([['h1', 'done', { trail: ['start', 'finish'] }]])
      expect(calls).toEqual(['a:start', 'b:finish'])
      expect(await store.poison.listPoison()).toEqual([])
      await rejectsWith(a.run('handover', { trail: [] }), 'STORE_CLOSED')
    })

    it('stops checkpointing once another runner took its lease, and aborts the step signal', async () => {
      const r = runner({ runnerId: 'victim', leaseMs: 300 })
      let aborted = false
      r.define('slow', {
        poisonKeys: () => [],
        steps: {
          start: async (s, ctx) => {
            // An intruder takes the lease (as a takeover after a pause would), the next renewal notices.
            await store.events.releaseSubscriber('holdfast/procedure-runner/victim', 'victim')
            await store.events.claimSubscriber('holdfast/procedure-runner/victim', 'intruder', 60_000)
            while (!ctx.signal.aborted) await sleep(10)
            aborted = true
            return { next: 'done', state: s }
          },
        },
      })
      await rejectsWith(r.run('slow', 1, { id: 's1' }), 'SUBSCRIBER_REPLACED')
      expect(aborted).toBe(true)
      expect(await store.checkpoints.list('procedure/s1')).toEqual(['procedure/s1/0'])
      expect(await r.get('s1')).toMatchObject({ status: 'running', step: 'start' })
    })

    it('resumes a procedure of a runner that died, at the step after its last checkpoint', async () => {
      const hung = new Promise<never>(() => {})
      const calls: string[] = []
      const define = (r: ProcedureRunner, hang: boolean): ProcedureRunner =>
        r.define<Trail>('resume', {
          poisonKeys: () => ['res/r'],
          steps: {
            start: (s) => (calls.push('start'), { next: 'mid', state: { trail: [...s.trail, 'start'] } }),
            mid: async (s) => {
              calls.push('mid')
              if (hang) await hung
              return { next: 'done', state: { trail: [...s.trail, 'mid'] } }
            },
          },
        })
      // The first runner "dies" inside `mid`: it never returns. A new one with the same id takes its lease at once.
      const dead = define(new ProcedureRunner(store, { ...fast, runnerId: 'same' }), true)
      void dead.run('resume', { trail: [] }, { id: 'r1' })
      while (calls.length < 2) await sleep(5)
      const heir = define(runner({ runnerId: 'same' }), false)
      const report = await heir.resumeAll()
      expect(report.held).toEqual([])
      expect(report.resumed.map((p) => [p.id, p.status, p.state])).toEqual([['r1', 'done', { trail: ['start', 'mid'] }]])
      expect(calls).toEqual(['start', 'mid', 'mid'])
      expect(await store.poison.listPoison()).toEqual([])
      // A second resume finds nothing left.
      expect(await heir.resumeAll()).toEqual({ resumed: [], held: [], skipped: [] })
    })

    it('refuses bad input to every method with INVALID_ARGUMENT (an unknown type with NOT_FOUND), storing nothing', async () => {
      const before = await stored(store)
      const ok = { poisonKeys: () => [], steps: { start: (s: unknown) => ({ next: 'done', state: s }) } }
      for (const bad of [null, {}, { events: {} }, 'store']) throwsWith(() => new ProcedureRunner(bad as Store), 'INVALID_ARGUMENT')
      for (const options of [
        null,
        'x',
        { retention: 0 },
        { retention: 1.5 },
        { retry: { attempts: 0 } },
        { retry: { minBackoffMs: -1 } },
        { retry: { minBackoffMs: 10, maxBackoffMs: 5 } },
        { retry: 'x' },
        { runnerId: '' },
        { runnerId: 'x'.repeat(901) },
        { leaseMs: 99 },
        { leaseMs: '1000' },
      ])
        throwsWith(() => new ProcedureRunner(store, options as never), 'INVALID_ARGUMENT')
      const r = runner()
      for (const [type, def] of [
        ['', ok],
        [42, ok],
        ['a\0b', ok],
        ['t', null],
        ['t', { steps: ok.steps }],
        ['t', { poisonKeys: 'no', steps: ok.steps }],
        ['t', { poisonKeys: () => [] }],
        ['t', { poisonKeys: () => [], steps: {} }],
        ['t', { poisonKeys: () => [], steps: { start: 'no' } }],
        ['t', { poisonKeys: () => [], steps: { ...ok.steps, done: ok.steps.start } }],
        ['t', { poisonKeys: () => [], steps: { ...ok.steps, __x: ok.steps.start } }],
      ] as const)
        throwsWith(() => r.define(type as string, def as never), 'INVALID_ARGUMENT')
      r.define('t', ok)
      throwsWith(() => r.define('t', ok), 'INVALID_ARGUMENT')
      r.define('keys', { poisonKeys: (input: unknown) => input as string[], steps: ok.steps })
      await rejectsWith(r.run('missing', {}), 'NOT_FOUND')
      for (const type of ['', 7, null]) await rejectsWith(r.run(type as string, {}), 'INVALID_ARGUMENT')
      for (const input of [undefined, () => 1, { a: 1n }, { s: '\0' }, { s: '\ud800' }]) await rejectsWith(r.run('t', input), 'INVALID_ARGUMENT')
      for (const options of [null, 'x', { id: '' }, { id: 5 }, { id: 'x'.repeat(901) }]) await rejectsWith(r.run('t', {}, options as never), 'INVALID_ARGUMENT')
      for (const keys of ['k', [''], [1], ['ok', null], {}]) await rejectsWith(r.run('keys', keys), 'INVALID_ARGUMENT')
      for (const id of ['', 1, null, undefined]) await rejectsWith(r.get(id as string), 'INVALID_ARGUMENT')
      for (const options of [null, 'x', { status: 'busy' }, { limit: 0 }, { limit: 1.5 }, { after: '' }]) await rejectsWith(r.list(options as never), 'INVALID_ARGUMENT')
      expect(await stored(store)).toEqual(before)
      // An id that exists is refused, and that refusal stores nothing either.
      await r.run('t', 1, { id: 'taken' })
      const after = await stored(store)
      await rejectsWith(r.run('t', 2, { id: 'taken' }), 'INVALID_ARGUMENT')
      expect(await stored(store)).toEqual(after)
      expect(await r.get('taken')).toMatchObject({ state: 1 })
    })

    it('poisons a procedure whose step returns what it cannot carry on from', async () => {
      const r = runner()
      r.define('wrong', {
        poisonKeys: () => ['res/w'],
        steps: { start: (s: { bad: string }) => ({ next: s.bad, state: s }) as never },
      })
      await rejectsWith(r.run('wrong', { bad: 'nowhere' }, { id: 'w1' }), 'INVALID_ARGUMENT')
      expect(await r.get('w1')).toMatchObject({ status: 'poisoned', errorStep: 'start' })
      expect((await r.get('w1'))!.error).toContain('nowhere')
      expect(await store.poison.getPoison('res/w')).toBe('w1')
    })
  })
}

/** A poisoned procedure's keys across a reopen of the store (SQLite file, PostgreSQL server). */
describe.each(processTargets('reopen.db'))('a poisoned procedure across a reopen: %s', (_name, where) => {
  it('keeps its keys, state and error after the store reopens, until clearPoison', async () => {
    const { url, schema } = where()
    const open = () => openStore(schema === '-' ? url : { url, schema })
    const define = (r: ProcedureRunner) =>
      r.define('ddl', {
        poisonKeys: (input: { table: string }) => [`table/${input.table}`],
        steps: {
          start: (s) => {
            throw new ProcedurePoisoned(`half of ${s.table}`)
          },
        },
      })
    let store = await open()
    await expect(define(new ProcedureRunner(store, fast)).run('ddl', { table: 't' }, { id: 'p' })).rejects.toThrow(ProcedurePoisoned)
    await store.close()
    store = await open()
    try {
      const r = define(new ProcedureRunner(store, fast))
      expect(await r.resumeAll()).toEqual({ resumed: [], held: [], skipped: [] })
      expect(await r.get('p')).toMatchObject({ status: 'poisoned', state: { table: 't' }, error: 'half of t' })
      expect(await store.poison.getPoison('table/t')).toBe('p')
      await rejectsWith(r.run('ddl', { table: 't' }), 'POISON_CONFLICT')
      await store.poison.clearPoison('table/t', 'ops')
      await expect(r.run('ddl', { table: 't' })).rejects.toThrow(ProcedurePoisoned)
      await r.close()
    } finally {
      await store.close()
    }
  })
})
