import { expect } from 'vitest'
import type { Event, EventStore, NewEvent } from '../events/types.js'
import type { Store } from '../store.js'

/** How a conformance suite gets a store: `open()` returns a fresh, empty one. */
export interface ConformanceTarget {
  /** Shown in the test titles. */
  name: string
  /** A fresh, empty store. The suite closes it. */
  open(): Promise<Store>
}

const encoder = new TextEncoder()

/** UTF-8 bytes of a string. */
export function bytes(text: string): Uint8Array {
  return encoder.encode(text)
}

let counter = 0

/** A unique event id (ULID-like: sortable prefix, random tail). */
export function newId(): string {
  counter += 1
  return `${Date.now().toString(36)}-${counter.toString(36)}-${Math.random().toString(36).slice(2, 8)}`
}

/** An event with sensible defaults. */
export function event(aggregatorId: string, version: number, extra: Partial<NewEvent> = {}): NewEvent {
  return { id: newId(), aggregatorType: 'shop/Order', aggregatorId, version, name: 'Placed', data: bytes(`${aggregatorId}@${version}`), ...extra }
}

/** Every event in the store, paging forward 1,000 at a time. */
export async function readAll(events: EventStore): Promise<Event[]> {
  const out: Event[] = []
  let after: string | undefined
  for (;;) {
    const page = await events.read(null, null, after === undefined ? { first: 1000 } : { first: 1000, after })
    out.push(...page.edges.map((e) => e.node))
    if (!page.pageInfo.hasNextPage) return out
    after = page.pageInfo.endCursor!
  }
}

/** Asserts that `promise` rejects with a Holdfast error of `code`, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<Error & { code: string }> {
  let error: unknown
  try {
    await promise
  } catch (err) {
    error = err
  }
  expect(error, `expected a rejection with ${code}`).toBeInstanceOf(Error)
  expect((error as { code?: string }).code, String(error)).toBe(code)
  return error as Error & { code: string }
}

/** Asserts that a synchronous call throws a Holdfast error of `code`. */
export function throwsWith(fn: () => unknown, code: string): void {
  let error: unknown
  try {
    fn()
  } catch (err) {
    error = err
  }
  expect((error as { code?: string } | undefined)?.code, String(error)).toBe(code)
}
