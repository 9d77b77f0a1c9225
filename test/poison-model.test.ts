// Model-based test of the poison store: memory, SQLite and PGlite agree on random operation sequences.
import fc from 'fast-check'
import { describe, it } from 'vitest'
import { compareBackends, outcome } from './model-harness.js'

const key = fc.constantFrom('a', 'a/1', 'a/10', 'b', 'é')
const token = fc.constantFrom('t1', 't2', 't3')
const op = fc.oneof(
  fc.record({ op: fc.constantFrom('put' as const, 'delete' as const), key, token }),
  fc.record({ op: fc.constant('get' as const), key }),
  fc.record({ op: fc.constant('list' as const), prefix: fc.constantFrom(undefined, '', 'a', 'a/1', 'z') }),
  fc.record({ op: fc.constant('clear' as const), key, by: fc.constantFrom('alice', 'bob'), reason: fc.constantFrom(undefined, 'fixed') }),
  fc.record({ op: fc.constant('audit' as const), key: fc.option(key, { nil: undefined }) }),
  fc.record({ op: fc.constant('guard' as const), key, token, fails: fc.boolean() }),
  fc.record({ op: fc.constant('bad' as const), key: fc.constantFrom('', 'x'.repeat(1025)) }),
)

describe('poison store model', () => {
  it(
    'gives the same results on memory, SQLite and PGlite',
    { timeout: 240_000 },
    compareBackends(op, ({ poison: p }, o) =>
      outcome(async () => {
        switch (o.op) {
          case 'put':
            return p.tryPutPoison(o.key, o.token)
          case 'delete':
            return p.deletePoison(o.key, o.token)
          case 'get':
            return p.getPoison(o.key)
          case 'list':
            return (await p.listPoison(o.prefix)).map((r) => [r.key, r.token])
          case 'clear':
            return p.clearPoison(o.key, o.by, o.reason)
          case 'audit':
            return (await p.listPoisonAudit(o.key)).map((a) => [a.key, a.token, a.by, a.reason])
          case 'guard':
            return p.withPoison(o.key, o.token, () => (o.fails ? Promise.reject(new Error('fn failed')) : 'done'))
          case 'bad':
            return p.tryPutPoison(o.key, 't1')
        }
      }),
    ),
  )
})
