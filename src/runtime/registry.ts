import { createHash } from 'node:crypto'
import { InvalidArgumentError, InvalidOriginalVersionError, NotFoundError } from '../errors.js'
import type { Event, NewEvent } from '../events/types.js'
import type { PackageMetadata, PackageRecord } from '../packages/types.js'
import { assertContentHash } from '../packages/validate.js'
import { Mutex } from '../mutex.js'
import type { Store } from '../store.js'
import { assertKey, assertText, checkBytes, describe, mapArray, readFields } from '../validate.js'
import { newEventId } from './ulid.js'

/** The aggregate type of the route events; the aggregate id is the workflow type. */
export const PACKAGE_ROUTE_AGGREGATE = 'holdfast/package-route'

/** What moved a route: a deploy, an explicit {@link PackageRegistry.routeTo}, or a {@link PackageRegistry.rollback}. */
export type RouteAction = 'deploy' | 'route' | 'rollback'

/** Who changed a route, and why: recorded in the route event. */
export interface RouteChangeOptions {
  /** Who made the change (a key string: a user, a service, a CI job). */
  by: string
  /** Why, free text of at most 4,096 characters; default none. */
  reason?: string
}

/** Options of {@link PackageRegistry.deploy}. */
export interface DeployOptions extends RouteChangeOptions {
  /** Further workflow types the archive serves (Aion's additional entry modules): their routes move with the deploy. */
  also?: string[]
}

/** One deploy or route change of a workflow type, as {@link PackageRegistry.history} reads it from its event. */
export interface RouteChange {
  /** The workflow type whose route moved. */
  workflowType: string
  /** What moved it. */
  action: RouteAction
  /** The version routed after the change. */
  contentHash: string
  /** The version routed before it, `null` for the type's first route. */
  previousHash: string | null
  /** The type the package is stored under: `workflowType` itself, or the primary type of a deploy that listed it in `also`. */
  packageType: string
  /** Who made the change. */
  by: string
  /** Why, `null` when no reason was given. */
  reason: string | null
  /** When it committed (ms since epoch; the event's timestamp). */
  at: number
  /** The event's version within the type's route aggregate (1, 2, …). */
  version: number
  /** The event's id (a ULID). */
  eventId: string
}

/** A stored package that {@link PackageRegistry.reload} did not load. */
export interface SkippedPackage {
  /** The type the package is stored under. */
  workflowType: string
  /** Its key's content hash. */
  contentHash: string
  /** Why: its bytes do not hash to its key, or what `load` threw. */
  reason: string
}

/** A stored route, as {@link PackageRegistry.reload} found it after loading the packages. */
export interface ReloadedRoute {
  /** The routed workflow type. */
  workflowType: string
  /** The version it is routed to. */
  contentHash: string
  /** The loaded package it resolves to, or `null` when none (see `reason`). */
  package: PackageMetadata | null
  /** Why `package` is `null`: no package of that version is stored, or it was skipped. */
  reason?: string
}

/** What {@link PackageRegistry.reload} did: nothing is left out. */
export interface ReloadReport {
  /** The packages `load` accepted, in the order it was called (`listPackages` order). */
  loaded: PackageMetadata[]
  /** The packages not loaded, with why. */
  skipped: SkippedPackage[]
  /** Every stored route, in workflow-type order, with the loaded package it resolves to. */
  routes: ReloadedRoute[]
}

const MAX_REASON = 4096
const MAX_RETRIES = 10
const BACKOFF_CAP_MS = 32
const encoder = new TextEncoder()
const decoder = new TextDecoder()
const EVENT_NAMES: Record<RouteAction, string> = { deploy: 'PackageDeployed', route: 'PackageRouted', rollback: 'PackageRolledBack' }

/** `sha256:<hex>` of `bytes`: the content hash the registry gives every archive. */
export function contentHashOf(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** A type's route history, folded: its events' version, the changes, and the stack `rollback` walks back. */
interface RouteState {
  version: number
  changes: RouteChange[]
  /** Versions routed, latest last: a deploy or routeTo pushes (unless already on top), a rollback pops. */
  stack: string[]
}

/**
 * Versioned workflow deployments over a store's package store (`spec/runtime.md` §3): deploy, route, roll back,
 * reload at start-up, each route change audited as an event of `holdfast/package-route` (id = the workflow type)
 * committed in the same transaction as the change. Several registries (processes) may share a store: every change
 * is written with optimistic concurrency on the type's route events, so concurrent changes of one type never both
 * win silently; the loser re-reads and decides again (up to 10 times, then `INVALID_ORIGINAL_VERSION`). Changes
 * through one registry take turns.
 *
 * @example
 * const registry = new PackageRegistry(store)
 * const v2 = await registry.deploy('billing/invoice', archive, { by: 'ci', reason: 'release 2' })
 * await registry.rollback('billing/invoice', { by: 'alice', reason: 'v2 fails refunds' })
 */
export class PackageRegistry {
  readonly #store: Store
  readonly #turns = new Mutex()

  /** @param store - an open store; the registry uses only its public `packages` and `events` contracts */
  constructor(store: Store) {
    if (typeof store !== 'object' || store === null || typeof store.packages !== 'object' || typeof store.events !== 'object')
      throw new InvalidArgumentError(`store must be an open Store, got ${describe(store)}`)
    this.#store = store
  }

  /**
   * Stores `archive` as a version of `workflowType` (its content hash `sha256:<hex>` computed here) and routes the
   * type, and every type in `options.also`, to it, with one route event per type, all in one transaction.
   * Re-deploying bytes already stored is idempotent: when every route already points at them nothing is written and
   * the stored record is returned; otherwise the routes are re-pointed (as Aion does) and the deploy time renewed.
   *
   * @returns the stored record
   */
  async deploy(workflowType: string, archive: Uint8Array, options: DeployOptions): Promise<PackageRecord> {
    assertKey('workflowType', workflowType)
    const bytes = checkBytes('archive', archive)
    const o = readFields('options', options, ['also', 'by', 'reason'])
    const also = o.also === undefined ? [] : mapArray('options.also', o.also, (t, at) => (assertKey(at, t), t))
    const change = checkChange(o.by, o.reason)
    const types = [...new Set([workflowType, ...also])]
    const contentHash = contentHashOf(bytes)
    return this.#retrying(async () => {
      const states = await Promise.all(types.map((t) => this.#state(t)))
      const routes = await Promise.all(types.map((t) => this.#store.packages.getPackageRoute(t)))
      const stored = await this.#store.packages.getPackage(workflowType, contentHash)
      // Stored bytes that differ (a row tampered with) are replaced: re-deploying the real ones repairs it.
      if (stored && Buffer.compare(stored.archive, bytes) === 0 && routes.every((r) => r?.contentHash === contentHash)) return stored
      const record = { workflowType, contentHash, archive: bytes, deployedAt: Date.now() }
      const events = types.map((t, i) => routeEvent(t, states[i]!.version, 'deploy', contentHash, routes[i]?.contentHash ?? null, workflowType, change))
      await this.#store.packages.putPackageWithRoutes(record, types, { events })
      return record
    })
  }

  /**
   * Routes `workflowType` to a version deployed before (roll forward, or back to any version). `NOT_FOUND` for a
   * version never deployed for this type, or undeployed since. Routing to the version already routed writes nothing.
   *
   * @returns the package now routed
   */
  async routeTo(workflowType: string, contentHash: string, options: RouteChangeOptions): Promise<PackageRecord> {
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    const change = checkChangeOptions(options)
    return this.#retrying(async () => {
      const state = await this.#state(workflowType)
      const target = await this.#package(workflowType, contentHash, state)
      if (!target) throw new NotFoundError(`workflow type ${JSON.stringify(workflowType)} has no deployed version ${JSON.stringify(contentHash)}`)
      const route = await this.#store.packages.getPackageRoute(workflowType)
      if (route?.contentHash === contentHash) return target
      await this.#move(workflowType, state, 'route', contentHash, route?.contentHash ?? null, target.workflowType, change)
      return target
    })
  }

  /**
   * Routes `workflowType` back to the version routed before the current one: each deploy or `routeTo` is a step
   * forward, each rollback a step back, so rolling back twice after deploying v1, v2, v3 routes v1. `NOT_FOUND` when
   * there is no earlier version to go back to, or it has been undeployed.
   *
   * @returns the package now routed
   */
  async rollback(workflowType: string, options: RouteChangeOptions): Promise<PackageRecord> {
    assertKey('workflowType', workflowType)
    const change = checkChangeOptions(options)
    return this.#retrying(async () => {
      const state = await this.#state(workflowType)
      const current = state.stack.at(-1)
      const target = state.stack.at(-2)
      if (target === undefined)
        throw new NotFoundError(`workflow type ${JSON.stringify(workflowType)} has no version routed before ${current === undefined ? 'its first' : JSON.stringify(current)} to roll back to`)
      const record = await this.#package(workflowType, target, state)
      if (!record) throw new NotFoundError(`workflow type ${JSON.stringify(workflowType)}: the version to roll back to, ${JSON.stringify(target)}, has been undeployed`)
      const route = await this.#store.packages.getPackageRoute(workflowType)
      await this.#move(workflowType, state, 'rollback', target, route?.contentHash ?? null, record.workflowType, change)
      return record
    })
  }

  /** The package `workflowType` is routed to, or `null` when it has no route or its package is not stored. */
  async current(workflowType: string): Promise<PackageRecord | null> {
    assertKey('workflowType', workflowType)
    const route = await this.#store.packages.getPackageRoute(workflowType)
    if (!route) return null
    return (await this.#store.packages.getPackage(workflowType, route.contentHash)) ?? this.#package(workflowType, route.contentHash, await this.#state(workflowType))
  }

  /** Every deploy and route change of `workflowType`, oldest first, read from its route events. */
  async history(workflowType: string): Promise<RouteChange[]> {
    assertKey('workflowType', workflowType)
    return (await this.#state(workflowType)).changes
  }

  /**
   * Aion's start-up order: `load` is called, one at a time, for every stored package in `listPackages` order (deploy
   * time), then the stored routes are resolved against what loaded. A package whose bytes do not hash to its key, or
   * that `load` rejects, is skipped and reported; a route whose version did not load is reported with
   * `package: null`. A route of a type deployed through another's `also` resolves to the loaded package of the same
   * content hash (the same bytes). What `load` throws is caught and reported, never rethrown.
   */
  async reload(load: (pkg: PackageRecord) => unknown): Promise<ReloadReport> {
    if (typeof load !== 'function') throw new InvalidArgumentError(`load must be a function, got ${describe(load)}`)
    const report: ReloadReport = { loaded: [], skipped: [], routes: [] }
    const loaded = new Map<string, PackageMetadata>()
    const byHash = new Map<string, PackageMetadata>()
    const skipped = new Map<string, string>()
    for (const pkg of await this.#store.packages.listPackages()) {
      const { workflowType, contentHash, deployedAt } = pkg
      const key = `${workflowType}\0${contentHash}`
      const actual = contentHashOf(pkg.archive)
      let reason: string | undefined
      if (actual !== contentHash) reason = `its bytes hash to ${actual}, not to its key`
      else {
        try {
          await load(pkg)
        } catch (err) {
          reason = `load rejected it: ${err instanceof Error ? err.message : String(err)}`
        }
      }
      if (reason !== undefined) {
        report.skipped.push({ workflowType, contentHash, reason })
        skipped.set(key, reason)
        continue
      }
      const meta = { workflowType, contentHash, deployedAt }
      report.loaded.push(meta)
      loaded.set(key, meta)
      byHash.set(contentHash, meta)
    }
    for (const { workflowType, contentHash } of await this.#store.packages.listPackageRoutes()) {
      const key = `${workflowType}\0${contentHash}`
      const pkg = loaded.get(key) ?? byHash.get(contentHash) ?? null
      if (pkg) report.routes.push({ workflowType, contentHash, package: pkg })
      else {
        const why = skipped.get(key)
        report.routes.push({ workflowType, contentHash, package: null, reason: why ? `its package was skipped: ${why}` : 'no package of this version is stored' })
      }
    }
    return report
  }

  /**
   * Deletes a version of `workflowType`. Refused with `INVALID_ARGUMENT`, naming the route, while a route points at
   * it (its own type's, or a type it serves through `also`): route elsewhere first. Absent is a no-op. The history
   * keeps its events. It takes no lock against a concurrent `routeTo` of the same version in another process;
   * should that win, `reload` reports the route to the missing package.
   */
  async undeploy(workflowType: string, contentHash: string): Promise<void> {
    assertKey('workflowType', workflowType)
    assertContentHash('contentHash', contentHash)
    await this.#turns.run(async () => {
      for (const route of await this.#store.packages.listPackageRoutes()) {
        if (route.contentHash !== contentHash) continue
        if (route.workflowType === workflowType || !(await this.#store.packages.getPackage(route.workflowType, contentHash)))
          throw new InvalidArgumentError(
            `cannot undeploy ${workflowType} ${contentHash}: the route of ${JSON.stringify(route.workflowType)} points at it; route it to another version first`,
          )
      }
      await this.#store.packages.deletePackage(workflowType, contentHash)
    })
  }

  /** Writes one route change of one type: its event and the route, in one transaction. */
  async #move(workflowType: string, state: RouteState, action: RouteAction, contentHash: string, previousHash: string | null, packageType: string, change: Change): Promise<void> {
    const event = routeEvent(workflowType, state.version, action, contentHash, previousHash, packageType, change)
    await this.#store.packages.putPackageRoute(workflowType, contentHash, { events: [event] })
  }

  /** The package of `contentHash` that serves `workflowType`: its own, or the primary type's of a deploy with `also`. */
  async #package(workflowType: string, contentHash: string, state: RouteState): Promise<PackageRecord | null> {
    const own = await this.#store.packages.getPackage(workflowType, contentHash)
    if (own) return own
    const via = state.changes.findLast((c) => c.action === 'deploy' && c.contentHash === contentHash && c.packageType !== workflowType)
    return via ? this.#store.packages.getPackage(via.packageType, contentHash) : null
  }

  /** Reads a type's route events and folds them. */
  async #state(workflowType: string): Promise<RouteState> {
    const state: RouteState = { version: 0, changes: [], stack: [] }
    const filter = [{ aggregatorType: PACKAGE_ROUTE_AGGREGATE, aggregatorId: workflowType }]
    for (let after: string | undefined; ; ) {
      const page = await this.#store.events.read(filter, null, after === undefined ? { first: 1000 } : { first: 1000, after })
      for (const { node } of page.edges) {
        const c = toChange(node)
        state.version = node.version
        state.changes.push(c)
        if (c.action === 'rollback') state.stack.pop()
        if (state.stack.at(-1) !== c.contentHash) state.stack.push(c.contentHash)
      }
      if (!page.pageInfo.hasNextPage) return state
      after = page.pageInfo.endCursor!
    }
  }

  /** Runs a change in this registry's turn, again after a version conflict on the route events (another writer won). */
  #retrying<T>(attempt: () => Promise<T>): Promise<T> {
    return this.#turns.run(async () => {
      for (let retry = 0; ; retry++) {
        try {
          return await attempt()
        } catch (err) {
          if (!(err instanceof InvalidOriginalVersionError) || err.aggregatorType !== PACKAGE_ROUTE_AGGREGATE || retry >= MAX_RETRIES) throw err
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(BACKOFF_CAP_MS, 2 ** retry)))
        }
      }
    })
  }
}

interface Change {
  by: string
  reason: string | null
}

function checkChangeOptions(options: unknown): Change {
  const o = readFields('options', options, ['by', 'reason'])
  return checkChange(o.by, o.reason)
}

function checkChange(by: unknown, reason: unknown): Change {
  assertKey('options.by', by)
  if (reason === undefined) return { by, reason: null }
  if (typeof reason === 'string' && reason.length > MAX_REASON) throw new InvalidArgumentError(`options.reason must be at most 4,096 characters, got ${reason.length}`)
  assertText('options.reason', reason)
  return { by, reason }
}

function routeEvent(workflowType: string, version: number, action: RouteAction, contentHash: string, previousHash: string | null, packageType: string, change: Change): NewEvent {
  return {
    id: newEventId(),
    aggregatorType: PACKAGE_ROUTE_AGGREGATE,
    aggregatorId: workflowType,
    version: version + 1,
    name: EVENT_NAMES[action],
    data: encoder.encode(JSON.stringify({ action, contentHash, previousHash, packageType, by: change.by, reason: change.reason })),
  }
}

/** A route event as a change; fields it lacks (an event another writer put on the aggregate) read as empty. */
function toChange(e: Event): RouteChange {
  let d: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(decoder.decode(e.data))
    if (typeof parsed === 'object' && parsed !== null) d = parsed as Record<string, unknown>
  } catch {
    // Not a registry's event: kept in the history with what the event itself says.
  }
  const text = (v: unknown): string | null => (typeof v === 'string' ? v : null)
  const action = d.action === 'deploy' || d.action === 'route' || d.action === 'rollback' ? d.action : 'route'
  return {
    workflowType: e.aggregatorId,
    action,
    contentHash: text(d.contentHash) ?? '',
    previousHash: text(d.previousHash),
    packageType: text(d.packageType) ?? e.aggregatorId,
    by: text(d.by) ?? '',
    reason: text(d.reason),
    at: e.timestamp,
    version: e.version,
    eventId: e.id,
  }
}
