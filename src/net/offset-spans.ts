// Windows of offsets inside one pool (a Whereabouts range's range_start/range_end/exclude over its pool).
import type { Offset } from './free-space.js';

/** Sorted, disjoint [lo, hi] offset intervals of one pool. */
export type OffsetSpans = readonly (readonly [Offset, Offset])[];

export function inSpans(spans: OffsetSpans, o: Offset): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const [a, b] = spans[mid]!;
    if (o < a) hi = mid - 1;
    else if (o > b) lo = mid + 1;
    else return true;
  }
  return false;
}
