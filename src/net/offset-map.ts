import { InputError } from './errors.js';
import type { IntervalSet } from './ranges.js';

/** Largest pool we index densely; offsets then fit in 24 bits (FreeSet relies on that). */
export const MAX_POOL_ADDRESSES = 1 << 24;

/** Maps the N addresses of a pool to dense offsets 0..N-1 in ascending address order, and back. */
export class OffsetMap {
  private readonly starts: bigint[];
  private readonly ends: bigint[];
  /** firstOffset[i] = number of addresses in intervals before i (prefix sums). */
  private readonly firstOffset: Float64Array;
  private readonly count: number;

  constructor(set: IntervalSet, field: string) {
    const total = set.size();
    if (total > BigInt(MAX_POOL_ADDRESSES)) {
      throw new InputError(field, `pool is too large: ${total} addresses, the limit is ${MAX_POOL_ADDRESSES}`);
    }
    const iv = set.intervals;
    this.starts = iv.map((x) => x[0]);
    this.ends = iv.map((x) => x[1]);
    this.firstOffset = new Float64Array(iv.length);
    let acc = 0;
    for (let i = 0; i < iv.length; i++) {
      this.firstOffset[i] = acc;
      acc += Number(iv[i]![1] - iv[i]![0]) + 1;
    }
    this.count = acc;
  }

  get size(): number {
    return this.count;
  }

  addressAt(offset: number): bigint {
    if (!Number.isInteger(offset) || offset < 0 || offset >= this.count) {
      throw new RangeError(`offset ${offset} is outside 0..${this.count - 1}`);
    }
    // Last interval whose first offset is <= offset.
    const fo = this.firstOffset;
    let lo = 0;
    let hi = fo.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (fo[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]! + BigInt(offset - fo[lo]!);
  }

  /** -1 when addr is not in the pool. */
  offsetOf(addr: bigint): number {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (addr < s[mid]!) hi = mid - 1;
      else if (addr > this.ends[mid]!) lo = mid + 1;
      else return this.firstOffset[mid]! + Number(addr - s[mid]!);
    }
    return -1;
  }
}
