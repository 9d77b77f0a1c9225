// Collects figures, prints the table, writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { BENCH_DIR, type Measurement } from './lib.js'

export type Unit = 'writes/s' | 'reads/s' | 'rows/s' | 'steps/s'

/** Whether a unit counts what an op moved (rows, supersteps) rather than ops. */
export const perRow = (unit: Unit | undefined): boolean => unit === 'rows/s' || unit === 'steps/s'

export interface WorkloadResult {
  id: string
  label: string
  unit: Unit
  value: number
  ops: number
  rows: number
  seconds: number
  errors: number
  firstError?: string
  note?: string
  rounds?: number[]
}

export interface Check {
  id: string
  label: string
  value: number | null
  unit: 'x' | 'MB' | 'ms'
  target?: { op: '>=' | '<='; value: number }
  met?: boolean
  note?: string
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits))
/** Writes a line to stdout directly: peers' console.log is silenced during some workloads, the report is not. */
export const out = (line: string): void => void process.stdout.write(line + '\n')

export class Report {
  readonly workloads = new Map<string, WorkloadResult>()
  readonly checks: Check[] = []
  readonly facts: Record<string, number | string> = {}
  readonly skipped: string[] = []
  readonly startedAt = new Date()
  private readonly t0 = performance.now()

  add(id: string, label: string, m: Measurement, unit: Unit = 'writes/s', note?: string): WorkloadResult {
    const result: WorkloadResult = {
      id,
      label,
      unit,
      value: perRow(unit) ? m.rowsPerSec : m.opsPerSec,
      ops: m.ops,
      rows: m.rows,
      seconds: m.seconds,
      errors: m.errors,
      ...(m.firstError ? { firstError: m.firstError } : {}),
      ...(note ? { note } : {}),
      ...(m.rounds && m.rounds.length > 1 ? { rounds: m.rounds } : {}),
    }
    this.workloads.set(id, result)
    const errs = m.errors ? `  (${m.errors} failed: ${m.firstError ?? ''})` : ''
    out(`  ${label.padEnd(58)} ${fmt(result.value).padStart(10)} ${unit}${errs}`)
    return result
  }

  skip(id: string, why: string): void {
    this.skipped.push(`${id}: ${why}`)
    out(`  - ${id} skipped: ${why}`)
  }

  /** numerator / denominator of two workloads' figures, with an optional target. */
  ratio(id: string, label: string, num: string, den: string, target?: Check['target']): void {
    const a = this.workloads.get(num)
    const b = this.workloads.get(den)
    const value = a && b && b.value > 0 ? a.value / b.value : null
    this.check({ id, label, value, unit: 'x', target, ...(value === null ? { note: 'not measured' } : {}) })
  }

  check(c: Check): void {
    if (c.value !== null && c.target) {
      c.met = c.target.op === '>=' ? c.value >= c.target.value : c.value <= c.target.value
    }
    this.checks.push(c)
  }

  fact(key: string, value: number | string): void {
    this.facts[key] = typeof value === 'number' ? round(value, 2) : value
  }

  print(): void {
    const elapsed = (performance.now() - this.t0) / 1000
    out('\nThroughput')
    out(`  ${'workload'.padEnd(58)} ${'figure'.padStart(10)}`)
    for (const w of this.workloads.values()) {
      const errs = w.errors ? `  ${w.errors} failed` : ''
      out(`  ${w.label.padEnd(58)} ${fmt(w.value).padStart(10)} ${w.unit}${errs}`)
    }
    if (Object.keys(this.facts).length) {
      out('\nFacts')
      for (const [k, v] of Object.entries(this.facts)) out(`  ${k.padEnd(58)} ${String(v).padStart(10)}`)
    }
    out('\nRatios and limits')
    for (const c of this.checks) {
      const value = c.value === null ? 'n/a' : c.value.toFixed(2) + (c.unit === 'x' ? '×' : ` ${c.unit}`)
      const target = c.target ? `${c.target.op} ${c.target.value}${c.unit === 'x' ? '' : ` ${c.unit}`}` : ''
      const status = c.value === null ? (c.note ?? 'n/a') : c.met === undefined ? '' : c.met ? 'met' : 'MISSED'
      out(`  ${c.label.padEnd(58)} ${value.padStart(10)}  ${target.padEnd(10)} ${status}`)
    }
    out(`\nbench took ${elapsed.toFixed(0)} s`)
  }

  write(meta: { args: string[]; sqliteVersion?: string; postgresVersion?: string }): string {
    const cpu = cpus()
    const json = {
      date: this.startedAt.toISOString(),
      durationSeconds: round((performance.now() - this.t0) / 1000, 1),
      args: meta.args,
      machine: {
        cpus: cpu.length,
        cpuModel: cpu[0]?.model ?? 'unknown',
        memoryMB: Math.round(totalmem() / 1024 / 1024),
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        sqlite: meta.sqliteVersion ?? null,
        postgres: meta.postgresVersion ?? null,
      },
      workloads: Object.fromEntries(
        [...this.workloads.values()].map((w) => [
          w.id,
          {
            label: w.label,
            unit: w.unit,
            value: round(w.value, w.value < 100 ? 2 : 0),
            ops: w.ops,
            rows: w.rows,
            seconds: round(w.seconds, 3),
            errors: w.errors,
            ...(w.firstError ? { firstError: w.firstError } : {}),
            ...(w.note ? { note: w.note } : {}),
            ...(w.rounds ? { rounds: w.rounds.map((r) => round(r, 0)) } : {}),
          },
        ]),
      ),
      facts: this.facts,
      checks: Object.fromEntries(
        this.checks.map((c) => [
          c.id,
          {
            label: c.label,
            value: c.value === null ? null : round(c.value, 2),
            unit: c.unit,
            ...(c.target ? { target: `${c.target.op} ${c.target.value}`, met: c.met ?? null } : {}),
            ...(c.note ? { note: c.note } : {}),
          },
        ]),
      ),
      skipped: this.skipped,
    }
    const dir = join(BENCH_DIR, 'results')
    mkdirSync(dir, { recursive: true })
    const path = join(dir, 'latest.json')
    writeFileSync(path, JSON.stringify(json, null, 2) + '\n')
    return path
  }
}

export function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2)
}
