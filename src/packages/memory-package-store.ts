import type { Lifecycle } from '../lifecycle.js'
import { assertKey, compareText, copyBytes } from '../validate.js'
import type { ListPackagesOptions, PackageMetadata, PackageRecord, PackageRouteRecord, PackageStore } from './types.js'
import { assertContentHash, checkListOptions, checkPackage, checkRouteTypes } from './validate.js'

function packageOrder(a: PackageMetadata, b: PackageMetadata): number {
  return a.deployedAt - b.deployedAt || compareText(a.workflowType, b.workflowType) || compareText(a.contentHash, b.contentHash)
}

/** The reference model of the package store. */
export class MemoryPackageStore implements PackageStore {
  readonly #life: Lifecycle
  readonly #packages = new Map<string, PackageRecord>()
  readonly #routes = new Map<string, PackageRouteRecord>()

  /** @param life - the owning store's lifecycle */
  constructor(life: Lifecycle) {
    this.#life = life
  }

  async putPackage(record: PackageRecord): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    this.#put(r, [r.workflowType])
  }

  async putPackageWithRoutes(record: PackageRecord, routeWorkflowTypes: string[]): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    this.#put(r, checkRouteTypes(routeWorkflowTypes))
  }

  #put(r: PackageRecord, routes: string[]): void {
    this.#packages.set(`${r.workflowType}\0${r.contentHash}`, r)
    const updatedAt = Date.now()
    for (const workflowType of routes) this.#routes.set(workflowType, { workflowType, contentHash: r.contentHash, updatedAt })
  }

  listPackages(): Promise<PackageRecord[]>
  listPackages(options: { withArchives: false }): Promise<PackageMetadata[]>
  listPackages(options?: ListPackagesOptions): Promise<PackageRecord[] | PackageMetadata[]>
  async listPackages(options?: ListPackagesOptions): Promise<PackageRecord[] | PackageMetadata[]> {
    this.#life.check()
    const archives = checkListOptions(options)
    const sorted = [...this.#packages.values()].sort(packageOrder)
    return archives
      ? sorted.map((p) => ({ ...p, archive: copyBytes(p.archive) }))
      : sorted.map(({ workflowType, contentHash, deployedAt }) => ({ workflowType, contentHash, deployedAt }))
  }

  async deletePackage(workflowType: string, contentHash: string): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    this.#packages.delete(`${workflowType}\0${contentHash}`)
  }

  async putPackageRoute(workflowType: string, contentHash: string): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    this.#routes.set(workflowType, { workflowType, contentHash, updatedAt: Date.now() })
  }

  async listPackageRoutes(): Promise<PackageRouteRecord[]> {
    this.#life.check()
    return [...this.#routes.values()].sort((a, b) => compareText(a.workflowType, b.workflowType)).map((r) => ({ ...r }))
  }

  async getPackage(workflowType: string, contentHash: string): Promise<PackageRecord | null> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    const p = this.#packages.get(`${workflowType}\0${contentHash}`)
    return p ? { ...p, archive: copyBytes(p.archive) } : null
  }

  async getPackageRoute(workflowType: string): Promise<PackageRouteRecord | null> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    const r = this.#routes.get(workflowType)
    return r ? { ...r } : null
  }
}
