// Free addresses of a pool of any size (a /64 holds 2^64) over bigint offsets 0..size-1. Memory is O(intervals of
// used, released-and-queued and blocked offsets): a scan that hands out consecutive offsets keeps one interval.
import type { AllocationOrder } from './free-space.js';
import type { OffsetSpans } from './offset-spans.js';
import { IntervalIndex } from './interval-index.js';

/** When only released offsets remain, pick at random among this many of the oldest (as FreeSet does). */
const OLDEST_FEW = 16;
/**
 * Released offsets remembered (kept off the never-used line) at most; past it the oldest release is forgotten and
 * counts as never used again. In a /64 the scan would not come back to it for ages anyway.
 */
export const MAX_RELEASED_QUEUED = 65_536;

export interface SparseFreeSetOptions {
  readonly order?: AllocationOrder;
  /** Bound on remembered releases (tests use a small one). */
  readonly maxReleasedQueued?: number;
}

const NONE = -1;

export class SparseFreeSet {
  readonly order: AllocationOrder;
  private readonly n: bigint;
  private readonly used = new IntervalIndex();
  /** Used, or released and still queued: what the never-used scan skips. Only kept for 'scattered'. */
  private readonly touched = new IntervalIndex();
  /** Offsets nobody may take (reservations), sorted merged closed intervals. */
  private blockedLo: bigint[] = [];
  private blockedHi: bigint[] = [];
  private blockedN = 0n;
  /** |touched ∩ blocked|, so the never-used count is exact. */
  private blockedTouched = 0n;
  private usedN = 0;

  // Never-used scan: a cursor going round the range from a random start.
  private cursor = -1n;

  // Release queue: FIFO with lazy deletion; `released` maps each free, queued offset to its live entry's sequence.
  private qOff: bigint[] = [];
  private qSeq: number[] = [];
  private qHead = 0;
  private seq = 0;
  private readonly released = new Map<bigint, number>();
  private readonly maxQueued: number;

  constructor(size: bigint, opts: SparseFreeSetOptions = {}) {
    if (typeof size !== 'bigint' || size < 0n) throw new RangeError(`SparseFreeSet size ${String(size)} must be a bigint >= 0`);
    this.n = size;
    this.order = opts.order ?? 'scattered';
    this.maxQueued = opts.maxReleasedQueued ?? MAX_RELEASED_QUEUED;
  }

  get size(): bigint {
    return this.n;
  }
  get usedCount(): number {
    return this.usedN;
  }
  get freeCount(): bigint {
    return this.n - BigInt(this.usedN);
  }
  /** Free and not blocked: what a pick could hand out now (a walk over the blocked intervals). */
  availableCount(): bigint {
    let usedBlocked = 0n;
    for (let i = 0; i < this.blockedLo.length; i++) usedBlocked += this.used.countIn(this.blockedLo[i]!, this.blockedHi[i]!);
    return this.freeCount - (this.blockedN - usedBlocked);
  }
  /** Neither used, queued as released, nor blocked ('scattered' only; 'lowest' keeps no history). */
  get neverUsedCount(): bigint {
    return this.n - this.touched.count - this.blockedN + this.blockedTouched;
  }
  get releasedQueuedCount(): number {
    return this.released.size;
  }
  /** Intervals held, all structures together: what memory is proportional to. */
  get intervalCount(): number {
    return this.used.intervalCount + this.touched.intervalCount + this.blockedLo.length;
  }

  isFree(offset: bigint): boolean {
    this.check(offset);
    return !this.used.has(offset);
  }

  markUsed(offset: bigint): void {
    this.check(offset);
    if (!this.used.add(offset)) return;
    this.usedN++;
    if (this.order === 'lowest') return;
    if (this.touched.add(offset)) {
      if (this.isBlocked(offset)) this.blockedTouched++;
    } else {
      this.released.delete(offset); // its queue entry is now dead
    }
  }

  /** A release: 'scattered' puts it at the back of the released line; 'lowest' makes it a candidate at once. */
  markFree(offset: bigint): void {
    this.check(offset);
    if (!this.used.delete(offset)) return;
    this.usedN--;
    if (this.order === 'lowest') return;
    const s = ++this.seq;
    this.released.set(offset, s);
    this.qOff.push(offset);
    this.qSeq.push(s);
    if (this.released.size > this.maxQueued) this.forgetOldest();
    if (this.qOff.length - this.qHead > 2 * this.released.size + 64) this.compact();
  }

  /** Offsets nobody may take (reservations), as closed offset intervals; replaces the previous set. */
  setBlocked(intervals: readonly (readonly [bigint, bigint])[]): void {
    const sorted = [...intervals].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    const lo: bigint[] = [];
    const hi: bigint[] = [];
    for (const [a, b] of sorted) {
      this.check(a);
      this.check(b);
      if (a > b) throw new RangeError(`blocked interval [${a}, ${b}] has lo > hi`);
      const k = lo.length - 1;
      if (k >= 0 && a <= hi[k]! + 1n) {
        if (b > hi[k]!) hi[k] = b;
      } else {
        lo.push(a);
        hi.push(b);
      }
    }
    this.blockedLo = lo;
    this.blockedHi = hi;
    let n = 0n;
    let t = 0n;
    for (let i = 0; i < lo.length; i++) {
      n += hi[i]! - lo[i]! + 1n;
      t += this.touched.countIn(lo[i]!, hi[i]!);
    }
    this.blockedN = n;
    this.blockedTouched = t;
  }

  jump(rng: () => number): void {
    if (this.order === 'lowest' || this.n === 0n) return;
    this.cursor = randomBelow(rng, this.n);
  }

  pick(rng: () => number, exclude?: (offset: bigint) => boolean, spans?: OffsetSpans): bigint | typeof NONE {
    if (BigInt(this.usedN) === this.n) return NONE;
    if (spans) return this.pickIn(rng, spans, exclude);
    if (this.order === 'lowest') return this.pickLowest(exclude);
    if (this.neverUsedCount > 0n) {
      const o = this.pickNeverUsed(rng, exclude);
      if (o !== NONE) return o;
    }
    return this.pickReleased(rng, exclude);
  }

  /**
   * A free offset inside the windows, never walking outside them: 'lowest' scans each from its start; 'scattered'
   * starts the first window at a random place and wraps (no release line inside windows).
   */
  private pickIn(rng: () => number, spans: OffsetSpans, exclude?: (offset: bigint) => boolean): bigint | typeof NONE {
    const scan = (from: bigint, to: bigint): bigint | typeof NONE => {
      for (let x = from; x <= to; ) {
        const c = this.skipBlocked(this.used, x);
        if (c > to || c >= this.n) return NONE;
        if (exclude === undefined || !exclude(c)) return c;
        x = c + 1n;
      }
      return NONE;
    };
    for (let i = 0; i < spans.length; i++) {
      const lo = BigInt(spans[i]![0]);
      const hi = BigInt(spans[i]![1]);
      if (this.order === 'scattered' && i === 0) {
        const r = lo + randomBelow(rng, hi - lo + 1n);
        const o = scan(r, hi);
        if (o !== NONE) return o;
        const w = r > lo ? scan(lo, r - 1n) : NONE;
        if (w !== NONE) return w;
        continue;
      }
      const o = scan(lo, hi);
      if (o !== NONE) return o;
    }
    return NONE;
  }

  /** The lowest offset neither used, blocked nor excluded. Walks past excluded (in-flight) ones, a few at a time. */
  private pickLowest(exclude?: (offset: bigint) => boolean): bigint | typeof NONE {
    let x = 0n;
    for (;;) {
      const c = this.skipBlocked(this.used, x);
      if (c >= this.n) return NONE;
      if (exclude === undefined || !exclude(c)) return c;
      x = c + 1n;
    }
  }

  /**
   * Round the range once from the cursor. The cursor stays on what it returns (until it is marked used) and moves
   * past excluded offsets (claimed in flight: they are about to be used), so each pick costs O(log n) amortized.
   */
  private pickNeverUsed(rng: () => number, exclude?: (offset: bigint) => boolean): bigint | typeof NONE {
    if (this.cursor < 0n) this.cursor = randomBelow(rng, this.n);
    const start = this.cursor;
    let x = start;
    let wrapped = false;
    for (;;) {
      let c = this.skipBlocked(this.touched, x);
      if (c >= this.n) {
        if (wrapped) return NONE;
        wrapped = true;
        c = this.skipBlocked(this.touched, 0n);
        if (c >= this.n) return NONE;
      }
      if (wrapped && c >= start) return NONE;
      if (exclude === undefined || !exclude(c)) {
        this.cursor = c;
        return c;
      }
      x = c + 1n;
      if (!wrapped) this.cursor = x < this.n ? x : 0n;
    }
  }

  private pickReleased(rng: () => number, exclude?: (offset: bigint) => boolean): bigint | typeof NONE {
    while (this.qHead < this.qOff.length && !this.live(this.qHead)) this.qHead++;
    const cands: bigint[] = [];
    for (let i = this.qHead; i < this.qOff.length && cands.length < OLDEST_FEW; i++) {
      if (!this.live(i)) continue;
      const o = this.qOff[i]!;
      if (this.isBlocked(o) || (exclude !== undefined && exclude(o))) continue;
      cands.push(o);
    }
    if (cands.length === 0) return NONE;
    const k = cands.length;
    return cands[Math.min(k - 1, Math.max(0, Math.floor(rng() * k)))]!;
  }

  /** The smallest offset >= x in neither `set` nor a blocked interval (alternating until both agree). */
  private skipBlocked(set: IntervalIndex, x: bigint): bigint {
    for (;;) {
      const a = set.nextAbsent(x);
      const b = this.blockedEnd(a);
      if (b === a) return a;
      x = b;
    }
  }

  /** x itself if it is not blocked, else one past the end of its blocked interval. */
  private blockedEnd(x: bigint): bigint {
    const lo = this.blockedLo;
    let a = 0;
    let b = lo.length - 1;
    while (a <= b) {
      const mid = (a + b) >>> 1;
      if (lo[mid]! <= x) a = mid + 1;
      else b = mid - 1;
    }
    return b >= 0 && this.blockedHi[b]! >= x ? this.blockedHi[b]! + 1n : x;
  }

  private isBlocked(x: bigint): boolean {
    return this.blockedEnd(x) !== x;
  }

  private live(i: number): boolean {
    return this.released.get(this.qOff[i]!) === this.qSeq[i];
  }

  private forgetOldest(): void {
    while (this.qHead < this.qOff.length) {
      const i = this.qHead++;
      if (!this.live(i)) continue;
      const o = this.qOff[i]!;
      this.released.delete(o);
      this.touched.delete(o);
      if (this.isBlocked(o)) this.blockedTouched--;
      return;
    }
  }

  /** Drops dead entries, keeping order. */
  private compact(): void {
    const off: bigint[] = [];
    const seq: number[] = [];
    for (let i = this.qHead; i < this.qOff.length; i++) {
      if (!this.live(i)) continue;
      off.push(this.qOff[i]!);
      seq.push(this.qSeq[i]!);
    }
    this.qOff = off;
    this.qSeq = seq;
    this.qHead = 0;
  }

  private check(offset: bigint): void {
    if (typeof offset !== 'bigint' || offset < 0n || offset >= this.n) {
      throw new RangeError(`offset ${String(offset)} is outside 0..${this.n - 1n}`);
    }
  }
}

/**
 * A draw in 0..n-1 that maps rng()'s fraction onto the range (0.5 lands mid-range), from 32-bit slices of rng() when
 * n exceeds what a double carries exactly.
 */
export function randomBelow(rng: () => number, n: bigint): bigint {
  if (n <= 0n) return 0n;
  if (n <= 1n << 53n) {
    const r = Math.floor(rng() * Number(n));
    return r >= 0 && r < Number(n) ? BigInt(r) : 0n;
  }
  // A fixed-point fraction of `bits` bits (32 more than n has), times n.
  let f = 0n;
  let bits = 0n;
  while (1n << bits < n << 32n) {
    const w = Math.floor(rng() * 0x1_0000_0000);
    f = (f << 32n) | BigInt(w >= 0 && w < 0x1_0000_0000 ? w : 0);
    bits += 32n;
  }
  return (f * n) >> bits;
}
