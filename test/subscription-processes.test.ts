/*
 * One subscriber key across OS processes: three children (test/children/subscriber.ts) run `subscribe` on the same
 * key with a 1 s lease while eight writers in this process append events for ~9 s. Mid-run the active child is
 * SIGKILLed (a standby must take over within leaseMs + 2 s), later the next active one is stopped cleanly (a clean
 * handover), and the last one is stopped at the end. From the children's time-stamped lines:
 * - one active worker at a time: no two handler calls of different workers overlap (the killed child's last call,
 *   cut by its death, has no end and is ignored);
 * - every committed event was handled, each handler call starts right after the last acknowledged cursor (after
 *   the kill: after the cursor the killed child acknowledged last, printed or not), and the acknowledged cursor
 *   never moves back across all children in time order.
 */
import { describe, expect, it } from 'vitest'
import { decodeCursor, openStore, type NewEvent } from '../src/index.js'
import { readAll } from '../src/testing/index.js'
import { processTargets } from './backends.js'
import { spawnChild, type Child } from './children/spawn.js'

const LEASE_MS = 1000
const CHECK_MS = 250
const WRITE_MS = 9000
const KILL_AT = 3000
const HANDOVER_AT = 6000
const WRITERS = 8

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const now = (): number => performance.timeOrigin + performance.now()

const targets = processTargets('subscribers.db')

/** What one child printed, parsed. */
interface Worker {
  name: string
  child: Child
  stderr: string
}
interface Call {
  worker: string
  start: number
  end: number | undefined
  ids: string[]
}
interface Ack {
  worker: string
  at: number
  position: number
}
interface StateChange {
  worker: string
  at: number
  state: string
}

function parse(w: Worker): { calls: Call[]; acks: Ack[]; states: StateChange[]; errors: string[] } {
  const calls: Call[] = []
  const acks: Ack[] = []
  const states: StateChange[] = []
  const errors: string[] = []
  for (const line of w.child.lines) {
    const [kind, t, a, b] = line.split(' ')
    if (kind === 'start') calls.push({ worker: w.name, start: Number(t), end: undefined, ids: b ? b.split(',') : [] })
    else if (kind === 'end') calls[calls.length - 1]!.end = Number(t)
    else if (kind === 'batch') acks.push({ worker: w.name, at: Number(t), position: decodeCursor(a) })
    else if (kind === 'state') states.push({ worker: w.name, at: Number(t), state: a! })
    else if (kind === 'error') errors.push(line)
  }
  return { calls, acks, states, errors }
}

/** The latest state a child printed. */
function stateOf(w: Worker): string | undefined {
  for (let i = w.child.lines.length - 1; i >= 0; i--) {
    const line = w.child.lines[i]!
    if (line.startsWith('state ')) return line.split(' ')[2]
  }
  return undefined
}

async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`)
    await sleep(10)
  }
}

describe.each(targets)('subscribers in 3 processes: %s', (_name, where) => {
  it('keeps one active worker, takes over after SIGKILL within the lease, handles every event, never moves the cursor back', { timeout: 45_000 }, async () => {
    const { url, schema } = where()
    const store = await openStore(schema === '-' ? url : { url, schema })
    const key = `proc-${Math.random().toString(36).slice(2, 8)}`
    const workers: Worker[] = []
    try {
      for (let i = 0; i < 3; i++) {
        const child = spawnChild('subscriber.ts', [url, schema, key, `worker-${i}`, String(LEASE_MS), String(CHECK_MS)])
        const w: Worker = { name: `worker-${i}`, child, stderr: '' }
        child.proc.stderr.on('data', (d: Buffer) => (w.stderr += d.toString()))
        workers.push(w)
      }
      for (const w of workers) expect(await w.child.nextLine()).toBe('ready')
      await until(() => workers.filter((w) => stateOf(w) === 'active').length === 1 && workers.every((w) => stateOf(w) !== undefined), 10_000, 'one active child, the others standing by')

      // Eight writers, each on its own aggregate, a batch of 1–3 events every 5–15 ms.
      const began = Date.now()
      let writing = true
      let written = 0
      const writers = Array.from({ length: WRITERS }, async (_, w) => {
        let version = 0
        for (let n = 0; writing; n++) {
          const events: NewEvent[] = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, (_, i) => ({
            id: `${key}-w${w}-${n}-${i}`,
            aggregatorType: 'proc',
            aggregatorId: `${key}-w${w}`,
            version: ++version,
            name: 'E',
            data: new Uint8Array([w]),
          }))
          await store.events.write(events)
          written += events.length
          await sleep(5 + Math.random() * 10)
        }
      })

      // SIGKILL the active child mid-run.
      await sleep(KILL_AT)
      const victim = workers.find((w) => stateOf(w) === 'active')!
      expect(victim, 'an active child to kill').toBeDefined()
      victim.child.proc.kill('SIGKILL')
      // Taken once kill(2) has returned: the child runs no more code after it.
      const killedAt = now()
      expect(await victim.child.exited).toBe('SIGKILL')
      const left = workers.filter((w) => w !== victim)
      await until(() => left.some((w) => stateOf(w) === 'active'), LEASE_MS + 5000, 'a standby taking over')
      const heir = left.find((w) => stateOf(w) === 'active')!
      const takeover = parse(heir).states.find((s) => s.state === 'active' && s.at > killedAt)!.at - killedAt

      // A clean handover: the heir stops; the last child takes the key.
      await sleep(Math.max(0, HANDOVER_AT - (Date.now() - began)))
      const last = left.find((w) => w !== heir)!
      const stoppedAt = now()
      heir.child.send('stop')
      expect(await heir.child.exited).toBe(0)
      expect(heir.child.lines.at(-1)).toBe('stopped')
      await until(() => stateOf(last) === 'active', 3000, 'the last child taking over from a clean stop')
      const handover = parse(last).states.find((s) => s.state === 'active' && s.at > stoppedAt)!.at - stoppedAt

      await sleep(Math.max(0, WRITE_MS - (Date.now() - began)))
      writing = false
      await Promise.all(writers)
      const all = await readAll(store.events)
      expect(all.length).toBe(written)
      const end = all[all.length - 1]!.position
      await until(async () => {
        const c = await store.events.getSubscriberCursor(key)
        return c !== null && decodeCursor(c) === end
      }, 15_000, 'the last child catching up')
      last.child.send('stop')
      expect(await last.child.exited).toBe(0)
      expect(last.child.lines.at(-1)).toBe('stopped')

      // ---- What the children printed.
      const parsed = workers.map(parse)
      const calls = parsed.flatMap((p) => p.calls)
      const acks = parsed.flatMap((p) => p.acks).sort((a, b) => a.at - b.at)
      const victimCalls = calls.filter((c) => c.worker === victim.name)
      console.log(
        `${_name}: ${all.length} events, ${calls.length} handler calls, ${acks.length} acks; killed ${victimCalls.at(-1)?.end === undefined ? 'in' : 'between'} handler calls; takeover after SIGKILL ${takeover.toFixed(0)} ms, clean handover ${handover.toFixed(0)} ms; errors: ${parsed.flatMap((p) => p.errors).length}`,
      )
      // Only the killed child may leave a call without an end, and only its last.
      for (const p of parsed) {
        const open = p.calls.filter((c) => c.end === undefined)
        if (p.calls[0]?.worker === victim.name) expect(open.length === 0 || (open.length === 1 && open[0] === p.calls.at(-1)), 'only the killed child\'s last call is cut').toBe(true)
        else expect(open, `calls without an end in ${p.calls[0]?.worker}`).toEqual([])
      }

      // One active worker at a time: no finished call overlaps another (of another worker, or of the same one).
      const finished = calls.filter((c) => c.end !== undefined).sort((a, b) => a.start - b.start)
      let latest: Call | undefined
      for (const c of finished) {
        if (latest) expect(c.start, `${c.worker}'s call at ${c.start} overlaps ${latest.worker}'s ending at ${latest.end}`).toBeGreaterThanOrEqual(latest.end!)
        if (!latest || c.end! > latest.end!) latest = c
      }
      // The killed child's calls all began before the kill.
      expect(victimCalls.filter((c) => c.start >= killedAt), 'calls of the killed child after its death').toEqual([])
      // The key changed hands twice only, at the kill and at the clean stop: no live owner lost it (its lease kept
      // renewed while it worked), so every finished call was acknowledged.
      const owners = finished.map((c) => c.worker).filter((w, i, all) => i === 0 || w !== all[i - 1])
      expect(owners).toEqual([victim.name, heir.name, last.name])
      for (const p of parsed) {
        const done = p.calls.filter((c) => c.end !== undefined).length
        // The killed child may have died between its last call's end and the printed acknowledgement.
        if (p.calls[0]?.worker === victim.name) expect([done - 1, done], `acks of ${victim.name}`).toContain(p.acks.length)
        else expect(p.acks.length, `acks of ${p.calls[0]?.worker}`).toBe(done)
      }

      // A standby took over within the lease and 2 s.
      expect(takeover).toBeLessThan(LEASE_MS + 2000)
      // A clean stop hands over at once (the standby asks every checkIntervalMs / 4).
      expect(handover).toBeLessThan(CHECK_MS + 1000)

      // Every committed event reached a handler.
      const handled = new Set(calls.flatMap((c) => c.ids))
      const missing = all.filter((e) => !handled.has(e.id)).map((e) => e.id)
      expect(missing, 'events never handled').toEqual([])

      // The acknowledged cursor never moves back, across every child in time order.
      for (let i = 1; i < acks.length; i++) expect(acks[i]!.position, `ack ${i} by ${acks[i]!.worker}`).toBeGreaterThanOrEqual(acks[i - 1]!.position)

      // Each call starts right after the last acknowledged cursor, in position order, with nothing skipped: replayed
      // in time order, the only re-delivery is the first call after the kill, from the cursor the killed child
      // acknowledged last (which it may have committed without living to print it).
      const index = new Map(all.map((e, i) => [e.id, i]))
      const indexOfPosition = new Map(all.map((e, i) => [e.position, i]))
      const timeline: { at: number; call?: Call; ack?: Ack }[] = [...calls.map((c) => ({ at: c.start, call: c })), ...acks.map((a) => ({ at: a.at, ack: a }))]
      timeline.sort((a, b) => a.at - b.at)
      let acked = -1
      let afterKill = false
      for (const item of timeline) {
        if (item.ack) {
          acked = Math.max(acked, indexOfPosition.get(item.ack.position)!)
          continue
        }
        const c = item.call!
        const positions = c.ids.map((id) => index.get(id)!)
        for (let i = 1; i < positions.length; i++) expect(positions[i]).toBe(positions[i - 1]! + 1)
        if (!afterKill && c.worker !== victim.name) {
          afterKill = true
          // The killed child's last call: its batch may have been acknowledged after all.
          const lastOfVictim = victimCalls.at(-1)!.ids.map((id) => index.get(id)!)
          const from = positions[0]! - 1
          expect(from === acked || from === lastOfVictim.at(-1), `after the kill, delivery resumes at ${from}, acked ${acked}`).toBe(true)
          acked = from
        } else {
          expect(positions[0], `${c.worker}'s call at ${c.start}`).toBe(acked + 1)
        }
      }
      expect(afterKill, 'a call after the kill').toBe(true)
    } catch (err) {
      for (const w of workers) if (w.stderr) console.error(`${w.name} stderr:\n${w.stderr}`)
      throw err
    } finally {
      for (const w of workers) if (w.child.proc.exitCode === null && w.child.proc.signalCode === null) w.child.proc.kill('SIGKILL')
      await store.close()
    }
  })
})
