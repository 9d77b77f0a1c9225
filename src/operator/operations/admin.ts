import type { StoreDiagnostics } from '../../diagnostics.js'
import { listParked } from '../../runtime/subscriptions/parking.js'
import type { Store } from '../../store.js'
import { assertInteger } from '../../validate.js'
import { allSubscribers, type SubscriberView } from './subscribers.js'

/** One finding of `doctor`. */
export interface DoctorFinding {
  level: 'ok' | 'warning' | 'error'
  check: string
  message: string
}

/** `doctor`'s report. */
export interface DoctorReport {
  /** False when any finding is an error. */
  ok: boolean
  diagnostics: StoreDiagnostics
  /** Subscribers behind with no live lease, or with no acknowledgement for `staleAfterMs` while behind. */
  staleSubscribers: SubscriberView[]
  parked: number
  poisonHeld: number
  /** Age of the oldest held poison key, ms; `null` when none is held. */
  oldestPoisonAgeMs: number | null
  findings: DoctorFinding[]
}

/** SQLite's WAL past this is worth a look (a reader holding back checkpoints). */
const WAL_WARNING_BYTES = 256 * 1024 * 1024

/**
 * `doctor`: the schema version, the engine's integrity check, SQLite's WAL size, stale subscribers (behind, and
 * either without a live lease or silent for `staleAfterMs`, default 5 minutes), parked subscriptions, held poison.
 */
export async function doctor(store: Store, options: { staleAfterMs?: number } = {}): Promise<DoctorReport> {
  const staleAfterMs = options.staleAfterMs ?? 300_000
  assertInteger('staleAfterMs', staleAfterMs, 0)
  const [diagnostics, subscribers, parked, poison] = await Promise.all([store.diagnose(), allSubscribers(store), listParked(store), store.poison.listPoison()])
  const now = Date.now()
  const stale = subscribers.filter(
    (s) => s.kind === 'subscription' && s.state !== 'parked' && s.positionsBehind > 0 && (s.state === 'idle' || (s.lastAckAgeMs ?? Number.POSITIVE_INFINITY) > staleAfterMs),
  )
  const oldest = poison.reduce<number | null>((min, p) => (min === null || p.createdAt < min ? p.createdAt : min), null)
  const findings: DoctorFinding[] = []
  const add = (level: DoctorFinding['level'], check: string, message: string): number => findings.push({ level, check, message })
  const d = diagnostics
  if (d.schemaVersion < d.supportedSchemaVersion) add('error', 'schema', `schema version ${d.schemaVersion}, this build needs ${d.supportedSchemaVersion}: run holdfast migrate`)
  else add('ok', 'schema', `schema version ${d.schemaVersion} (current)`)
  if (!d.integrity.ok) add('error', 'integrity', d.integrity.problems.join('; '))
  else add('ok', 'integrity', d.integrity.checked ? 'quick_check: ok' : 'database reachable (the engine checks its own pages)')
  if (d.walBytes !== null) add(d.walBytes > WAL_WARNING_BYTES ? 'warning' : 'ok', 'wal', `write-ahead log ${d.walBytes} bytes`)
  add(stale.length > 0 ? 'warning' : 'ok', 'subscribers', stale.length > 0 ? `${stale.length} stale: ${stale.map((s) => s.key).join(', ')}` : `${subscribers.length} subscribers, none stale`)
  add(parked.length > 0 ? 'warning' : 'ok', 'parked', `${parked.length} parked subscription(s)`)
  add(poison.length > 0 ? 'warning' : 'ok', 'poison', `${poison.length} poison key(s) held`)
  return {
    ok: findings.every((f) => f.level !== 'error'),
    diagnostics,
    staleSubscribers: stale,
    parked: parked.length,
    poisonHeld: poison.length,
    oldestPoisonAgeMs: oldest === null ? null : Math.max(0, now - oldest),
    findings,
  }
}

/** What `migrate` did: the schema version found when the store opened, and now. */
export interface MigrateReport {
  from: number
  to: number
  /** Migration names applied by this open, in order. */
  applied: string[]
}

/**
 * `migrate`'s report. Opening a store migrates it (`openStore`); pass `openStore`'s `onMigrate` names here.
 */
export async function migrateReport(store: Store, applied: string[]): Promise<MigrateReport> {
  const d = await store.diagnose()
  return { from: d.openedAtSchemaVersion, to: d.schemaVersion, applied }
}
