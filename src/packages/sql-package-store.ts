import type { Lifecycle } from '../lifecycle.js'
import type { SqlDatabase } from '../sql/database.js'
import { asBytes, assertKey } from '../validate.js'
import type { ListPackagesOptions, PackageMetadata, PackageRecord, PackageRouteRecord, PackageStore } from './types.js'
import { assertContentHash, checkListOptions, checkPackage, checkRouteTypes } from './validate.js'

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

  /** @param db - the database; @param life - the store's lifecycle */
  constructor(db: SqlDatabase, life: Lifecycle) {
    this.#db = db
    this.#life = life
    this.#t = { packages: db.table('packages'), routes: db.table('package_routes') }
  }

  async putPackage(record: PackageRecord): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    await this.#put(r, [r.workflowType])
  }

  async putPackageWithRoutes(record: PackageRecord, routeWorkflowTypes: string[]): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    await this.#put(r, checkRouteTypes(routeWorkflowTypes))
  }

  async #put(r: PackageRecord, routes: string[]): Promise<void> {
    const now = Date.now()
    await this.#db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO ${this.#t.packages} (workflow_type, content_hash, archive, deployed_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (workflow_type, content_hash) DO UPDATE SET archive = excluded.archive, deployed_at = excluded.deployed_at`,
        [r.workflowType, r.contentHash, r.archive, r.deployedAt],
      )
      for (const workflowType of routes) await this.#route(tx, workflowType, r.contentHash, now)
    })
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

  async putPackageRoute(workflowType: string, contentHash: string): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    await this.#route(this.#db, workflowType, contentHash, Date.now())
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
