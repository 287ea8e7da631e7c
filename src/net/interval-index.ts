// A mutable set of bigints kept as sorted, merged closed intervals in chunks (a two-level sorted list): memory is
// O(intervals), not O(range); add/delete/has/nextAbsent cost a binary search over chunks and one inside a chunk, plus
// a splice of at most MAX_CHUNK entries.

/** Intervals per chunk before it splits in two; a splice moves at most this many entries. */
const MAX_CHUNK = 256;

class Chunk {
  constructor(
    readonly lo: bigint[],
    readonly hi: bigint[],
  ) {}
}

export class IntervalIndex {
  private chunks: Chunk[] = [];
  /** mins[i] = chunks[i].lo[0]: the chunk search key. */
  private mins: bigint[] = [];
  private points = 0n;
  private runs = 0;

  /** Addresses (points) in the set. */
  get count(): bigint {
    return this.points;
  }
  /** Merged intervals held: what the memory is proportional to. */
  get intervalCount(): number {
    return this.runs;
  }

  has(x: bigint): boolean {
    const ci = this.chunkOf(x);
    if (ci < 0) return false;
    const c = this.chunks[ci]!;
    const i = lastAtOrBelow(c.lo, x);
    return i >= 0 && c.hi[i]! >= x;
  }

  /** The smallest y >= x not in the set. */
  nextAbsent(x: bigint): bigint {
    const ci = this.chunkOf(x);
    if (ci < 0) return x;
    const c = this.chunks[ci]!;
    const i = lastAtOrBelow(c.lo, x);
    // Intervals are merged, so the one after [lo, hi] starts past hi + 1.
    return i >= 0 && c.hi[i]! >= x ? c.hi[i]! + 1n : x;
  }

  /** The smallest member >= x, or undefined. */
  nextPresent(x: bigint): bigint | undefined {
    let ci = this.chunkOf(x);
    if (ci < 0) ci = 0;
    for (; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      let i = lastAtOrBelow(c.lo, x);
      if (i >= 0 && c.hi[i]! >= x) return x;
      i++;
      if (i < c.lo.length) return c.lo[i]!;
    }
    return undefined;
  }

  /** Adds x; false if it was there already. */
  add(x: bigint): boolean {
    if (this.chunks.length === 0) {
      this.chunks.push(new Chunk([x], [x]));
      this.mins.push(x);
      this.points = 1n;
      this.runs = 1;
      return true;
    }
    let ci = this.chunkOf(x);
    if (ci < 0) ci = 0;
    const c = this.chunks[ci]!;
    const i = lastAtOrBelow(c.lo, x);
    if (i >= 0 && c.hi[i]! >= x) return false;
    this.points++;
    // The interval after x: in this chunk, or the first of the next one.
    const nci = i + 1 < c.lo.length ? ci : ci + 1;
    const ni = nci === ci ? i + 1 : 0;
    const next = this.chunks[nci];
    const joinsNext = next !== undefined && ni < next.lo.length && next.lo[ni] === x + 1n;
    const joinsPrev = i >= 0 && c.hi[i] === x - 1n;
    if (joinsPrev && joinsNext) {
      c.hi[i] = next!.hi[ni]!;
      this.removeAt(nci, ni);
    } else if (joinsPrev) {
      c.hi[i] = x;
    } else if (joinsNext) {
      next!.lo[ni] = x;
      if (ni === 0) this.mins[nci] = x;
    } else {
      c.lo.splice(i + 1, 0, x);
      c.hi.splice(i + 1, 0, x);
      if (i < 0) this.mins[ci] = x;
      this.runs++;
      if (c.lo.length > MAX_CHUNK) this.split(ci);
    }
    return true;
  }

  /** Removes x; false if it was not there. */
  delete(x: bigint): boolean {
    const ci = this.chunkOf(x);
    if (ci < 0) return false;
    const c = this.chunks[ci]!;
    const i = lastAtOrBelow(c.lo, x);
    if (i < 0 || c.hi[i]! < x) return false;
    this.points--;
    const lo = c.lo[i]!;
    const hi = c.hi[i]!;
    if (lo === hi) {
      this.removeAt(ci, i);
    } else if (x === lo) {
      c.lo[i] = x + 1n;
      if (i === 0) this.mins[ci] = x + 1n;
    } else if (x === hi) {
      c.hi[i] = x - 1n;
    } else {
      c.hi[i] = x - 1n;
      c.lo.splice(i + 1, 0, x + 1n);
      c.hi.splice(i + 1, 0, hi);
      this.runs++;
      if (c.lo.length > MAX_CHUNK) this.split(ci);
    }
    return true;
  }

  /** Members within [lo, hi]: a walk over the intervals that meet it. */
  countIn(lo: bigint, hi: bigint): bigint {
    let n = 0n;
    let ci = this.chunkOf(lo);
    if (ci < 0) ci = 0;
    for (; ci < this.chunks.length; ci++) {
      const c = this.chunks[ci]!;
      if (c.lo[0]! > hi) break;
      for (let i = Math.max(0, lastAtOrBelow(c.lo, lo)); i < c.lo.length && c.lo[i]! <= hi; i++) {
        const a = c.lo[i]! > lo ? c.lo[i]! : lo;
        const b = c.hi[i]! < hi ? c.hi[i]! : hi;
        if (a <= b) n += b - a + 1n;
      }
    }
    return n;
  }

  /** Every interval, in order (tests, diagnostics). */
  *intervals(): Generator<readonly [bigint, bigint]> {
    for (const c of this.chunks) for (let i = 0; i < c.lo.length; i++) yield [c.lo[i]!, c.hi[i]!];
  }

  /** Index of the last chunk whose first member is <= x, or -1. */
  private chunkOf(x: bigint): number {
    return lastAtOrBelow(this.mins, x);
  }

  private removeAt(ci: number, i: number): void {
    const c = this.chunks[ci]!;
    c.lo.splice(i, 1);
    c.hi.splice(i, 1);
    this.runs--;
    if (c.lo.length === 0) {
      this.chunks.splice(ci, 1);
      this.mins.splice(ci, 1);
    } else if (i === 0) {
      this.mins[ci] = c.lo[0]!;
    }
  }

  private split(ci: number): void {
    const c = this.chunks[ci]!;
    const half = c.lo.length >>> 1;
    const right = new Chunk(c.lo.splice(half), c.hi.splice(half));
    this.chunks.splice(ci + 1, 0, right);
    this.mins.splice(ci + 1, 0, right.lo[0]!);
  }
}

/** Index of the last element <= x in an ascending array, or -1. */
function lastAtOrBelow(a: readonly bigint[], x: bigint): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid - 1;
  }
  return hi;
}
