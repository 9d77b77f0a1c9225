import { InvalidArgumentError } from '../errors.js'
import { checkWrite, type CheckedWrite } from '../events/validate.js'
import { assertInteger, assertKey, checkBytes, describe, mapArray, readFields } from '../validate.js'
import type { PackageRecord } from './types.js'

/** A content hash: 1–256 bytes of UTF-8, no whitespace. */
export function assertContentHash(name: string, value: unknown): asserts value is string {
  assertKey(name, value)
  if (value.length > 85 && Buffer.byteLength(value) > 256) throw new InvalidArgumentError(`${name} must be at most 256 bytes, got ${describe(value)}`)
  if (/\s/u.test(value)) throw new InvalidArgumentError(`${name} must not contain whitespace, got ${describe(value)}`)
}

const RECORD_FIELDS = ['workflowType', 'contentHash', 'archive', 'deployedAt'] as const

/** Validates a package record, each field read once, and returns the copy (the archive copied too). */
export function checkPackage(record: unknown): PackageRecord {
  const r = readFields('record', record, RECORD_FIELDS)
  assertKey('record.workflowType', r.workflowType)
  assertContentHash('record.contentHash', r.contentHash)
  assertInteger('record.deployedAt', r.deployedAt, 0)
  return { workflowType: r.workflowType, contentHash: r.contentHash, archive: checkBytes('record.archive', r.archive), deployedAt: r.deployedAt }
}

/** Validates the route list of `putPackageWithRoutes`: non-empty, distinct types; returns them de-duplicated. */
export function checkRouteTypes(types: unknown): string[] {
  const list = mapArray('routeWorkflowTypes', types, (t, at) => {
    assertKey(at, t)
    return t
  })
  if (list.length === 0) throw new InvalidArgumentError('routeWorkflowTypes must be a non-empty array, got an array of 0')
  return [...new Set(list)]
}

/** Validates `listPackages` options; returns whether archives are wanted. */
export function checkListOptions(options: unknown): boolean {
  if (options === undefined) return true
  const { withArchives: w } = readFields('options', options, ['withArchives'])
  if (w !== undefined && typeof w !== 'boolean') throw new InvalidArgumentError(`options.withArchives must be a boolean, got ${describe(w)}`)
  return w !== false
}

/** Validates the options of a route change; returns its events as one checked write, or `undefined` for none. */
export function checkRouteChange(options: unknown): CheckedWrite | undefined {
  if (options === undefined) return undefined
  const { events } = readFields('options', options, ['events'])
  if (events === undefined) return undefined
  // Read once into a plain array (a hostile one cannot change under the event checks), then checked as a write.
  const write = checkWrite(mapArray('options.events', events, (e) => e))
  return write.events.length > 0 ? write : undefined
}
