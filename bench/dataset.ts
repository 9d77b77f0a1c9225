// The read dataset, identical for every contender: small aggregates interleaved with one big aggregate, so that
// reading the big one by aggregate skips over other events as it would in a real store.
import { rawRow, type RawRow } from './lib.js'

export const BIG_AGGREGATE = 'big'
export const BIG_SIZE = 10_000
const BATCHES = 40
const SMALL_PER_BATCH = 5
const SMALL_SIZE = 100
/** 40 × (250 big + 5 × 100 small) = 30,000 events; the big aggregate holds 10,000 of them. */
export const DATASET_SIZE = BATCHES * (BIG_SIZE / BATCHES + SMALL_PER_BATCH * SMALL_SIZE)

export function readDataset(): RawRow[][] {
  const batches: RawRow[][] = []
  let bigVersion = 0
  for (let b = 0; b < BATCHES; b++) {
    const batch: RawRow[] = []
    for (let s = 0; s < SMALL_PER_BATCH; s++) {
      for (let v = 1; v <= SMALL_SIZE / 2; v++) batch.push(rawRow(`small-${b}-${s}`, v))
    }
    for (let i = 0; i < BIG_SIZE / BATCHES; i++) batch.push(rawRow(BIG_AGGREGATE, ++bigVersion))
    for (let s = 0; s < SMALL_PER_BATCH; s++) {
      for (let v = SMALL_SIZE / 2 + 1; v <= SMALL_SIZE; v++) batch.push(rawRow(`small-${b}-${s}`, v))
    }
    batches.push(batch)
  }
  return batches
}

/** Splits a batch into per-aggregate runs (in order), for peers that append to one stream at a time. */
export function byAggregate(batch: RawRow[]): [string, RawRow[]][] {
  const runs: [string, RawRow[]][] = []
  for (const row of batch) {
    const last = runs[runs.length - 1]
    if (last && last[0] === row.aggregatorId) last[1].push(row)
    else runs.push([row.aggregatorId, [row]])
  }
  return runs
}

/** Cycles through the pages of the big aggregate by stream position, for peers that read by stream version. */
export function* versionPages(pageSize: number): Generator<{ from: bigint; to: bigint }, never> {
  for (;;) {
    for (let from = 1; from <= BIG_SIZE; from += pageSize) yield { from: BigInt(from), to: BigInt(from + pageSize - 1) }
  }
}
