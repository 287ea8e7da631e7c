// Spiderpool's pkg/ip checks the webhooks rely on (IsCIDR, IsFormatCIDR, NewCIDR's range parsing, ContainsIP), over
// the engine's strict parsers; each answers the upstream error text or undefined.
import type { IpVersion } from '../../../events/catalogue.js';
import { parseAddress, parseCidr, type Cidr } from '../../net/address.js';
import { isInputError } from '../../net/errors.js';
import { IntervalSet, type Interval } from '../../net/ranges.js';

export const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;
export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
export const stringsOf = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);

/** A CIDR of any family, or undefined (IsIPv4CIDR / IsIPv6CIDR: Go's net.ParseCIDR accepts host bits). */
export function cidrOf(v: unknown): Cidr | undefined {
  if (typeof v !== 'string') return undefined;
  try {
    return parseCidr(v, 'spec.subnet');
  } catch {
    return undefined;
  }
}

/** ipVersion from spec.subnet, as the mutating webhooks infer it. */
export function versionOfCidr(v: unknown): IpVersion | undefined {
  return cidrOf(v)?.family;
}

/** ipVersion from an address or range (SpiderReservedIP: spec.ips[0]). */
export function versionOfRange(v: unknown): IpVersion | undefined {
  if (typeof v !== 'string') return undefined;
  const first = v.split('-')[0]!;
  try {
    return parseAddress(first, 'spec.ips').family;
  } catch {
    return undefined;
  }
}

/** IsCIDR(version, s) then IsFormatCIDR(s): the error text, or undefined when `s` is a canonical CIDR of `version`. */
export function cidrError(version: IpVersion, s: unknown): string | undefined {
  if (typeof s !== 'string') return `invalid CIDR address: ${String(s ?? '')}`;
  let c: Cidr;
  try {
    c = parseCidr(s, 'spec.subnet');
  } catch (e) {
    return isInputError(e) ? e.reason : String(e);
  }
  if (c.family !== version) return `invalid IPv${version} CIDR: ${s}`;
  if (c.text !== s) return `unformatted subnet ${s}, please change it to ${c.text}`;
  return undefined;
}

/** One entry of spec.ips / excludeIPs ("a" or "a-b") inside `base`, as NewCIDR parses it; a string is the error. */
export function rangeIn(base: Cidr, entry: string): Interval | string {
  const parts = entry.split('-');
  if (parts.length > 2 || (parts.length === 1 && entry.includes('/'))) return `invalid range: ${entry}`;
  const ends: bigint[] = [];
  for (const p of parts) {
    let value: bigint;
    try {
      value = parseAddress(p, 'ip').value;
      if (parseAddress(p, 'ip').family !== base.family) return `not match base subnet: ${p}`;
    } catch {
      return `invalid IP address: ${p}`;
    }
    if (value < base.first || value > base.last) return `not match base subnet: ${p}`;
    ends.push(value);
  }
  const lo = ends[0]!;
  const hi = ends[1] ?? lo;
  if (lo > hi) return `invalid range: ${entry}`;
  return [lo, hi];
}

/** An address or range of `version` (IsIPRange), parsed; a string is the error. */
export function rangeOf(version: IpVersion, entry: string): Interval | string {
  const parts = entry.split('-');
  if (parts.length > 2) return `invalid IP range: ${entry}`;
  const ends: bigint[] = [];
  for (const p of parts) {
    try {
      const a = parseAddress(p, 'ip');
      if (a.family !== version) return `invalid IPv${version} IP range: ${entry}`;
      ends.push(a.value);
    } catch {
      return `invalid IPv${version} IP range: ${entry}`;
    }
  }
  const lo = ends[0]!;
  const hi = ends[1] ?? lo;
  if (lo > hi) return `invalid IPv${version} IP range: ${entry}`;
  return [lo, hi];
}

/** The addresses an ips list names (entries that do not parse are left out: the checks above refuse them). */
export function setOf(version: IpVersion, list: readonly string[]): IntervalSet {
  const out: Interval[] = [];
  for (const e of list) {
    const r = rangeOf(version, e);
    if (typeof r !== 'string') out.push(r);
  }
  return IntervalSet.fromIntervals(out);
}

/** AssembleTotalIPs: ips minus excludeIPs. */
export function totalOf(version: IpVersion, ips: readonly string[], excludeIPs: readonly string[]): IntervalSet {
  return setOf(version, ips).subtract(setOf(version, excludeIPs));
}

/** Whether an address (as text) is inside a range entry. */
export function entryContains(version: IpVersion, entry: string, address: string): boolean {
  const r = rangeOf(version, entry);
  if (typeof r === 'string') return false;
  try {
    const v = parseAddress(address, 'ip', version).value;
    return v >= r[0] && v <= r[1];
  } catch {
    return false;
  }
}

/** ContainsIP(version, subnet, ip): undefined when inside, else the webhook's detail. */
export function containsIPError(version: IpVersion, subnet: string, ip: unknown, what = 'IPPool'): string | undefined {
  const base = cidrOf(subnet);
  if (base === undefined) return `invalid CIDR address: ${subnet}`;
  if (typeof ip !== 'string') return `invalid IP address: ${String(ip)}`;
  let v: bigint;
  try {
    const a = parseAddress(ip, 'ip');
    if (a.family !== version) return `invalid IPv${version} IP address: ${ip}`;
    v = a.value;
  } catch {
    return `invalid IPv${version} IP address: ${ip}`;
  }
  return v >= base.first && v <= base.last ? undefined : `not pertains to the 'spec.subnet' ${subnet} of ${what}`;
}

/** Go's %v of a []string: "[a b c]". */
export const goList = (xs: readonly string[]): string => `[${xs.join(' ')}]`;
