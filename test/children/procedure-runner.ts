// Runs procedures of 5 steps (start, s2 … s5) on a shared store for the crash and multi-process tests. Every step
// appends `<id> <step> <n received> <runnerId>` to the marker file before it returns { n: n + 1, trail }, so the
// markers show each step that ran (a re-run included) and the state it was handed.
// Modes (stdout lines in quotes):
//   loop     resumeAll, 'ready <report>', waits for 'go' on stdin, then runs procedures `<tag>-<worker>-<i>` on 3
//            workers for ever, 'ok <id>' after each (the parent kills it)
//   hang     'ready', runs 12 procedures `<tag>-<i>` at once, each hanging for ever in s3 (the parent kills it)
//   resume   'ready', waits for 'go', resumeAll, 'report <json>', exits
import { appendFileSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { openStore, ProcedureRunner, type ProcedureStep } from '../../src/index.js'

const [url, schema, runnerId, leaseMs, markers, mode, tag] = process.argv.slice(2) as [string, string, string, string, string, string, string]
const out = (line: string): void => void process.stdout.write(`${line}\n`)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface State {
  n: number
  trail: string
  /** The input's poison key (one per procedure). */
  key?: string
}

const store = await openStore(schema === '-' ? url : { url, schema })
const runner = new ProcedureRunner(store, { runnerId, leaseMs: Number(leaseMs), retry: { attempts: 3, minBackoffMs: 5, maxBackoffMs: 50 } })
const order = ['start', 's2', 's3', 's4', 's5']
const steps: Record<string, ProcedureStep<State>> = {}
for (const [i, name] of order.entries()) {
  steps[name] = async (state, ctx) => {
    appendFileSync(markers, `${ctx.id} ${name} ${state.n} ${runnerId}\n`)
    if (mode === 'hang' && name === 's3') await new Promise(() => {})
    await sleep(Math.random() * 3)
    return { next: order[i + 1] ?? 'done', state: { n: state.n + 1, trail: `${state.trail}${name};` } }
  }
}
runner.define<State>('crash/five', { poisonKeys: (input) => [input.key!], steps: { start: steps.start!, ...steps } })

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
const go = async (): Promise<void> => {
  while ((await lines.next()).value?.trim() !== 'go');
}

if (mode === 'loop') {
  const report = await runner.resumeAll()
  out(`ready ${JSON.stringify({ resumed: report.resumed.map((p) => [p.id, p.status]), held: report.held, skipped: report.skipped })}`)
  await go()
  await Promise.all(
    [0, 1, 2].map(async (w) => {
      for (let i = 0; ; i++) {
        const id = `${tag}-${w}-${i}`
        await runner.run('crash/five', { n: 0, trail: '', key: `res/${id}` }, { id })
        out(`ok ${id}`)
      }
    }),
  )
} else if (mode === 'hang') {
  out('ready')
  await Promise.all(Array.from({ length: 12 }, (_, i) => runner.run('crash/five', { n: 0, trail: '', key: `res/${tag}-${i}` }, { id: `${tag}-${i}` })))
} else {
  out('ready')
  await go()
  const report = await runner.resumeAll()
  out(`report ${JSON.stringify({ resumed: report.resumed.map((p) => [p.id, p.status]), held: report.held, skipped: report.skipped })}`)
  await runner.close()
  await store.close()
  process.exit(0)
}
