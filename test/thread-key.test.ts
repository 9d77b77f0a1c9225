import { describe, expect, it } from 'vitest'
import { parseThreadKey, threadKey, threadRange } from '../src/checkpoints/thread-validate.js'

describe('thread keys', () => {
  const coordinates: [string, string, string][] = [
    ['t', '', '1f1e766a-3f02-61e4-8005-a38642d83406'],
    ['a","b', 'ns', 'c'],
    ['back\\slash', '', 'x'],
    ['t,', 'graph:1|sub', 'id "quoted"'],
    ['new\nline', 'tab\t', 'é 😀'],
    ['t', 'ns', ''],
  ]

  it('reads back the coordinates of every key it makes, escaped or not', () => {
    for (const c of coordinates) expect(parseThreadKey(threadKey(...c))).toEqual(c)
  })

  it('refuses ids it did not make, even when they parse as JSON', () => {
    for (const id of ['plain', '["a","b"]', '["a","b","c","d"]', '["a" ,"b","c"]', '["a","b","c"] ', '["a","b",3]', '["a\nb","",""]', '["a","b","c"', '["'])
      expect(parseThreadKey(id)).toBeNull()
  })

  it('puts each thread and namespace in its own id range', () => {
    const [low, high] = threadRange('t', '')
    expect(threadKey('t', '', 'x') >= low && threadKey('t', '', 'x') < high).toBe(true)
    for (const other of [threadKey('t,', '', 'x'), threadKey('t', 'n', 'x'), threadKey('t2', '', 'x')]) expect(other >= low && other < high).toBe(false)
  })
})
