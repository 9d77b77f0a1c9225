// Model-based test of the package store: memory, SQLite and PGlite agree on random operation sequences.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { compareBackends, outcome } from './model-harness.js'

const type = fc.constantFrom('billing', 'Billing', 'checkout', 'é')
const hash = fc.oneof({ arbitrary: fc.constantFrom('h1', 'H1', 'h2', 'a9'), weight: 6 }, { arbitrary: fc.constantFrom('bad hash', ''), weight: 1 })
// Puts and listings weigh most: ordering ties need several packages deployed at the same time, then a listing.
const op = fc.oneof(
  { arbitrary: fc.record({ op: fc.constant('put' as const), type, hash, deployedAt: fc.constantFrom(1, 1, 2, -1), archive: fc.uint8Array({ maxLength: 8 }) }), weight: 4 },
  { arbitrary: fc.record({ op: fc.constant('list' as const), withArchives: fc.constantFrom(undefined, true, false) }), weight: 2 },
  fc.record({ op: fc.constant('putRoutes' as const), hash, types: fc.array(type, { maxLength: 3 }) }),
  fc.record({ op: fc.constant('route' as const), type, hash }),
  fc.record({ op: fc.constant('delete' as const), type, hash }),
  fc.record({ op: fc.constant('get' as const), type, hash }),
  fc.record({ op: fc.constant('getRoute' as const), type }),
  fc.record({ op: fc.constant('routes' as const) }),
)

describe('package store model', () => {
  it(
    'gives the same results on memory, SQLite and PGlite',
    { timeout: 240_000 },
    compareBackends(op, ({ packages: p }, o) =>
      outcome(async () => {
        switch (o.op) {
          case 'put':
            return p.putPackage({ workflowType: o.type, contentHash: o.hash, archive: o.archive, deployedAt: o.deployedAt })
          case 'putRoutes':
            return p.putPackageWithRoutes({ workflowType: 'billing', contentHash: o.hash, archive: new Uint8Array([1]), deployedAt: 5 }, o.types)
          case 'route':
            return p.putPackageRoute(o.type, o.hash)
          case 'delete':
            return p.deletePackage(o.type, o.hash)
          case 'get':
            return p.getPackage(o.type, o.hash)
          case 'getRoute': {
            const r = await p.getPackageRoute(o.type)
            return r && [r.workflowType, r.contentHash]
          }
          case 'list':
            return p.listPackages(o.withArchives === undefined ? undefined : { withArchives: o.withArchives })
          case 'routes':
            return (await p.listPackageRoutes()).map((r) => [r.workflowType, r.contentHash])
        }
      }),
      150,
    ),
  )
})
