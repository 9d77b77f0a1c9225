import type { EventStore } from '../events/types.js'
import type { CheckedWrite } from '../events/validate.js'
import type { Lifecycle } from '../lifecycle.js'
import { Mutex } from '../mutex.js'
import { assertKey, compareText, copyBytes } from '../validate.js'
import type { ListPackagesOptions, PackageMetadata, PackageRecord, PackageRouteRecord, PackageStore, PackageWriteOptions } from './types.js'
import { assertContentHash, checkListOptions, checkPackage, checkRouteChange, checkRouteTypes } from './validate.js'

function packageOrder(a: PackageMetadata, b: PackageMetadata): number {
  return a.deployedAt - b.deployedAt || compareText(a.workflowType, b.workflowType) || compareText(a.contentHash, b.contentHash)
}

/** The reference model of the package store. */
export class MemoryPackageStore implements PackageStore {
  readonly #life: Lifecycle
  readonly #packages = new Map<string, PackageRecord>()
  readonly #routes = new Map<string, PackageRouteRecord>()
  readonly #events: EventStore
  readonly #changes = new Mutex()

  /** @param life - the owning store's lifecycle; @param events - where route changes append their events */
  constructor(life: Lifecycle, events: EventStore) {
    this.#life = life
    this.#events = events
  }

  async putPackage(record: PackageRecord): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    this.#put(r, [r.workflowType])
  }

  async putPackageWithRoutes(record: PackageRecord, routeWorkflowTypes: string[], options?: PackageWriteOptions): Promise<void> {
    this.#life.check()
    const r = checkPackage(record)
    const routes = checkRouteTypes(routeWorkflowTypes)
    const events = checkRouteChange(options)
    if (!events) this.#put(r, routes)
    else await this.#change(events, () => this.#put(r, routes))
  }

  /**
   * The events, then the change, in sequence: the write's own checks decide, and the change follows only a write
   * that appended (not the retry of one that did, which `write` accepts without appending). Changes with events take
   * turns, so none lands between another's append and its change.
   */
  #change(w: CheckedWrite, apply: () => void): Promise<void> {
    return this.#changes.run(async () => {
      let retry = false
      for (const a of w.aggregates) {
        const page = await this.#events.read([{ aggregatorType: a.aggregatorType, aggregatorId: a.aggregatorId }], null, { last: 1 })
        if ((page.edges[0]?.node.version ?? 0) !== a.expected) retry = true
      }
      await this.#events.write(w.events)
      if (!retry) apply()
    })
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

  async putPackageRoute(workflowType: string, contentHash: string, options?: PackageWriteOptions): Promise<void> {
    this.#life.check()
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    const events = checkRouteChange(options)
    const apply = (): void => void this.#routes.set(workflowType, { workflowType, contentHash, updatedAt: Date.now() })
    if (!events) apply()
    else await this.#change(events, apply)
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
