import type { PoisonStore } from './types.js'

/**
 * The poison guard: put the key, run `fn`, delete the key when `fn` resolves, keep it when `fn` throws. A kept key
 * fences the resource until an operator repairs it and calls `clearPoison`.
 */
export async function withPoison<T>(store: Pick<PoisonStore, 'tryPutPoison' | 'deletePoison'>, key: string, token: string, fn: () => Promise<T> | T): Promise<T> {
  await store.tryPutPoison(key, token)
  const result = await fn()
  await store.deletePoison(key, token)
  return result
}
