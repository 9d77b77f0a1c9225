import type { PackageMetadata, PackageRouteRecord } from '../../packages/types.js'
import { PackageRegistry, type RouteChange } from '../../runtime/registry.js'
import type { Store } from '../../store.js'
import { assertKey, mapArray, readFields } from '../../validate.js'

/** `packages ls`: every package's metadata, never its archive (the store does not load them). */
export function listPackages(store: Store): Promise<PackageMetadata[]> {
  return store.packages.listPackages({ withArchives: false })
}

/** `packages routes`: every route, in workflow type order. */
export function listRoutes(store: Store): Promise<PackageRouteRecord[]> {
  return store.packages.listPackageRoutes()
}

/** `packages history TYPE`: every deploy, route change and rollback of a type, oldest first (its route events). */
export function routeHistory(store: Store, workflowType: string): Promise<RouteChange[]> {
  return new PackageRegistry(store).history(workflowType)
}

/** Who changes a route and why. */
export interface ChangeInput {
  by: string
  reason?: string
}

/** Input of {@link deployPackage}. */
export interface DeployInput extends ChangeInput {
  /** Further workflow types the archive serves; their routes move with it. */
  also?: string[]
}

/** A package after a registry change: its metadata and archive size. */
export interface DeployedPackage extends PackageMetadata {
  bytes: number
}

const metadataOf = (p: { workflowType: string; contentHash: string; deployedAt: number; archive: Uint8Array }): DeployedPackage => ({
  workflowType: p.workflowType,
  contentHash: p.contentHash,
  deployedAt: p.deployedAt,
  bytes: p.archive.byteLength,
})

function change(input: ChangeInput): ChangeInput {
  const i = readFields('input', input, ['by', 'reason'] as const)
  assertKey('by', i.by)
  return { by: i.by, ...(i.reason === undefined ? {} : { reason: i.reason as string }) }
}

/** `packages deploy TYPE FILE`: `PackageRegistry.deploy` (content-addressed, audited by its route events). */
export async function deployPackage(store: Store, workflowType: string, archive: Uint8Array, input: DeployInput): Promise<DeployedPackage> {
  const i = readFields('input', input, ['by', 'reason', 'also'] as const)
  const also = i.also === undefined ? undefined : mapArray('also', i.also, (t, at) => (assertKey(at, t), t))
  const record = await new PackageRegistry(store).deploy(workflowType, archive, { ...change(i as ChangeInput), ...(also ? { also } : {}) })
  return metadataOf(record)
}

/** `packages route TYPE HASH`: `PackageRegistry.routeTo`; `NOT_FOUND` for a version never deployed. */
export async function routePackage(store: Store, workflowType: string, contentHash: string, input: ChangeInput): Promise<DeployedPackage> {
  return metadataOf(await new PackageRegistry(store).routeTo(workflowType, contentHash, change(input)))
}

/** `packages rollback TYPE`: `PackageRegistry.rollback`; `NOT_FOUND` with nothing to roll back to. */
export async function rollbackPackage(store: Store, workflowType: string, input: ChangeInput): Promise<DeployedPackage> {
  return metadataOf(await new PackageRegistry(store).rollback(workflowType, change(input)))
}
