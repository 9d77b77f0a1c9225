/**
 * The conformance suites every Holdfast backend passes, for vitest. Run them against your own backend:
 *
 * @example
 * import { runConformanceSuite } from 'holdfast/testing'
 * runConformanceSuite({ name: 'my backend', open: () => openStore('sqlite::memory:') })
 * @packageDocumentation
 */
import { runAutomergePersisterSuite } from './automerge-persister-suite.js'
import { runCheckpointStoreSuite } from './checkpoint-store-suite.js'
import { runChunkStoreSuite } from './chunk-store-suite.js'
import { runEventStoreSuite } from './event-store-suite.js'
import { runHostileInputSuite } from './hostile-input-suite.js'
import { runPackageStoreSuite } from './package-store-suite.js'
import { runPoisonStoreSuite } from './poison-store-suite.js'
import { runRetrySuite } from './retry-suite.js'
import { runThreadStoreSuite } from './thread-store-suite.js'
import type { ConformanceTarget } from './helpers.js'

export { runAutomergePersisterSuite } from './automerge-persister-suite.js'
export { runCheckpointStoreSuite } from './checkpoint-store-suite.js'
export { runChunkStoreSuite } from './chunk-store-suite.js'
export { runEventStoreSuite } from './event-store-suite.js'
export { runHostileInputSuite } from './hostile-input-suite.js'
export { runPackageStoreSuite } from './package-store-suite.js'
export { runPoisonStoreSuite } from './poison-store-suite.js'
export { runRetrySuite } from './retry-suite.js'
export { runThreadStoreSuite } from './thread-store-suite.js'
export { bytes, event, readAll, rejectsWith, throwsWith, type ConformanceTarget } from './helpers.js'

/** Registers every contract's conformance cases for `target` with vitest. `open()` must return a fresh, empty store. */
export function runConformanceSuite(target: ConformanceTarget): void {
  runEventStoreSuite(target)
  runPackageStoreSuite(target)
  runCheckpointStoreSuite(target)
  runPoisonStoreSuite(target)
  runAutomergePersisterSuite(target)
  runChunkStoreSuite(target)
  runThreadStoreSuite(target)
  runHostileInputSuite(target)
  runRetrySuite(target)
}
