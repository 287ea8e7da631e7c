import { formatAddress, parseAddress, parseCidr, type Family } from './address.js';
import { InputError } from './errors.js';

/** Closed interval [lo, hi]. */
export type Interval = readonly [bigint, bigint];

/** Immutable set of bigints kept as sorted, merged (non-overlapping, non-adjacent) closed intervals. */
export class IntervalSet {
  static readonly empty = new IntervalSet([]);

  private constructor(readonly intervals: readonly Interval[]) {}

  static fromIntervals(input: Iterable<Interval>): IntervalSet {
    const sorted = [...input];
    for (const [lo, hi] of sorted) {
      if (lo > hi) throw new RangeError(`interval [${lo}, ${hi}] has lo > hi`);
    }
    sorted.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    return new IntervalSet(mergeSorted(sorted));
  }

  get isEmpty(): boolean {
    return this.intervals.length === 0;
  }

  size(): bigint {
    let n = 0n;
    for (const [lo, hi] of this.intervals) n += hi - lo + 1n;
    return n;
  }

  contains(v: bigint): boolean {
    const iv = this.intervals;
    let lo = 0;
    let hi = iv.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const [a, b] = iv[mid]!;
      if (v < a) hi = mid - 1;
      else if (v > b) lo = mid + 1;
      else return true;
    }
    return false;
  }

  union(o: IntervalSet): IntervalSet {
    if (o.isEmpty) return this;
    if (this.isEmpty) return o;
    // Merge step of merge sort, then coalesce.
    const a = this.intervals;
    const b = o.intervals;
    const all: Interval[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i]![0] <= b[j]![0])) all.push(a[i++]!);
      else all.push(b[j++]!);
    }
    return new IntervalSet(mergeSorted(all));
  }

  intersect(o: IntervalSet): IntervalSet {
    const a = this.intervals;
    const b = o.intervals;
    const out: Interval[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const [alo, ahi] = a[i]!;
      const [blo, bhi] = b[j]!;
      const lo = alo > blo ? alo : blo;
      const hi = ahi < bhi ? ahi : bhi;
      if (lo <= hi) out.push([lo, hi]);
      if (ahi < bhi) i++;
      else j++;
    }
    return new IntervalSet(out);
  }

  subtract(o: IntervalSet): IntervalSet {
    if (this.isEmpty || o.isEmpty) return this;
    const b = o.intervals;
    const out: Interval[] = [];
    let j = 0;
    for (const [alo, ahi] of this.intervals) {
      let lo = alo;
      while (j < b.length && b[j]![1] < lo) j++; // skip holes entirely below
      let k = j;
      while (k < b.length && b[k]![0] <= ahi) {
        const [blo, bhi] = b[k]!;
        if (blo > lo) out.push([lo, blo - 1n]);
        if (bhi >= ahi) {
          lo = ahi + 1n;
          break;
        }
        lo = bhi + 1n;
        k++;
      }
      if (lo <= ahi) out.push([lo, ahi]);
      j = k;
    }
    return new IntervalSet(out);
  }

  overlaps(o: IntervalSet): boolean {
    const a = this.intervals;
    const b = o.intervals;
    let i = 0;
    let j = 0;
    while (i < a.length && j < b.length) {
      const [alo, ahi] = a[i]!;
      const [blo, bhi] = b[j]!;
      if (alo <= bhi && blo <= ahi) return true;
      if (ahi < bhi) i++;
      else j++;
    }
    return false;
  }

  isSubsetOf(o: IntervalSet): boolean {
    return this.subtract(o).isEmpty;
  }

  equals(o: IntervalSet): boolean {
    const a = this.intervals;
    const b = o.intervals;
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (a[i]![0] !== b[i]![0] || a[i]![1] !== b[i]![1]) return false;
    }
    return true;
  }

  *values(): Generator<bigint> {
    for (const [lo, hi] of this.intervals) {
      for (let v = lo; v <= hi; v++) yield v;
    }
  }

  /** Spiderpool-style entries: "10.6.0.10" for a single address, "10.6.0.10-10.6.0.200" for a range. */
  toStrings(family: Family): string[] {
    return this.intervals.map(([lo, hi]) =>
      lo === hi ? formatAddress(family, lo) : `${formatAddress(family, lo)}-${formatAddress(family, hi)}`,
    );
  }
}

/** Coalesces intervals already sorted by start; adjacent intervals ([1,2],[3,4]) merge too. */
function mergeSorted(sorted: readonly Interval[]): Interval[] {
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

function parseRange(entry: string, family: Family, field: string): Interval {
  const parts = entry.split('-');
  if (parts.length === 1) {
    const { value } = parseAddress(entry, field, family);
    return [value, value];
  }
  if (parts.length !== 2) {
    throw new InputError(field, `${JSON.stringify(entry)} is neither an address nor a range "start-end"`);
  }
  const [startText, endText] = parts as [string, string];
  const start = parseAddress(startText, field, family).value;
  const end = parseAddress(endText, field, family).value;
  if (start > end) throw new InputError(field, `range start ${startText} is after end ${endText}`);
  return [start, end];
}

/** Spiderpool `spec.ips` / `excludeIPs` syntax: each entry is an address or a range "a-b", all of `family`. */
export function parseIpList(list: readonly string[], family: Family, field: string): IntervalSet {
  return IntervalSet.fromIntervals(list.map((entry, i) => parseRange(entry, family, `${field}[${i}]`)));
}

/** Like parseIpList, but entries may also be CIDRs ("10.0.0.0/30"), as in Whereabouts `exclude`. */
export function parseIpOrCidrList(list: readonly string[], family: Family, field: string): IntervalSet {
  return IntervalSet.fromIntervals(
    list.map((entry, i): Interval => {
      const f = `${field}[${i}]`;
      if (!entry.includes('/')) return parseRange(entry, family, f);
      const c = parseCidr(entry, f, family);
      return [c.first, c.last];
    }),
  );
}
