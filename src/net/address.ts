import { Address6 } from 'ip-address';
import { InputError } from './errors.js';

export type Family = 4 | 6;

export interface Cidr {
  family: Family;
  network: bigint;
  prefix: number;
  first: bigint;
  last: bigint;
  size: bigint;
  /** Canonical "network/prefix". */
  text: string;
  /** The input had bits set past the prefix (e.g. "10.0.0.5/24"); `network` is normalized anyway, as Go's net.ParseCIDR does. */
  hostBitsSet: boolean;
}

const MAX_V4 = 0xffff_ffffn;
const MAX_V6 = (1n << 128n) - 1n;
const V6_CHARS = /^[0-9A-Fa-f:.]+$/;

const q = (s: string): string => JSON.stringify(s);

/** Strict dotted quad: exactly 4 decimal octets, 0-255, no leading zeros, nothing else. Returns -1 if invalid. */
export function parseV4(s: string): number {
  const len = s.length;
  if (len < 7 || len > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < len; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet;
      octet = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && octet === 0) return -1; // leading zero ("010" is octal to some parsers, decimal to others)
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + octet;
}

// Scratch for the hex-groups fast path (parsing is synchronous, so sharing is safe).
const parsed = new Uint16Array(8);
/** The text the fast path parsed last, and whether it was already RFC 5952 (see canonicalText). */
let lastText = '';
let lastCanonical = false;

/**
 * The common form, hex groups with at most one "::" (no embedded IPv4), parsed by hand: ip-address takes ~20 us an
 * address, and a /64 pool parses one per applied allocation. Undefined for anything else, which ip-address decides.
 */
function parseV6Groups(s: string): bigint | undefined {
  const len = s.length;
  if (len < 2 || len > 39) return undefined;
  let n = 0; // groups so far
  let gap = -1; // group index where "::" stands
  let clean = true; // lower case, no leading zeros
  let i = 0;
  lastText = '';
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return undefined;
    gap = 0;
    i = 2;
    if (i === len) {
      parsed.fill(0);
      lastText = s;
      lastCanonical = true;
      return 0n;
    }
  }
  for (;;) {
    let v = 0;
    let digits = 0;
    while (i < len) {
      const c = s.charCodeAt(i);
      const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : c === 58 ? -1 : -2;
      if (d === -2) return undefined; // "." (embedded IPv4) or junk: not this path
      if (d === -1) break;
      if (++digits > 4) return undefined;
      if (c >= 65 && c <= 70) clean = false;
      else if (digits === 2 && v === 0) clean = false; // a leading zero
      v = (v << 4) | d;
      i++;
    }
    if (digits === 0 || n === 8) return undefined;
    parsed[n++] = v;
    if (i === len) break;
    i++; // the ':'
    if (i < len && s.charCodeAt(i) === 58) {
      if (gap >= 0) return undefined; // a second "::"
      gap = n;
      i++;
      if (i === len) break;
    } else if (i === len) {
      return undefined; // a trailing single ':'
    }
  }
  if (gap < 0 ? n !== 8 : n > 7) return undefined;
  if (gap >= 0) {
    const move = n - gap;
    for (let k = 0; k < move; k++) parsed[7 - k] = parsed[n - 1 - k]!;
    for (let k = gap; k < 8 - move; k++) parsed[k] = 0;
  }
  lastText = s;
  lastCanonical = clean && isCompressedAsRfc5952(gap, 8 - n);
  const w = (k: number) => parsed[k]! * 0x10000 + parsed[k + 1]!;
  return (BigInt(w(0)) << 96n) | (BigInt(w(2)) << 64n) | (BigInt(w(4)) << 32n) | BigInt(w(6));
}

/**
 * The longest run of >= 2 zero groups, the first on ties (RFC 5952 4.2), packed as (start + 1) * 16 + length (start -1,
 * length 1 without one): a number, not a tuple, since every IPv6 format asks (no allocation on that path).
 */
function longestZeroRun(groups: ArrayLike<number>): number {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    if (groups[i] !== 0) {
      runStart = -1;
      continue;
    }
    if (runStart < 0) runStart = i;
    if (i - runStart + 1 > bestLen) {
      bestStart = runStart;
      bestLen = i - runStart + 1;
    }
  }
  return (bestStart + 1) * 16 + bestLen;
}

/** "::" stands for the longest run of >= 2 zero groups, the first on ties, or is absent without one (RFC 5952 4.2). */
function isCompressedAsRfc5952(gap: number, omitted: number): boolean {
  // IPv4-mapped addresses print in mixed notation (formatV6): not this text.
  if (parsed[0] === 0 && parsed[1] === 0 && parsed[2] === 0 && parsed[3] === 0 && parsed[4] === 0 && parsed[5] === 0xffff) return false;
  const run = longestZeroRun(parsed);
  const bestStart = (run >> 4) - 1;
  const bestLen = run & 15;
  return bestStart < 0 ? gap < 0 : gap === bestStart && omitted === bestLen;
}

/**
 * The RFC 5952 text of an address just parsed from `text`: `text` itself when it already is (IPv4 text that parses
 * is canonical: the parser refuses leading zeros), else formatted from `value`. Saves a format per applied event.
 */
export function canonicalText(family: Family, text: string, value: bigint): string {
  if (family === 4 || (text === lastText && lastCanonical)) return text;
  return formatAddress(family, value);
}

function parseV6(s: string): bigint | undefined {
  const fast = parseV6Groups(s);
  if (fast !== undefined) return fast;
  // ip-address tolerates zone ids, "/prefix" and more; only hand it the IPv6 alphabet.
  if (!V6_CHARS.test(s)) return undefined;
  try {
    return new Address6(s).bigInt();
  } catch {
    return undefined;
  }
}

function invalidReason(text: string): string {
  if (text === '') return 'address is empty';
  if (/\s/.test(text)) return `${q(text)} is not a valid IP address (it contains whitespace)`;
  if (text.includes('/')) return `${q(text)} is not a single IP address (it has a CIDR suffix)`;
  if (text.includes('%')) return `${q(text)} is not a valid IP address (zone ids are not allowed)`;
  if (/^\d+(\.\d+){3}$/.test(text) && /(^|\.)0\d/.test(text)) {
    return `${q(text)} is not a valid IP address (IPv4 octets must not have leading zeros)`;
  }
  return `${q(text)} is not a valid IP address`;
}

export function parseAddress(text: string, field: string, family?: Family): { family: Family; value: bigint } {
  let parsed: { family: Family; value: bigint } | undefined;
  if (text.includes(':')) {
    const v = parseV6(text);
    if (v !== undefined) parsed = { family: 6, value: v };
  } else {
    const v = parseV4(text);
    if (v >= 0) parsed = { family: 4, value: BigInt(v) };
  }
  if (parsed === undefined) throw new InputError(field, invalidReason(text));
  if (family !== undefined && parsed.family !== family) {
    throw new InputError(field, `${text} is IPv${parsed.family} but ipVersion is ${family}`);
  }
  return parsed;
}

function formatV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

// Scratch (formatting is synchronous, so sharing is safe); storing a 32-bit word keeps its low 16 bits.
const groups = new Uint16Array(8);

function formatV6(v: bigint): string {
  const w0 = Number(v >> 96n);
  const w1 = Number(BigInt.asUintN(32, v >> 64n));
  const w2 = Number(BigInt.asUintN(32, v >> 32n));
  const w3 = Number(BigInt.asUintN(32, v));
  // IPv4-mapped gets the mixed notation RFC 5952 section 5 recommends (and Go prints).
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${formatV4(w3)}`;
  groups[0] = w0 >>> 16;
  groups[1] = w0;
  groups[2] = w1 >>> 16;
  groups[3] = w1;
  groups[4] = w2 >>> 16;
  groups[5] = w2;
  groups[6] = w3 >>> 16;
  groups[7] = w3;
  const run = longestZeroRun(groups);
  const bestStart = (run >> 4) - 1;
  const bestLen = run & 15;
  // Joined, not `+=`: concatenation leaves a rope of small strings (~340 bytes an address, held by every record).
  parts.length = 0;
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      // An empty part makes the "::" (two at either end of the address).
      if (i === 0) parts.push('');
      parts.push('');
      i += bestLen - 1;
      if (i === 7) parts.push('');
      continue;
    }
    parts.push(groups[i]!.toString(16));
  }
  return parts.join(':');
}
const parts: string[] = [];

export function formatAddress(family: Family, value: bigint): string {
  if (value < 0n || value > (family === 4 ? MAX_V4 : MAX_V6)) {
    throw new RangeError(`value ${value} is out of range for IPv${family}`);
  }
  return family === 4 ? formatV4(Number(value)) : formatV6(value);
}

export function parseCidr(text: string, field: string, family?: Family): Cidr {
  const slash = text.indexOf('/');
  if (slash < 0) throw new InputError(field, `${q(text)} is not a CIDR (the "/prefix" part is missing)`);
  const prefixText = text.slice(slash + 1);
  const addr = parseAddress(text.slice(0, slash), field, family);
  if (!/^(0|[1-9]\d{0,2})$/.test(prefixText)) {
    throw new InputError(field, `${q(text)} is not a CIDR (prefix ${q(prefixText)} is not a decimal number)`);
  }
  const prefix = Number(prefixText);
  const bits = addr.family === 4 ? 32 : 128;
  if (prefix > bits) {
    throw new InputError(field, `${q(text)} is not a CIDR (prefix /${prefix} is out of range 0-${bits} for IPv${addr.family})`);
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  const network = addr.value & ~hostMask;
  return {
    family: addr.family,
    network,
    prefix,
    first: network,
    last: network | hostMask,
    size: hostMask + 1n,
    text: `${formatAddress(addr.family, network)}/${prefix}`,
    hostBitsSet: network !== addr.value,
  };
}

export function cidrContains(c: Cidr, v: bigint): boolean {
  return v >= c.first && v <= c.last;
}

export function networkAddress(c: Cidr): bigint {
  return c.network;
}

/** IPv4 only. Undefined for IPv6, and for /31 and /32, which have no broadcast address (RFC 3021). */
export function broadcastAddress(c: Cidr): bigint | undefined {
  return c.family === 4 && c.prefix <= 30 ? c.last : undefined;
}
