/*
 * Procedures across SIGKILL and across processes (test/children/procedure-runner.ts), on a SQLite file and the
 * PostgreSQL server:
 * - a child runs 5-step procedures on 3 workers and is killed at random, ≥ 20 times; each restart (same runner id)
 *   resumes every unfinished one. From the markers each step appends before it returns: every procedure ran its
 *   steps in order, each step got the state the previous one returned (through the checkpoint after a kill), and a
 *   step ran twice only where a kill cut it between its marker and its checkpoint: at most one re-run per
 *   procedure per kill;
 * - a child is killed with 12 procedures hanging in their third step; 4 processes then call resumeAll at once, and
 *   each procedure's remaining steps run exactly once, in one of them.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, ProcedureRunner } from '../src/index.js'
import { processTargets, tempDir } from './backends.js'
import { spawnChild } from './children/spawn.js'

const KILLS = Number(process.env.HOLDFAST_TEST_KILLS ?? 20)
const STEPS = ['start', 's2', 's3', 's4', 's5']
const LEASE_MS = 500
const dir = tempDir()
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Marker {
  id: string
  step: string
  n: number
  runner: string
}
function markers(file: string): Marker[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id, step, n, runner] = l.split(' ') as [string, string, string, string]
      return { id, step, n: Number(n), runner }
    })
}

/** Each procedure's markers, in the order they were written. */
function byProcedure(all: Marker[]): Map<string, Marker[]> {
  const out = new Map<string, Marker[]>()
  for (const m of all) out.set(m.id, [...(out.get(m.id) ?? []), m])
  return out
}

/** A runner of the test's own, to read the store as the children left it. */
async function inspect<T>(url: string, schema: string, fn: (r: ProcedureRunner) => Promise<T>): Promise<T> {
  const store = await openStore(schema === '-' ? url : { url, schema })
  try {
    return await fn(new ProcedureRunner(store))
  } finally {
    await store.close()
  }
}

describe.each(processTargets('procedures.db'))('procedures across SIGKILL: %s', (_name, where) => {
  it(`finishes every procedure after each of ${KILLS} kills, each step on its predecessor's state, at most one re-run per kill`, { timeout: 120_000 }, async () => {
    const { url, schema } = where()
    const file = join(dir, `markers-${Math.random().toString(36).slice(2)}.txt`)
    writeFileSync(file, '')
    const finished = new Set<string>()
    let killsMidProcedure = 0
    for (let run = 0; run <= KILLS; run++) {
      const child = spawnChild('procedure-runner.ts', [url, schema, 'crashy', String(LEASE_MS), file, 'loop', `r${run}`])
      const ready = await child.nextLine()
      expect(ready.startsWith('ready ')).toBe(true)
      // Everything a kill interrupted is finished by the restart's resumeAll, before this child starts more.
      const running = await inspect(url, schema, (r) => r.list({ status: 'running' }))
      expect(running.map((p) => p.id)).toEqual([])
      const report = JSON.parse(ready.slice(6)) as { resumed: [string, string][]; held: string[]; skipped: unknown[] }
      expect(report.held).toEqual([])
      expect(report.skipped).toEqual([])
      for (const [, status] of report.resumed) expect(status).toBe('done')
      if (run === KILLS) {
        child.proc.kill('SIGKILL')
        await child.exited
        break
      }
      child.send('go')
      await sleep(30 + Math.random() * 150)
      child.proc.kill('SIGKILL')
      expect(await child.exited).toBe('SIGKILL')
      for (const l of child.lines) if (l.startsWith('ok ')) finished.add(l.slice(3))
      const cut = new Set(markers(file).filter((m) => m.id.startsWith(`r${run}-`) && !finished.has(m.id)).map((m) => m.id))
      if (cut.size > 0) killsMidProcedure++
    }

    const all = byProcedure(markers(file))
    const stored = await inspect(url, schema, (r) => r.list())
    expect(stored.filter((p) => p.status !== 'done')).toEqual([])
    for (const p of stored) {
      expect(p.state, p.id).toEqual({ n: 5, trail: 'start;s2;s3;s4;s5;' })
      const ms = all.get(p.id) ?? []
      // In order, each on the state its predecessor returned; a step repeats only right where a kill cut it.
      const distinct = ms.filter((m, i) => i === 0 || m.step !== ms[i - 1]!.step)
      expect(distinct.map((m) => m.step), p.id).toEqual(STEPS)
      for (const m of ms) expect(m.n, `${p.id} ${m.step}`).toBe(STEPS.indexOf(m.step))
      // Every procedure lives through at most one kill (a restart's resume finishes it): one re-run at most.
      expect(ms.length - STEPS.length, `re-runs of ${p.id}`).toBeLessThanOrEqual(1)
    }
    // The record is saved before the first step: no step ran for a procedure that is not stored.
    for (const id of all.keys()) expect(stored.some((p) => p.id === id), `markers of unstored ${id}`).toBe(true)
    const reruns = [...all.values()].reduce((n, ms) => n + ms.length - STEPS.length, 0)
    console.log(`${_name}: ${stored.length} procedures, ${killsMidProcedure} of ${KILLS} kills cut procedures, ${reruns} step re-runs`)
    expect(killsMidProcedure).toBeGreaterThanOrEqual(KILLS / 2)
    expect(reruns).toBeLessThanOrEqual(KILLS * 3)
    // Keys all released.
    const store = await openStore(schema === '-' ? url : { url, schema })
    try {
      expect(await store.poison.listPoison('res/')).toEqual([])
    } finally {
      await store.close()
    }
  })

  it('4 processes calling resumeAll at once resume each unfinished procedure exactly once', { timeout: 60_000 }, async () => {
    const { url, schema } = where()
    const file = join(dir, `markers-${Math.random().toString(36).slice(2)}.txt`)
    writeFileSync(file, '')
    const tag = `h${Math.random().toString(36).slice(2, 8)}`
    const dead = spawnChild('procedure-runner.ts', [url, schema, `dead-${tag}`, String(LEASE_MS), file, 'hang', tag])
    expect(await dead.nextLine()).toBe('ready')
    const started = Date.now()
    while (markers(file).filter((m) => m.step === 's3').length < 12) {
      if (Date.now() - started > 20_000) throw new Error('the procedures did not reach s3')
      await sleep(20)
    }
    dead.proc.kill('SIGKILL')
    expect(await dead.exited).toBe('SIGKILL')
    const children = [0, 1, 2, 3].map((i) => spawnChild('procedure-runner.ts', [url, schema, `heir-${tag}-${i}`, String(LEASE_MS), file, 'resume', tag]))
    for (const c of children) expect(await c.nextLine()).toBe('ready')
    // The dead runner's lease runs out first.
    await sleep(LEASE_MS + 100)
    for (const c of children) c.send('go')
    const reports = await Promise.all(children.map(async (c) => JSON.parse((await c.nextLine()).slice(7)) as { resumed: [string, string][]; held: string[] }))
    for (const c of children) expect(await c.exited).toBe(0)

    const ids = Array.from({ length: 12 }, (_, i) => `${tag}-${i}`)
    const resumed = reports.flatMap((r) => r.resumed.map(([id]) => id)).sort()
    expect(resumed).toEqual([...ids].sort())
    for (const r of reports) for (const [, status] of r.resumed) expect(status).toBe('done')
    const all = byProcedure(markers(file))
    for (const id of ids) {
      const ms = all.get(id)!
      // The dead runner's start, s2 and s3 (cut), then s3, s4, s5 exactly once, all in one heir.
      expect(ms.map((m) => m.step), id).toEqual(['start', 's2', 's3', 's3', 's4', 's5'])
      expect(new Set(ms.slice(3).map((m) => m.runner)).size, id).toBe(1)
      expect(ms[3]!.runner).not.toBe(ms[2]!.runner)
      for (const m of ms) expect(m.n).toBe(STEPS.indexOf(m.step))
    }
    const stored = await inspect(url, schema, (r) => r.list())
    for (const id of ids) expect(stored.find((p) => p.id === id)).toMatchObject({ status: 'done', state: { n: 5 } })
  })
})
