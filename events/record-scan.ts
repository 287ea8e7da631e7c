// The fast path of the record decoder (record-codec.ts): a format-2 record's chunks read straight from its bytes,
// without JSON.parse building every int array and the whole value's string first. It takes only what the encoder
// writes (no whitespace, chunks of [strings, ints] without layout-0 events, ASCII strings without escapes,
// integers of at most 15 digits) and answers undefined for anything else: the caller then parses the record as
// JSON, so every other record, and every error, is exactly what JSON.parse makes of it.

export type ScannedChunk = readonly [strings: string[], ints: number[]];

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

export function scanFormat2(buf: Buffer): ScannedChunk[] | undefined {
  const n = buf.length;
  if (n < HEAD.length + 2 || buf.compare(HEAD, 0, HEAD.length, 0, HEAD.length) !== 0) return undefined;
  let p = HEAD.length;
  const chunks: ScannedChunk[] = [];
  if (buf[p] === CLOSE) p++;
  else {
    for (;;) {
      if (buf[p++] !== OPEN || buf[p] !== OPEN) return undefined;
      const from = p++;
      if (buf[p] === CLOSE) p++;
      else {
        for (;;) {
          if (buf[p++] !== QUOTE) return undefined;
          let c = buf[p];
          while (c !== QUOTE) {
            // An escape, a control character, a non-ASCII byte or the end: JSON.parse decides.
            if (c === undefined || c === BACKSLASH || c < 0x20 || c >= 0x80) return undefined;
            c = buf[++p];
          }
          p++;
          c = buf[p++];
          if (c === CLOSE) break;
          if (c !== COMMA) return undefined;
        }
      }
      // The strings through JSON.parse all the same: V8 internalizes the short ones it makes, so equal names across
      // records ("eth0", a pool, a node) are one string in the projections that keep them (+14% heap held without).
      const strings = JSON.parse((buf as Latin1Slicing).latin1Slice(from, p)) as string[];
      if (buf[p++] !== COMMA || buf[p++] !== OPEN) return undefined;
      const ints: number[] = [];
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
          ints.push(neg ? -v : v);
          p++;
          if (c === CLOSE) break;
          if (c !== COMMA) return undefined;
        }
      }
      if (buf[p++] !== CLOSE) return undefined; // a third member (layout-0 events) goes through JSON.parse
      chunks.push([strings, ints]);
      const c = buf[p++];
      if (c === CLOSE) break;
      if (c !== COMMA) return undefined;
    }
  }
  return buf[p] === 0x7d /* } */ && p + 1 === n ? chunks : undefined;
}
