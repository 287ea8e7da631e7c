import { MAX_POOL_ADDRESSES } from './offset-map.js';

/** Release-queue entries pack `offset | generation << 24`; offsets fit in 24 bits because of MAX_POOL_ADDRESSES. */
const OFFSET_MASK = 0xff_ffff;
const GEN_SHIFT = 24;
/** When only released offsets remain, pick at random among this many of the oldest. */
const OLDEST_FEW = 16;
const MIN_RING = 64;

const has = (bits: Uint32Array, o: number): boolean => (bits[o >>> 5]! & (1 << (o & 31))) !== 0;
const set = (bits: Uint32Array, o: number): void => {
  bits[o >>> 5]! |= 1 << (o & 31);
};
const clear = (bits: Uint32Array, o: number): void => {
  bits[o >>> 5]! &= ~(1 << (o & 31));
};

/**
 * Allocator view of one pool's offsets 0..n-1. Never-used offsets are handed out first, scanning from a random
 * per-instance start (so independent allocators rarely collide); then released offsets, oldest release first
 * (a recreated pod should not get an address whose ARP entries may still be cached elsewhere).
 */
export class FreeSet {
  private readonly n: number;
  private readonly used: Uint32Array;
  /** Used at least once since construction; clear means "never used". */
  private readonly touched: Uint32Array;
  /** Per-offset release generation: a queue entry is live only while the offset is free and the generation matches. */
  private readonly gen: Uint8Array;
  private usedN = 0;
  private freshN: number;
  /** Every offset below this one is used ('lowest' order scans from here). */
  private lowFree = 0;

  // Never-used scan: a cursor that goes round once, from a random start.
  private cursorStart = -1;
  private visited = 0;
  /** Never-used offsets the cursor passed because they were excluded (in flight) at the time. */
  private deferred: number[] = [];

  // Release queue: FIFO ring with lazy deletion of dead entries.
  private ring: Uint32Array;
  private head = 0;
  private len = 0;
  private readonly maxRing: number;
  private readonly candidates = new Uint32Array(OLDEST_FEW);

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 0 || size > MAX_POOL_ADDRESSES) {
      throw new RangeError(`FreeSet size ${size} is outside 0..${MAX_POOL_ADDRESSES}`);
    }
    this.n = size;
    const words = (size + 31) >>> 5;
    this.used = new Uint32Array(words);
    this.touched = new Uint32Array(words);
    this.gen = new Uint8Array(size);
    this.freshN = size;
    // Live entries never exceed n, so 2n slots leave at least half dead whenever a full ring gets compacted.
    this.maxRing = Math.max(2 * size, MIN_RING);
    this.ring = new Uint32Array(Math.min(MIN_RING, this.maxRing));
  }

  get size(): number {
    return this.n;
  }
  get usedCount(): number {
    return this.usedN;
  }
  get freeCount(): number {
    return this.n - this.usedN;
  }
  get neverUsedCount(): number {
    return this.freshN;
  }

  isFree(offset: number): boolean {
    this.check(offset);
    return !has(this.used, offset);
  }

  markUsed(offset: number): void {
    this.check(offset);
    if (has(this.used, offset)) return;
    set(this.used, offset);
    this.usedN++;
    if (!has(this.touched, offset)) {
      set(this.touched, offset);
      this.freshN--;
    }
    // Its queue entry (if any) is now dead; compact once dead entries are the majority.
    if (this.len > MIN_RING && this.len > 2 * (this.freeCount - this.freshN)) this.compact();
  }

  /** A release: the offset joins the back of the released line. Freeing a free offset is a no-op. */
  markFree(offset: number): void {
    this.check(offset);
    if (!has(this.used, offset)) return;
    const g = (this.gen[offset]! + 1) & 0xff;
    // Before a generation is reused, drop this offset's old (dead, since it is used) entries so none can revive.
    if (g === 0) this.compact();
    this.gen[offset] = g;
    clear(this.used, offset);
    this.usedN--;
    if (offset < this.lowFree) this.lowFree = offset;
    this.push((offset | (g << GEN_SHIFT)) >>> 0);
  }

  /**
   * Restarts the never-used scan at a fresh random offset: after losing an address to another allocator whose cursor
   * runs through the same region, so the two stop racing for the same addresses. Nothing is skipped: the scan checks
   * the `touched` bitmap, and it goes round once from the new start.
   */
  jump(rng: () => number): void {
    if (this.freshN === 0 || this.n === 0) return;
    const r = Math.floor(rng() * this.n);
    this.cursorStart = r >= 0 && r < this.n ? r : 0;
    this.visited = 0;
  }

  /** A free offset not rejected by `exclude`, or -1. Does not mark it used. */
  pick(rng: () => number, exclude?: (offset: number) => boolean): number {
    if (this.usedN === this.n) return -1;
    if (this.freshN > 0) {
      const o = this.pickNeverUsed(rng, exclude);
      if (o >= 0) return o;
    }
    return this.pickReleased(rng, exclude);
  }

  /**
   * Whereabouts' order: the lowest free offset not rejected by `exclude`, within `spans` (sorted [lo, hi] offset
   * intervals) when given, or -1. A released offset is at once the lowest candidate again. Does not mark it used.
   */
  pickLowest(exclude?: (offset: number) => boolean, spans?: readonly (readonly [number, number])[]): number {
    if (this.usedN === this.n) return -1;
    this.lowFree = this.nextFree(this.lowFree, this.n - 1);
    if (spans === undefined) return this.scanLowest(this.lowFree, this.n - 1, exclude);
    for (const [lo, hi] of spans) {
      const o = this.scanLowest(Math.max(lo, this.lowFree), Math.min(hi, this.n - 1), exclude);
      if (o >= 0) return o;
    }
    return -1;
  }

  private scanLowest(from: number, to: number, exclude?: (offset: number) => boolean): number {
    for (let o = this.nextFree(from, to); o <= to; o = this.nextFree(o + 1, to)) {
      if (exclude === undefined || !exclude(o)) return o;
    }
    return -1;
  }

  /** The first free offset in from..to, skipping whole used words; to + 1 when there is none. */
  private nextFree(from: number, to: number): number {
    let o = from;
    while (o <= to) {
      if ((o & 31) === 0 && this.used[o >>> 5] === 0xffff_ffff) {
        o += 32;
        continue;
      }
      if (!has(this.used, o)) return o;
      o++;
    }
    return to + 1;
  }

  private pickNeverUsed(rng: () => number, exclude?: (offset: number) => boolean): number {
    const n = this.n;
    if (this.cursorStart < 0) {
      const r = Math.floor(rng() * n);
      this.cursorStart = r >= 0 && r < n ? r : 0;
    }
    while (this.visited < n) {
      let o = this.cursorStart + this.visited;
      if (o >= n) o -= n;
      if (!has(this.touched, o)) {
        if (exclude === undefined || !exclude(o)) return o; // cursor stays until it is marked used
        this.deferred.push(o);
      }
      this.visited++;
    }
    let found = -1;
    let w = 0;
    for (const o of this.deferred) {
      if (has(this.touched, o)) continue;
      this.deferred[w++] = o;
      if (found < 0 && (exclude === undefined || !exclude(o))) found = o;
    }
    this.deferred.length = w;
    return found;
  }

  private pickReleased(rng: () => number, exclude?: (offset: number) => boolean): number {
    const cap = this.ring.length;
    while (this.len > 0 && !this.live(this.ring[this.head]!)) {
      this.head = this.head + 1 === cap ? 0 : this.head + 1;
      this.len--;
    }
    let k = 0;
    for (let i = 0; i < this.len && k < OLDEST_FEW; i++) {
      const e = this.ring[(this.head + i) % cap]!;
      if (!this.live(e)) continue;
      const o = e & OFFSET_MASK;
      if (exclude !== undefined && exclude(o)) continue;
      this.candidates[k++] = o;
    }
    if (k === 0) return -1;
    return this.candidates[Math.min(k - 1, Math.max(0, Math.floor(rng() * k)))]!;
  }

  private live(e: number): boolean {
    const o = e & OFFSET_MASK;
    return !has(this.used, o) && this.gen[o] === e >>> GEN_SHIFT;
  }

  private push(e: number): void {
    if (this.len === this.ring.length) {
      this.compact();
      if (this.len * 2 > this.ring.length && this.ring.length < this.maxRing) this.grow();
    }
    const cap = this.ring.length;
    this.ring[(this.head + this.len) % cap] = e;
    this.len++;
  }

  /** Drops dead entries, keeping order. */
  private compact(): void {
    const cap = this.ring.length;
    let w = 0;
    for (let i = 0; i < this.len; i++) {
      const e = this.ring[(this.head + i) % cap]!;
      if (this.live(e)) this.ring[(this.head + w++) % cap] = e;
    }
    this.len = w;
  }

  private grow(): void {
    const cap = this.ring.length;
    const next = new Uint32Array(Math.min(cap * 2, this.maxRing));
    for (let i = 0; i < this.len; i++) next[i] = this.ring[(this.head + i) % cap]!;
    this.ring = next;
    this.head = 0;
  }

  private check(offset: number): void {
    if (offset >>> 0 !== offset || offset >= this.n) {
      throw new RangeError(`offset ${offset} is outside 0..${this.n - 1}`);
    }
  }
}
