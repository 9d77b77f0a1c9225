import { HoldfastError } from '../errors.js'
import type { CheckedWrite } from '../events/validate.js'
import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase, SqlExecutor } from '../sql/database.js'
import { asBytes, assertKey, compareText } from '../validate.js'
import type { AppendWithin } from '../events/validate.js'
import type { ListPackagesOptions, PackageMetadata, PackageRecord, PackageRouteRecord, PackageStore, PackageWriteOptions } from './types.js'
import { assertContentHash, checkListOptions, checkPackage, checkRouteChange, checkRouteTypes } from './validate.js'

interface PackageRow {
  workflow_type: string
  content_hash: string
  archive?: Uint8Array
  deployed_at: number | string
}

interface RouteRow {
  workflow_type: string
  content_hash: string
  updated_at: number | string
}

/** How a route change appends its events: the engine's append inside the transaction, and the in-process wake-up after it. */
export interface PackageEventsEngine {
  /** Appends a checked write inside the change's transaction (see `events/postgres-append.ts` and `events/sqlite-append.ts`). */
  append: AppendWithin
  /** Called after a commit that appended events: wakes the event store's `onCommitted` listeners in this process. */
  committed(): void
}

const toRoute = (r: RouteRow): PackageRouteRecord => ({ workflowType: r.workflow_type, contentHash: r.content_hash, updatedAt: Number(r.updated_at) })

/**
 * The package store on any {@link SqlDatabase}. A deploy writes the package row and its routes in one transaction,
 * so after a crash either both happened or neither. Text columns order by code point on both engines (BINARY,
 * `COLLATE "C"`), so the listing order is the same everywhere.
 */
export class SqlPackageStore implements PackageStore {
  readonly #db: SqlDatabase
  readonly #life: Lifecycle
  readonly #t: { packages: string; routes: string }
  readonly #events: PackageEventsEngine

  /** @param db - the database; @param life - the store's lifecycle; @param events - how route changes append their events */
  constructor(db: SqlDatabase, life: Lifecycle, events: PackageEventsEngine) {
    this.#db = db
    this.#life = life
    this.#events = events
    this.#t = { packages: db.table('packages'), routes: db.table('package_routes') }
  }

  async putPackage(record: PackageRecord): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    await this.#put(r, [r.workflowType])
  }

  async putPackageWithRoutes(record: PackageRecord, routeWorkflowTypes: string[], options?: PackageWriteOptions): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    const routes = checkRouteTypes(routeWorkflowTypes)
    await this.#put(r, routes, checkRouteChange(options))
  }

  async #put(r: PackageRecord, routes: string[], events?: CheckedWrite): Promise<void> {
    const now = Date.now()
    await this.#change(events, async (tx) => {
      await tx.run(
        `INSERT INTO ${this.#t.packages} (workflow_type, content_hash, archive, deployed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workflow_type, content_hash) DO UPDATE SET archive = excluded.archive, deployed_at = excluded.deployed_at`,
        [r.workflowType, r.contentHash, r.archive, r.deployedAt],
      )
      // In one order for every writer, so that two deploys routing the same types cannot deadlock on their rows.
      for (const workflowType of [...routes].sort(compareText)) await this.#route(tx, workflowType, r.contentHash, now)
    })
  }

  /**
   * Runs `change` in a transaction, with the events after it: the append takes the event store's lock (the advisory
   * lock on PostgreSQL) last, so the lock that serialises every appender is held only for the append and the commit.
   */
  async #change(events: CheckedWrite | undefined, change: (tx: SqlExecutor) => Promise<void>): Promise<void> {
    if (!events) return this.#db.transaction(change)
    let stored = false
    try {
      await this.#db.transaction(async (tx) => {
        await change(tx)
        const outcome = await this.#events.append(tx, events)
        if (outcome === 'stored') {
          // An earlier try of this call committed: roll this one back, so that it cannot undo a later change. (A
          // HoldfastError, as the engines pass those through unchanged.)
          stored = true
          throw new HoldfastError('INVALID_ORIGINAL_VERSION', 'the events are stored already')
        }
        if (outcome) throw outcome
      })
    } catch (err) {
      if (stored) return
      throw err
    }
    this.#events.committed()
  }

  #route(tx: Pick<SqlDatabase, 'run'>, workflowType: string, contentHash: string, now: number): Promise<number> {
    return tx.run(
      `INSERT INTO ${this.#t.routes} (workflow_type, content_hash, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (workflow_type) DO UPDATE SET content_hash = excluded.content_hash, updated_at = excluded.updated_at`,
      [workflowType, contentHash, now],
    )
  }

  listPackages(): Promise<PackageRecord[]>
  listPackages(options: { withArchives: false }): Promise<PackageMetadata[]>
  listPackages(options?: ListPackagesOptions): Promise<PackageRecord[] | PackageMetadata[]>
  async listPackages(options?: ListPackagesOptions): Promise<PackageRecord[] | PackageMetadata[]> {
    this.#life.check()
    const archives = checkListOptions(options)
    const rows = await this.#db.all<PackageRow>(
      `SELECT workflow_type, content_hash, ${archives ? 'archive, ' : ''}deployed_at FROM ${this.#t.packages}
       ORDER BY deployed_at, workflow_type, content_hash`,
    )
    return rows.map((r) => {
      const meta = { workflowType: r.workflow_type, contentHash: r.content_hash, deployedAt: Number(r.deployed_at) }
      return archives ? { ...meta, archive: asBytes(r.archive) } : meta
    })
  }

  async deletePackage(workflowType: string, contentHash: string): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    await this.#db.run(`DELETE FROM ${this.#t.packages} WHERE workflow_type = ? AND content_hash = ?`, [workflowType, contentHash])
  }

  async putPackageRoute(workflowType: string, contentHash: string, options?: PackageWriteOptions): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    const events = checkRouteChange(options)
    const now = Date.now()
    if (!events) await this.#route(this.#db, workflowType, contentHash, now)
    else await this.#change(events, async (tx) => void (await this.#route(tx, workflowType, contentHash, now)))
  }

  async listPackageRoutes(): Promise<PackageRouteRecord[]> {
    this.#life.check()
    return (await this.#db.all<RouteRow>(`SELECT workflow_type, content_hash, updated_at FROM ${this.#t.routes} ORDER BY workflow_type`)).map(toRoute)
  }

  async getPackage(workflowType: string, contentHash: string): Promise<PackageRecord | null> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    const [r] = await this.#db.all<PackageRow>(
      `SELECT workflow_type, content_hash, archive, deployed_at FROM ${this.#t.packages} WHERE workflow_type = ? AND content_hash = ?`,
      [workflowType, contentHash],
    )
    return r ? { workflowType: r.workflow_type, contentHash: r.content_hash, archive: asBytes(r.archive), deployedAt: Number(r.deployed_at) } : null
  }

  async getPackageRoute(workflowType: string): Promise<PackageRouteRecord | null> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    const [r] = await this.#db.all<RouteRow>(`SELECT workflow_type, content_hash, updated_at FROM ${this.#t.routes} WHERE workflow_type = ?`, [workflowType])
    return r ? toRoute(r) : null
  }
}
