// Whereabouts IPAM configuration (the CNI "ipam" object) as SpiderIPPool specs, one per range.
import type { IpVersion, PoolSpec, Route } from '../../events/catalogue.js';
import { broadcastAddress, formatAddress, parseAddress, parseCidr, type Cidr } from '../net/address.js';
import { InputError } from '../net/errors.js';
import { IntervalSet, parseIpOrCidrList } from '../net/ranges.js';

interface RangeInput {
  readonly field: string;
  readonly o: Record<string, unknown>;
}

interface ParsedRoute {
  readonly field: string;
  readonly family: IpVersion;
  readonly dst: Cidr;
  readonly gw: bigint | undefined;
}

/** For a config with exactly one range (`range`, or `ipRanges` with one entry). */
export function poolSpecFromWhereabouts(cfg: unknown, field = 'ipam'): PoolSpec {
  const specs = poolSpecsFromWhereabouts(cfg, field);
  if (specs.length !== 1) throw new InputError(`${field}.ipRanges`, `configures ${specs.length} ranges; exactly one is expected here`);
  return specs[0]!;
}

/**
 * One PoolSpec per range, `range` first, then `ipRanges` (as Whereabouts orders them). The gateway and routes
 * go to the ranges whose subnet holds them; a default route becomes the gateway, as Spiderpool expresses it.
 */
export function poolSpecsFromWhereabouts(cfg: unknown, field = 'ipam'): PoolSpec[] {
  const c = record(cfg, field, 'a Whereabouts IPAM config object');
  if (!isAbsent(c.type) && c.type !== 'whereabouts') {
    throw new InputError(`${field}.type`, `must be "whereabouts", got ${JSON.stringify(c.type)}`);
  }
  const inputs: RangeInput[] = [];
  if (!isAbsent(c.range)) inputs.push({ field, o: c });
  if (!isAbsent(c.ipRanges)) {
    if (!Array.isArray(c.ipRanges)) throw new InputError(`${field}.ipRanges`, 'must be an array of {range, range_start, range_end, exclude}');
    c.ipRanges.forEach((r, i) => {
      const f = `${field}.ipRanges[${i}]`;
      inputs.push({ field: f, o: record(r, f, 'an object {range, range_start, range_end, exclude}') });
    });
  }
  if (inputs.length === 0) throw new InputError(`${field}.range`, 'is required (or ipRanges): a CIDR such as 192.168.2.0/24');

  const scope = optionalString(c.network_name, `${field}.network_name`);
  if (scope?.includes('/')) throw new InputError(`${field}.network_name`, `${JSON.stringify(scope)} must not contain "/"`);
  const gwText = optionalString(c.gateway, `${field}.gateway`);
  const gateway = gwText ? parseAddress(gwText, `${field}.gateway`) : undefined;
  const routes = parseRoutes(c.routes, `${field}.routes`);

  const ranges = inputs.map(parseRange);
  const gateways = ranges.map((r) => (gateway !== undefined && holds(r, gateway.family, gateway.value) ? gateway.value : undefined));
  if (gateway !== undefined && gateways.every((g) => g === undefined)) {
    throw new InputError(`${field}.gateway`, `${gwText} is not inside the subnet of any range`);
  }
  const attached = new Set<ParsedRoute>();
  const specs = ranges.map((r, k) => toPoolSpec(r, gateways[k], routes, attached, scope, field));
  for (const route of routes) {
    if (attached.has(route)) continue;
    if (route.gw === undefined) {
      throw new InputError(`${route.field}.gw`, `is required: ${field}.gateway gives no IPv${route.family} gateway to default to`);
    }
    throw new InputError(`${route.field}.gw`, `${formatAddress(route.family, route.gw)} is not inside the subnet of any IPv${route.family} range, so it is not reachable`);
  }
  return specs;
}

/** Largest IPPool offset Whereabouts reads back (int64): 2^63 - 1. */
export const WHEREABOUTS_MAX_OFFSET = (1n << 63n) - 1n;

const holds = (r: ParsedRange, family: IpVersion, v: bigint): boolean => r.family === family && v >= r.cidr.first && v <= r.cidr.last;

interface ParsedRange {
  readonly family: IpVersion;
  readonly cidr: Cidr;
  readonly ips: IntervalSet;
  readonly exclude: IntervalSet;
}

function parseRange({ field, o }: RangeInput): ParsedRange {
  const text = optionalString(o.range, `${field}.range`);
  if (!text) throw new InputError(`${field}.range`, 'is required: a CIDR such as 192.168.2.0/24');
  const dash = text.indexOf('-');
  // Whereabouts also takes "first-last/prefix", e.g. 192.168.2.225-192.168.2.230/28.
  const cidrText = dash < 0 ? text : text.slice(dash + 1);
  const cidr = parseCidr(cidrText, `${field}.range`);
  const family = cidr.family;
  const hostText = cidrText.slice(0, cidrText.indexOf('/'));
  const host = parseAddress(hostText, `${field}.range`, family).value;
  let start: bigint;
  let end: bigint;
  if (dash >= 0) {
    for (const k of ['range_start', 'range_end']) {
      if (!isAbsent(o[k])) throw new InputError(`${field}.${k}`, `conflicts with range ${text}, which already gives start and end`);
    }
    start = parseAddress(text.slice(0, dash), `${field}.range`, family).value;
    end = host;
    if (start < cidr.first || start > cidr.last) {
      throw new InputError(`${field}.range`, `start ${text.slice(0, dash)} is not inside ${cidr.text}`);
    }
  } else {
    start = boundary(o.range_start, `${field}.range_start`, cidr) ?? (cidr.hostBitsSet ? host : firstHost(cidr));
    end = boundary(o.range_end, `${field}.range_end`, cidr) ?? lastHost(cidr);
  }
  // Whereabouts writes an IPPool offset with %d of a uint64 and reads it back with strconv.ParseInt(.., 64): offsets
  // from 2^63 up are ignored on read, so only the first /65 of a wider range is addressable (its docs say so).
  const addressable = cidr.first + WHEREABOUTS_MAX_OFFSET;
  if (start > addressable) {
    throw new InputError(
      dash < 0 ? `${field}.range_start` : `${field}.range`,
      `${formatAddress(family, start)} is ${start - cidr.first} addresses into ${cidr.text}; Whereabouts addresses at most the first 2^63 (offsets are int64), up to ${formatAddress(family, addressable)}`,
    );
  }
  if (end > addressable) end = addressable;
  if (start > end) {
    throw new InputError(
      dash < 0 && isAbsent(o.range_end) ? `${field}.range_start` : `${field}.range_end`,
      `the range would start at ${formatAddress(family, start)}, after its end ${formatAddress(family, end)}`,
    );
  }
  const ips = IntervalSet.fromIntervals([[start, end]]);
  const exclude = isAbsent(o.exclude) ? IntervalSet.empty : parseIpOrCidrList(stringList(o.exclude, `${field}.exclude`), family, `${field}.exclude`);
  const owned = ips.subtract(exclude);
  if (owned.isEmpty) throw new InputError(`${field}.exclude`, `excludes every address of the range ${ips.toStrings(family).join('')}`);
  return { family, cidr, ips, exclude: exclude.intersect(ips) };
}

function boundary(v: unknown, field: string, cidr: Cidr): bigint | undefined {
  const text = optionalString(v, field);
  if (!text) return undefined;
  const { value } = parseAddress(text, field, cidr.family);
  if (value < cidr.first || value > cidr.last) throw new InputError(field, `${text} is not inside ${cidr.text}`);
  return value;
}

/** First address after the network address, unless the subnet has at most 2 addresses (/31, /32, /127, /128). */
function firstHost(c: Cidr): bigint {
  return c.size > 2n ? c.first + 1n : c.first;
}

/** The last address before the IPv4 broadcast address, or the last address. */
function lastHost(c: Cidr): bigint {
  return broadcastAddress(c) !== undefined ? c.last - 1n : c.last;
}

function parseRoutes(v: unknown, field: string): ParsedRoute[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw new InputError(field, 'must be an array of {dst, gw}');
  return v.map((r, i): ParsedRoute => {
    const f = `${field}[${i}]`;
    const o = record(r, f, 'a route {dst, gw}');
    const dstText = optionalString(o.dst, `${f}.dst`);
    if (!dstText) throw new InputError(`${f}.dst`, 'is required: a CIDR such as 10.0.0.0/8');
    const dst = parseCidr(dstText, `${f}.dst`); // host bits allowed, as CNI (Go's net.ParseCIDR) allows them
    const gwText = optionalString(o.gw, `${f}.gw`);
    const gw = gwText ? parseAddress(gwText, `${f}.gw`, dst.family).value : undefined;
    return { field: f, family: dst.family, dst, gw };
  });
}

/** Routes go to the ranges where their next hop (gw, else the range's gateway) is on-link. */
function toPoolSpec(
  r: ParsedRange,
  gateway: bigint | undefined,
  routes: readonly ParsedRoute[],
  attached: Set<ParsedRoute>,
  scope: string | undefined,
  field: string,
): PoolSpec {
  const fam = r.family;
  let gw = gateway;
  const out: Route[] = [];
  const seen = new Set<string>();
  for (const route of routes) {
    const next = route.gw ?? gateway;
    if (next === undefined || !holds(r, route.family, next)) continue;
    attached.add(route);
    if (route.dst.prefix === 0) {
      // Spiderpool expresses the default route as spec.gateway.
      if (gw !== undefined && gw !== next) {
        throw new InputError(`${route.field}.gw`, `default route via ${formatAddress(fam, next)} conflicts with ${field}.gateway ${formatAddress(fam, gw)}`);
      }
      gw = next;
      continue;
    }
    if (seen.has(route.dst.text)) throw new InputError(`${route.field}.dst`, `${route.dst.text} is routed twice`);
    seen.add(route.dst.text);
    out.push({ dst: route.dst.text, gw: formatAddress(fam, next) });
  }
  return {
    ipVersion: fam,
    subnet: r.cidr.text,
    ips: r.ips.toStrings(fam),
    ...(r.exclude.isEmpty ? {} : { excludeIPs: r.exclude.toStrings(fam) }),
    ...(gw !== undefined ? { gateway: formatAddress(fam, gw) } : {}),
    ...(out.length > 0 ? { routes: out } : {}),
    ...(scope !== undefined ? { scope } : {}),
  };
}

const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;

function record(v: unknown, field: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(field, `must be ${what}`);
  return v as Record<string, unknown>;
}

/** Whereabouts (Go) reads "" as unset. */
function optionalString(v: unknown, field: string): string | undefined {
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'string') throw new InputError(field, `must be a string, got ${JSON.stringify(v)}`);
  return v === '' ? undefined : v;
}

function stringList(v: unknown, field: string): string[] {
  if (!Array.isArray(v)) throw new InputError(field, 'must be a list of strings (CIDRs)');
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new InputError(`${field}[${i}]`, `must be a string, got ${JSON.stringify(x)}`);
    return x;
  });
}
