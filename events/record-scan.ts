// The fast path of the record decoder (record-codec.ts): a format-2 record's chunks read straight from its bytes,
// without JSON.parse building every int array and the whole value's string first. It takes only what the encoder
// writes (no whitespace, chunks of [strings, ints] without layout-0 events, ASCII strings without escapes,
// integers of at most 15 digits) and answers undefined for anything else: the caller then parses the record as
// JSON, so every other record, and every error, is exactly what JSON.parse makes of it.
// Strings are made from their bytes (a latin1 slice equals JSON.parse's string for escape-free ASCII), and a short
// one the scan met recently is taken from a small cache instead (StringCache): a record's members repeat a commit's
// time, namespaces, nics, pools, nodes, owners, so most of its strings exist already, and the projections keep one
// copy of each, as JSON.parse's internalizing of short strings gave them, without its string-table lookups.

/**
 * A record's chunks, 4 numbers each in `bounds`: where its strings are in `strings` and its ints in `ints` (from
 * inclusive, to exclusive). All three arrays are the scanner's own, reused, valid until the next scan (rebuild the
 * events first): a chunk's strings array and tuple made per chunk were ~600 bytes of garbage per pod.
 */
export interface ScannedRecord {
  readonly count: number;
  readonly bounds: Int32Array;
  readonly strings: readonly string[];
  readonly ints: Float64Array;
}

/** Ints, strings and bounds are scanned into reused arrays; one grown past this is dropped after its record. */
export const MAX_KEPT_INTS = 1 << 16;
let ints = new Float64Array(4096);
let strings: string[] = [];
let bounds = new Int32Array(256);

/** The strings of chunk `c` of a scanned record (tests, diagnostics: a copy). */
export function chunkStrings(r: ScannedRecord, c: number): string[] {
  return r.strings.slice(r.bounds[4 * c], r.bounds[4 * c + 1]);
}

/** The ints of chunk `c` of a scanned record (tests, diagnostics: a copy). */
export function chunkInts(r: ScannedRecord, c: number): number[] {
  return [...r.ints.subarray(r.bounds[4 * c + 2], r.bounds[4 * c + 3])];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x5b;
const CLOSE = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const HEAD = Buffer.from('{"f":2,"m":[');
// Buffer's own latin1 slice (Node's, undocumented but stable), without toString's encoding lookup and checks.
type Latin1Slicing = Buffer & { latin1Slice(start: number, end: number): string };

/** Slots of the recent-strings cache (a power of two): 8,192 strings of at most MAX_CACHED_LENGTH chars, ~0.5 MB. */
export const STRING_CACHE_SLOTS = 8192;
/** Longer strings (IPv6 tags, endpoint tags) are nearly always unique to one pod: not worth a slot. */
export const MAX_CACHED_LENGTH = 32;

/**
 * Recently scanned short strings, one per slot chosen by a hash of the bytes (a miss replaces the slot's string):
 * bounded by STRING_CACHE_SLOTS whatever the log holds. A hit is compared byte for byte, so it is never wrong.
 */
class StringCache {
  private readonly slots: (string | undefined)[] = new Array<string | undefined>(STRING_CACHE_SLOTS).fill(undefined);

  /** The string of buf[from, to) (ASCII), whose bytes hash to `h`. */
  get(buf: Latin1Slicing, from: number, to: number, h: number): string {
    const n = to - from;
    if (n > MAX_CACHED_LENGTH) return buf.latin1Slice(from, to);
    const slot = (h ^ (h >>> 13) ^ n) & (STRING_CACHE_SLOTS - 1);
    const s = this.slots[slot];
    if (s !== undefined && s.length === n) {
      let i = 0;
      while (i < n && s.charCodeAt(i) === buf[from + i]) i++;
      if (i === n) return s;
    }
    return (this.slots[slot] = buf.latin1Slice(from, to));
  }

  /** Strings held (tests: the bound). */
  get size(): number {
    let k = 0;
    for (const s of this.slots) if (s !== undefined) k++;
    return k;
  }
}

/** The decoder's cache (one per thread; strings are immutable, so sharing them across records is safe). */
export const recentStrings = new StringCache();

export function scanFormat2(buf: Buffer): ScannedRecord | undefined {
  if (ints.length > MAX_KEPT_INTS) ints = new Float64Array(4096);
  if (strings.length > MAX_KEPT_INTS) strings = [];
  if (bounds.length > MAX_KEPT_INTS) bounds = new Int32Array(256);
  const n = buf.length;
  if (n < HEAD.length + 2 || buf.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) return undefined;
  let p = HEAD.length;
  let k = 0;
  let sk = 0;
  let count = 0;
  if (buf[p] === CLOSE) p++;
  else {
    for (;;) {
      if (buf[p++] !== OPEN || buf[p] !== OPEN) return undefined;
      p++;
      const sFrom = sk;
      if (buf[p] === CLOSE) p++;
      else {
        for (;;) {
          if (buf[p++] !== QUOTE) return undefined;
          const from = p;
          let h = 0;
          let c = buf[p];
          while (c !== QUOTE) {
            // An escape, a control character, a non-ASCII byte or the end: JSON.parse decides.
            if (c === undefined || c === BACKSLASH || c < 0x20 || c >= 0x80) return undefined;
            h = (Math.imul(h, 31) + c) | 0;
            c = buf[++p];
          }
          const str = recentStrings.get(buf as Latin1Slicing, from, p, h);
          if (sk < strings.length) strings[sk] = str;
          else strings.push(str);
          sk++;
          p++;
          c = buf[p++];
          if (c === CLOSE) break;
          if (c !== COMMA) return undefined;
        }
      }
      if (buf[p++] !== COMMA || buf[p++] !== OPEN) return undefined;
      const from = k;
      if (buf[p] === CLOSE) p++;
      else {
        for (;;) {
          let c = buf[p];
          const neg = c === MINUS;
          if (neg) c = buf[++p];
          const first = p;
          let v = 0;
          while (c !== undefined && c >= ZERO && c <= NINE) {
            v = v * 10 + (c - ZERO);
            c = buf[++p];
          }
          const digits = p - first;
          if (digits === 0 || digits > 15 || (digits > 1 && buf[first] === ZERO)) return undefined;
          if (k === ints.length) {
            const grown = new Float64Array(ints.length * 2);
            grown.set(ints);
            ints = grown;
          }
          ints[k++] = neg ? -v : v;
          p++;
          if (c === CLOSE) break;
          if (c !== COMMA) return undefined;
        }
      }
      if (buf[p++] !== CLOSE) return undefined; // a third member (layout-0 events) goes through JSON.parse
      if (4 * count + 4 > bounds.length) {
        const grown = new Int32Array(bounds.length * 2);
        grown.set(bounds);
        bounds = grown;
      }
      bounds[4 * count] = sFrom;
      bounds[4 * count + 1] = sk;
      bounds[4 * count + 2] = from;
      bounds[4 * count + 3] = k;
      count++;
      const c = buf[p++];
      if (c === CLOSE) break;
      if (c !== COMMA) return undefined;
    }
  }
  return buf[p] === 0x7d /* } */ && p + 1 === n ? { count, bounds, strings, ints } : undefined;
}
