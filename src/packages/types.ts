import type { NewEvent } from '../events/types.js'

/** A deployed workflow package. */
export interface PackageRecord {
  /** The workflow type it serves, e.g. `'billing/invoice'`. */
  workflowType: string
  /** The package's content address, e.g. `'sha256:…'`: 1–256 bytes, no whitespace. */
  contentHash: string
  /** The package itself, opaque. */
  archive: Uint8Array
  /** The engine's deploy time, ms since epoch (a non-negative safe integer). */
  deployedAt: number
}

/** A package's metadata, without its archive (`listPackages({ withArchives: false })`). */
export type PackageMetadata = Omit<PackageRecord, 'archive'>

/** Which version new runs of a workflow type resolve. */
export interface PackageRouteRecord {
  /** The workflow type. */
  workflowType: string
  /** The content hash it points at (which need not be stored). */
  contentHash: string
  /** When the route last moved (ms since epoch, assigned by the store). */
  updatedAt: number
}

/** Options of {@link PackageStore.listPackages}. */
export interface ListPackagesOptions {
  /** `false` leaves the archives out (and never loads them); default `true`. */
  withArchives?: boolean
}

/** Options of the writes that move routes ({@link PackageStore.putPackageWithRoutes}, {@link PackageStore.putPackageRoute}). */
export interface PackageWriteOptions {
  /**
   * Events appended in the same transaction as the change (an audit trail that cannot disagree with the routes),
   * under the rules of `events.write`: consecutive versions per aggregate, the first one past the stored version,
   * ids not taken. A conflict (`INVALID_ORIGINAL_VERSION`, or `INVALID_ARGUMENT` for a taken id) stores nothing:
   * neither the events nor the change. A retry of a call that committed (every event stored as given) succeeds and
   * changes nothing, so it cannot move a route back over a later change. The events wake `onCommitted` listeners
   * as a `write` does. Absent or empty: no events, the plain write.
   */
  events?: NewEvent[]
}

/**
 * The package store contract (the Aion engine's `PackageStore`, restated in `spec/packages.md`): deployed packages by
 * (workflow type, content hash) and a route pointer per type that moves atomically with a deploy.
 */
export interface PackageStore {
  /** Stores the package and points its type's route at it, in one transaction. Re-putting replaces the row. */
  putPackage(record: PackageRecord): Promise<void>
  /** Every package, by `deployedAt`, then `workflowType`, then `contentHash` in text order. */
  listPackages(): Promise<PackageRecord[]>
  /** The same, without archives. */
  listPackages(options: { withArchives: false }): Promise<PackageMetadata[]>
  /** The same, with or without archives. */
  listPackages(options?: ListPackagesOptions): Promise<PackageRecord[] | PackageMetadata[]>
  /** Deletes one package; absent is a no-op. Routes are left as they are. */
  deletePackage(workflowType: string, contentHash: string): Promise<void>
  /** Points `workflowType`'s route at `contentHash` (rollback, roll-forward); with `options.events`, appends them in the same transaction. */
  putPackageRoute(workflowType: string, contentHash: string, options?: PackageWriteOptions): Promise<void>
  /** Every route, in `workflowType` text order. */
  listPackageRoutes(): Promise<PackageRouteRecord[]>
  /** One package, or `null`. */
  getPackage(workflowType: string, contentHash: string): Promise<PackageRecord | null>
  /** One route, or `null`. */
  getPackageRoute(workflowType: string): Promise<PackageRouteRecord | null>
  /**
   * Stores the package and points every listed type's route at it, in one transaction (Aion's newer surface); with
   * `options.events`, appends them in the same transaction.
   */
  putPackageWithRoutes(record: PackageRecord, routeWorkflowTypes: string[], options?: PackageWriteOptions): Promise<void>
}
