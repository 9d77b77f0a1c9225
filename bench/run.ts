// `npm run bench [-- --only sqlite,reads] [--scale | --no-scale] [--duration 2500]`
//
// Side-by-side throughput, in one process, on SQLite and PostgreSQL: Holdfast's event store against the raw drivers
// and Emmett, its command handler against Emmett's on contended aggregates, its checkpoint store and LangGraph
// checkpointer against LangGraph's savers, its Automerge persister against automerge-repo.
// Prints a table and writes bench/results/latest.json.
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { postgresAutomerge, sqliteAutomerge } from './automerge.js'
import { postgresCheckpoints, sqliteCheckpoints } from './checkpoints.js'
import { postgresCommands, sqliteCommands } from './commands.js'
import { postgresLangGraph, sqliteLangGraph } from './langgraph.js'
import { describeError, TMP_DIR, type BenchOptions } from './lib.js'
import { dropBenchDatabases, postgresCheckpoint, postgresReachable, postgresReads, postgresScale, postgresWrites } from './postgres.js'
import { sqlitePackages } from './packages.js'
import { postgresProcedures, sqliteProcedures } from './procedures.js'
import { Report } from './report.js'
import { postgresRegistry, sqliteRegistry } from './registry.js'
import { sqliteReads, sqliteScale, sqliteVersion, sqliteWrites } from './sqlite.js'
import { postgresSubscriptions, postgresSubscriptionsCatchUp, sqliteSubscriptions, sqliteSubscriptionsCatchUp } from './subscriptions.js'

interface Group {
  id: string
  engine: 'sqlite' | 'postgres'
  run: (report: Report, opts: BenchOptions) => Promise<void>
}
const GROUPS: Group[] = [
  { id: 'sqlite.writes', engine: 'sqlite', run: sqliteWrites },
  { id: 'sqlite.reads', engine: 'sqlite', run: sqliteReads },
  { id: 'sqlite.scale', engine: 'sqlite', run: sqliteScale },
  { id: 'sqlite.packages', engine: 'sqlite', run: sqlitePackages },
  { id: 'sqlite.registry', engine: 'sqlite', run: sqliteRegistry },
  { id: 'sqlite.checkpoints', engine: 'sqlite', run: sqliteCheckpoints },
  { id: 'sqlite.procedures', engine: 'sqlite', run: sqliteProcedures },
  { id: 'sqlite.langgraph', engine: 'sqlite', run: sqliteLangGraph },
  { id: 'sqlite.automerge', engine: 'sqlite', run: sqliteAutomerge },
  { id: 'sqlite.commands', engine: 'sqlite', run: sqliteCommands },
  { id: 'sqlite.subscriptions', engine: 'sqlite', run: sqliteSubscriptions },
  // The catch-up over 1,000,000 events: a scale group, so that --no-scale leaves it out.
  { id: 'sqlite.subscriptions.scale', engine: 'sqlite', run: sqliteSubscriptionsCatchUp },
  { id: 'postgres.writes', engine: 'postgres', run: postgresWrites },
  { id: 'postgres.reads', engine: 'postgres', run: postgresReads },
  { id: 'postgres.scale', engine: 'postgres', run: postgresScale },
  { id: 'postgres.registry', engine: 'postgres', run: postgresRegistry },
  { id: 'postgres.checkpoints', engine: 'postgres', run: postgresCheckpoints },
  { id: 'postgres.procedures', engine: 'postgres', run: postgresProcedures },
  { id: 'postgres.langgraph', engine: 'postgres', run: postgresLangGraph },
  { id: 'postgres.automerge', engine: 'postgres', run: postgresAutomerge },
  { id: 'postgres.commands', engine: 'postgres', run: postgresCommands },
  { id: 'postgres.subscriptions', engine: 'postgres', run: postgresSubscriptions },
  { id: 'postgres.subscriptions.scale', engine: 'postgres', run: postgresSubscriptionsCatchUp },
]
/** The scale groups take about a minute per engine here; on by default, `--no-scale` leaves them out. */
const SCALE_BY_DEFAULT = true

const USAGE = `usage: tsx bench/run.ts [--only <words>] [--scale | --no-scale] [--duration <ms>]
  --only      comma-separated words; runs the groups whose id contains any of them
              (groups: ${GROUPS.map((g) => g.id).join(', ')}; e.g. --only sqlite, --only reads, --only postgres.writes)
  --scale     include the 1,000,000-event scale groups (default: ${SCALE_BY_DEFAULT ? 'on' : 'off'})
  --no-scale  leave them out
  --duration  milliseconds per timed workload (default 3000)
  env HOLDFAST_BENCH_PG  PostgreSQL server URL without a database (default postgres://postgres@127.0.0.1:5432)`

function parseArgs(argv: string[]): { only: string[]; scale: boolean; durationMs: number } {
  let only: string[] = []
  let scale: boolean | undefined
  let durationMs = 3000
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    const [flag, inline] = arg.includes('=') ? (arg.split('=', 2) as [string, string]) : [arg, undefined]
    const value = (): string => {
      const v = inline ?? argv[++i]
      if (v === undefined) throw new Error(`${flag} needs a value\n${USAGE}`)
      return v
    }
    if (flag === '--only') only = value().split(',').map((s) => s.trim()).filter(Boolean)
    else if (flag === '--scale') scale = true
    else if (flag === '--no-scale') scale = false
    else if (flag === '--duration') durationMs = Number(value())
    else if (flag === '--help' || flag === '-h') {
      console.log(USAGE)
      process.exit(0)
    } else throw new Error(`unknown argument ${arg}\n${USAGE}`)
  }
  if (!Number.isFinite(durationMs) || durationMs <= 0) throw new Error(`--duration must be a positive number of ms`)
  // Naming a scale group in --only asks for it.
  return { only, scale: scale ?? (only.some((w) => w.includes('scale')) || SCALE_BY_DEFAULT), durationMs }
}

/**
 * Starts every group on a quiet machine: the previous group's dirty pages (a million-event scale run leaves hundreds
 * of megabytes) written back first, PostgreSQL's included (a CHECKPOINT), so that neither the kernel's writeback nor
 * the server's checkpointer competes with the next group's fsyncs and CPU.
 */
async function settle(opts: BenchOptions, postgres: boolean): Promise<void> {
  if (postgres) await postgresCheckpoint(opts)
  execFileSync('sync')
  await new Promise((resolve) => setTimeout(resolve, 500))
}

async function main(): Promise<void> {
  const args = process.argv.slice(2)
  const { only, scale, durationMs } = parseArgs(args)
  const opts: BenchOptions = {
    durationMs,
    rounds: 10,
    readMinPages: 60,
    pgUrl: process.env.HOLDFAST_BENCH_PG ?? 'postgres://postgres@127.0.0.1:5432',
  }
  const selected = GROUPS.filter(
    (g) => (only.length === 0 || only.some((w) => g.id.includes(w))) && (scale || !g.id.endsWith('.scale')),
  )
  if (selected.length === 0) throw new Error(`--only ${only.join(',')} selects no group\n${USAGE}`)

  const report = new Report()
  const sqlite = sqliteVersion()
  const postgres = selected.some((g) => g.engine === 'postgres') ? await postgresReachable(opts) : undefined
  console.log(`holdfast bench: ${selected.map((g) => g.id).join(', ')} (${durationMs} ms per workload)`)
  console.log(`  SQLite ${sqlite}; PostgreSQL ${postgres === undefined ? 'not selected' : (postgres ?? `unreachable at ${opts.pgUrl}`)}`)

  for (const group of selected) {
    if (group.engine === 'postgres' && postgres === null) {
      report.skip(group.id, `PostgreSQL unreachable at ${opts.pgUrl}`)
      continue
    }
    console.log(`\n[${group.id}]`)
    await settle(opts, postgres != null)
    const t0 = performance.now()
    try {
      await group.run(report, opts)
    } catch (error) {
      // One broken group (e.g. Holdfast not written yet) must not hide the others' figures.
      report.skip(group.id, `failed: ${describeError(error)}`)
      if (process.env.HOLDFAST_BENCH_DEBUG && error instanceof Error) console.error(error.stack)
    }
    report.fact(`${group.id} took, s`, (performance.now() - t0) / 1000)
    // A group's databases go with it, so that no later group shares the server with their autovacuum.
    if (group.engine === 'postgres') await dropBenchDatabases(opts)
  }
  if (postgres) await dropBenchDatabases(opts)
  rmSync(TMP_DIR, { recursive: true, force: true })

  report.print()
  const path = report.write({ args, sqliteVersion: sqlite, postgresVersion: postgres ?? undefined })
  console.log(`wrote ${path}`)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error)
  process.exit(1)
})
