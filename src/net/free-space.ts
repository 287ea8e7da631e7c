// What the allocator asks of a pool's free addresses, whatever the pool's size: pick one, mark one used or free.
// Small pools get a dense bitset over number offsets (FreeSet); larger ones a sparse structure over bigint offsets
// whose memory follows what is allocated, not the range (SparseFreeSet).
import { FreeSet } from './free-set.js';
import type { OffsetSpans } from './offset-spans.js';
import { SparseFreeSet } from './sparse-free-set.js';

/**
 * 'scattered': never-used addresses first, scanning from a random start per process, released ones to the back of
 * the line (today's policy). 'lowest': the lowest free offset first, as Whereabouts does.
 */
export type AllocationOrder = 'scattered' | 'lowest';
export const ALLOCATION_ORDERS: readonly AllocationOrder[] = ['scattered', 'lowest'];

/** A pool-relative offset: a number in pools of at most DENSE_MAX addresses, a bigint in larger ones. */
export type Offset = number | bigint;
/** What pick returns when nothing is free. */
export const NO_OFFSET = -1;

/** Largest pool indexed densely (bitsets over the whole range: ~1.3 bytes per address, so <= 1.4 MB). */
export const DENSE_MAX = 1 << 20;

export interface FreeSpace {
  readonly order: AllocationOrder;
  readonly usedCount: number;
  /** Offsets not used (reserved ones included: a dense pool keeps those outside, in PoolState.blocked). */
  readonly freeCount: number | bigint;
  isFree(offset: Offset): boolean;
  markUsed(offset: Offset): void;
  markFree(offset: Offset): void;
  /** Moves the never-used scan to a fresh random place (after losing an address to another process). */
  jump(rng: () => number): void;
  /**
   * A free offset not rejected by `exclude`, or NO_OFFSET; within `spans` when given (a Whereabouts range's window:
   * range_start/range_end/exclude). Does not mark it used.
   */
  pick(rng: () => number, exclude?: (offset: Offset) => boolean, spans?: OffsetSpans): Offset;
}


/** True when a pool of `total` addresses is indexed densely (number offsets). */
export function isDense(total: bigint): boolean {
  return total <= BigInt(DENSE_MAX);
}

/** The free structure for a pool of `total` addresses. */
export function createFreeSpace(total: bigint, order: AllocationOrder = 'scattered'): FreeSpace {
  return isDense(total) ? new FreeSet(Number(total), order) : new SparseFreeSet(total, { order });
}
