import { InvalidArgumentError } from '../errors.js'
import { assertBytes, assertInteger, assertKey, assertObject, copyBytes, describe } from '../validate.js'
import type { PackageRecord } from './types.js'

const encoder = new TextEncoder()

/** A content hash: 1–256 bytes of UTF-8, no whitespace. */
export function assertContentHash(name: string, value: unknown): asserts value is string {
  assertKey(name, value)
  if (encoder.encode(value).byteLength > 256) throw new InvalidArgumentError(`${name} must be at most 256 bytes, got ${describe(value)}`)
  if (/\s/u.test(value)) throw new InvalidArgumentError(`${name} must not contain whitespace, got ${describe(value)}`)
}

/** Validates a package record and copies it. */
export function checkPackage(record: unknown): PackageRecord {
  assertObject('record', record)
  assertKey('record.workflowType', record.workflowType)
  assertContentHash('record.contentHash', record.contentHash)
  assertBytes('record.archive', record.archive)
  assertInteger('record.deployedAt', record.deployedAt, 0)
  return { workflowType: record.workflowType, contentHash: record.contentHash, archive: copyBytes(record.archive), deployedAt: record.deployedAt }
}

/** Validates the route list of `putPackageWithRoutes`: non-empty, distinct types. */
export function checkRouteTypes(types: unknown): string[] {
  if (!Array.isArray(types) || types.length === 0) throw new InvalidArgumentError(`routeWorkflowTypes must be a non-empty array, got ${describe(types)}`)
  types.forEach((t, i) => assertKey(`routeWorkflowTypes[${i}]`, t))
  return [...new Set(types as string[])]
}

/** Validates `listPackages` options; returns whether archives are wanted. */
export function checkListOptions(options: unknown): boolean {
  if (options === undefined) return true
  assertObject('options', options)
  const w = options.withArchives
  if (w !== undefined && typeof w !== 'boolean') throw new InvalidArgumentError(`options.withArchives must be a boolean, got ${describe(w)}`)
  return w !== false
}
