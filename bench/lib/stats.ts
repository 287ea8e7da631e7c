// Small statistics helpers for benchmark figures.
export function median(xs: readonly number[]): number {
  return quantile(xs, 0.5);
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  return quantileOfSorted(Float64Array.from(xs).sort(), q);
}

/** `q` of samples already sorted ascending. */
function quantileOfSorted(s: ArrayLike<number>, q: number): number {
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}

export function round(x: number, digits = 0): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Latency recorder in milliseconds. */
export class Latencies {
  private readonly xs: number[] = [];
  add(ms: number): void {
    this.xs.push(ms);
  }
  get count(): number {
    return this.xs.length;
  }
  /** The raw samples (for merging across processes). */
  values(): readonly number[] {
    return this.xs;
  }
  static merge(parts: readonly (readonly number[])[]): Latencies {
    const l = new Latencies();
    for (const p of parts) for (const x of p) l.add(x);
    return l;
  }
  /** Sorted once (a typed array, no comparator): bench alloc times the allocating process's CPU around the load, summary included. */
  summary() {
    const s = Float64Array.from(this.xs).sort();
    return {
      p50: round(quantileOfSorted(s, 0.5), 2),
      p90: round(quantileOfSorted(s, 0.9), 2),
      p99: round(quantileOfSorted(s, 0.99), 2),
      max: round(s.length > 0 ? s[s.length - 1]! : -Infinity, 2),
    };
  }
}
