import { isDense, NO_OFFSET, type Offset } from './free-space.js';
import type { IntervalSet } from './ranges.js';

/**
 * Maps the N addresses of a pool to dense offsets 0..N-1 in ascending address order, and back. Offsets are numbers
 * when the pool is small enough for a dense FreeSet (isDense), bigints otherwise (a /64 holds 2^64 addresses).
 */
export class OffsetMap {
  private readonly starts: bigint[];
  private readonly ends: bigint[];
  /** firstOffset[i] = number of addresses in intervals before i (prefix sums). */
  private readonly firstOffset: Float64Array;
  private readonly firstOffsetBig: bigint[];
  /** Addresses in the pool. */
  readonly total: bigint;
  /** Offsets are numbers (true) or bigints (false). */
  readonly dense: boolean;

  constructor(set: IntervalSet) {
    const iv = set.intervals;
    this.starts = iv.map((x) => x[0]);
    this.ends = iv.map((x) => x[1]);
    this.firstOffsetBig = [];
    let acc = 0n;
    for (const [lo, hi] of iv) {
      this.firstOffsetBig.push(acc);
      acc += hi - lo + 1n;
    }
    this.total = acc;
    this.dense = isDense(acc);
    this.firstOffset = Float64Array.from(this.dense ? this.firstOffsetBig.map(Number) : []);
  }

  addressAt(offset: Offset): bigint {
    if (this.dense) {
      const o = offset as number;
      if (typeof o !== 'number' || !Number.isInteger(o) || o < 0 || o >= Number(this.total)) {
        throw new RangeError(`offset ${String(offset)} is outside 0..${this.total - 1n}`);
      }
      // Last interval whose first offset is <= offset.
      const fo = this.firstOffset;
      let lo = 0;
      let hi = fo.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (fo[mid]! <= o) lo = mid;
        else hi = mid - 1;
      }
      return this.starts[lo]! + BigInt(o - fo[lo]!);
    }
    const o = offset as bigint;
    if (typeof o !== 'bigint' || o < 0n || o >= this.total) throw new RangeError(`offset ${String(offset)} is outside 0..${this.total - 1n}`);
    const fo = this.firstOffsetBig;
    let lo = 0;
    let hi = fo.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (fo[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return this.starts[lo]! + (o - fo[lo]!);
  }

  /** NO_OFFSET (-1) when addr is not in the pool. */
  offsetOf(addr: bigint): Offset {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (addr < s[mid]!) hi = mid - 1;
      else if (addr > this.ends[mid]!) lo = mid + 1;
      else return this.dense ? this.firstOffset[mid]! + Number(addr - s[mid]!) : this.firstOffsetBig[mid]! + (addr - s[mid]!);
    }
    return NO_OFFSET;
  }
}
