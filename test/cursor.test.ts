import { describe, expect, it } from 'vitest'
import { decodeCursor, encodeCursor } from '../src/index.js'

describe('cursors', () => {
  it('are the base64url text of hf1.<position>, for every digit count', () => {
    const positions = [0, 1, 9, 10, 99, 100, 999, 1000, 123_456, 2 ** 31, Number.MAX_SAFE_INTEGER]
    for (let digits = 1; digits <= 16; digits++) positions.push(Math.floor(Math.random() * 10 ** digits) % Number.MAX_SAFE_INTEGER)
    for (const p of positions) {
      const cursor = encodeCursor(p)
      expect(cursor, `position ${p}`).toBe(Buffer.from(`hf1.${p}`).toString('base64url'))
      expect(decodeCursor(cursor)).toBe(p)
    }
  })
})
