// Untrusted SpiderSubnet / SpiderIPPool specs in, checked and normalised address sets out.
import { PoolOrder, type IpVersion, type LabelSelector, type PoolSpec, type Route, type SubnetSpec } from '../../events/catalogue.js';
import { broadcastAddress, formatAddress, parseAddress, parseCidr, type Cidr } from '../net/address.js';
import { InputError } from '../net/errors.js';
import { MAX_POOL_ADDRESSES } from '../net/offset-map.js';
import { IntervalSet, parseIpList } from '../net/ranges.js';
import { parseLabelSelector, type UnknownFieldsHandler } from './selector.js';
import type { CompiledPool, CompiledSubnet } from './types.js';

export interface CompileOptions {
  /** Reject unknown fields instead of ignoring them with a warning. */
  readonly strict?: boolean;
}

const SUBNET_FIELDS = ['ipVersion', 'subnet', 'ips', 'excludeIPs', 'gateway', 'vlan', 'routes'];
const POOL_FIELDS = [
  ...SUBNET_FIELDS,
  'default', 'disable', 'namespaceAffinity', 'namespaceName', 'nodeAffinity', 'nodeName', 'podAffinity', 'multusName', 'scope',
  'order', 'sharedAddresses',
];
const ROUTE_FIELDS = ['dst', 'gw'];
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const DEFAULT_SCOPE = 'default';

/** A resource name: a DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters). */
export function validateName(name: unknown, field = 'metadata.name'): string {
  if (typeof name !== 'string') throw new InputError(field, `must be a string, got ${describe(name)}`);
  if (name === '') throw new InputError(field, 'must not be empty');
  if (name.length > 253) throw new InputError(field, `is ${name.length} characters long; at most 253 are allowed`);
  if (!name.split('.').every((label) => DNS_LABEL.test(label))) {
    const hint = /[A-Z]/.test(name) ? ' (it has uppercase letters)' : '';
    throw new InputError(
      field,
      `${JSON.stringify(name)} is not a valid name${hint}: use lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit`,
    );
  }
  return name;
}

export function compileSubnet(
  name: string,
  spec: unknown,
  opts: CompileOptions = {},
): { subnet: CompiledSubnet; warnings: string[] } {
  validateName(name);
  const { warnings, onUnknown } = unknownFields(opts);
  const s = record(spec, 'spec', 'a SpiderSubnet spec object');
  checkFields(s, SUBNET_FIELDS, 'spec', onUnknown);
  const c = parseCommon(s, onUnknown);
  const subnet: CompiledSubnet = {
    name,
    spec: c.spec,
    ipVersion: c.family,
    subnet: c.cidr.text,
    prefixLength: c.cidr.prefix,
    owned: c.ips.subtract(c.exclude),
  };
  return { subnet, warnings };
}

export function compilePool(name: string, spec: unknown, opts: CompileOptions = {}): { pool: CompiledPool; warnings: string[] } {
  validateName(name);
  const { warnings, onUnknown } = unknownFields(opts);
  const s = record(spec, 'spec', 'a SpiderIPPool spec object');
  checkFields(s, POOL_FIELDS, 'spec', onUnknown);
  const c = parseCommon(s, onUnknown);
  const owned = c.ips.subtract(c.exclude);
  const total = owned.size();
  if (total > BigInt(MAX_POOL_ADDRESSES)) {
    throw new InputError(
      'spec.ips',
      `the pool would own ${total} addresses; at most ${MAX_POOL_ADDRESSES} are allowed in one pool (split it, or narrow it with excludeIPs)`,
    );
  }
  const usable = owned.subtract(IntervalSet.fromIntervals(reservedAddresses(c.cidr, c.gateway).map((v) => [v, v] as const)));
  if (usable.isEmpty) {
    warnings.push('spec.ips: the pool has no usable address (all are excluded, or are the network, broadcast or gateway address)');
  }
  const normalised: PoolSpec = { ...c.spec, ...parsePoolExtras(s, onUnknown) };
  const pool: CompiledPool = {
    name,
    spec: normalised,
    ipVersion: c.family,
    scope: normalised.scope ?? DEFAULT_SCOPE,
    order: normalised.order ?? PoolOrder.Scattered,
    subnet: c.cidr.text,
    prefixLength: c.cidr.prefix,
    owned,
    usable,
    ...(c.spec.gateway !== undefined ? { gateway: c.spec.gateway } : {}),
  };
  return { pool, warnings };
}

/** Network address (unless the subnet has at most 2 addresses: RFC 3021 / RFC 6164), IPv4 broadcast, gateway. */
function reservedAddresses(cidr: Cidr, gateway: bigint | undefined): bigint[] {
  const out: bigint[] = [];
  if (cidr.size > 2n) out.push(cidr.network);
  const bcast = broadcastAddress(cidr);
  if (bcast !== undefined) out.push(bcast);
  if (gateway !== undefined) out.push(gateway);
  return out;
}

/** Same scope and family, and the owned sets share an address. */
export function poolsOverlap(a: CompiledPool, b: CompiledPool): boolean {
  return a.scope === b.scope && a.ipVersion === b.ipVersion && a.owned.overlaps(b.owned);
}

/** Overlapping pools that may coexist: both share their addresses (Whereabouts' overlapping ranges). */
export function poolsShareAddresses(a: CompiledPool, b: CompiledPool): boolean {
  return a.spec.sharedAddresses === true && b.spec.sharedAddresses === true;
}

/** The shared addresses, Spiderpool-style, for error messages: "10.6.0.10-10.6.0.20, 10.6.0.30 and 2 more". */
export function describeOverlap(a: CompiledPool, b: CompiledPool, max = 3): string {
  if (!poolsOverlap(a, b)) return '';
  return summarise(a.owned.intersect(b.owned), a.ipVersion, max);
}

/** Undefined when the pool lies inside the subnet's owned addresses (same family and CIDR); otherwise why not. */
export function poolFitsSubnet(pool: CompiledPool, subnet: CompiledSubnet): string | undefined {
  if (pool.ipVersion !== subnet.ipVersion) {
    return `pool ${pool.name} is IPv${pool.ipVersion} but subnet ${subnet.name} is IPv${subnet.ipVersion}`;
  }
  if (pool.subnet !== subnet.subnet) {
    return `pool ${pool.name} has subnet ${pool.subnet} but subnet ${subnet.name} is ${subnet.subnet}`;
  }
  const outside = pool.owned.subtract(subnet.owned);
  if (outside.isEmpty) return undefined;
  return `pool ${pool.name} has addresses that subnet ${subnet.name} does not own: ${summarise(outside, pool.ipVersion, 3)}`;
}

function summarise(set: IntervalSet, family: IpVersion, max: number): string {
  const parts = set.toStrings(family);
  const shown = parts.slice(0, max).join(', ');
  return parts.length > max ? `${shown} and ${parts.length - max} more` : shown;
}

interface Common {
  readonly family: IpVersion;
  readonly cidr: Cidr;
  readonly ips: IntervalSet;
  readonly exclude: IntervalSet;
  readonly gateway: bigint | undefined;
  readonly spec: SubnetSpec;
}

/** The fields SpiderSubnet and SpiderIPPool share. */
function parseCommon(s: Record<string, unknown>, onUnknown: UnknownFieldsHandler): Common {
  const family = parseIpVersion(s.ipVersion);
  const cidr = parseSubnet(s.subnet, family);
  const ips = addressList(s.ips, 'spec.ips', family, cidr);
  if (ips.isEmpty) throw new InputError('spec.ips', 'must list at least one address or range (e.g. "10.6.0.10-10.6.0.200")');
  const exclude = isAbsent(s.excludeIPs) ? IntervalSet.empty : addressList(s.excludeIPs, 'spec.excludeIPs', family, cidr);
  const gateway = isAbsent(s.gateway) ? undefined : parseGateway(s.gateway, family, cidr);
  const vlan = isAbsent(s.vlan) ? undefined : parseVlan(s.vlan);
  const routes = isAbsent(s.routes) ? [] : parseRoutes(s.routes, family, cidr, onUnknown);
  const spec: SubnetSpec = {
    ipVersion: family,
    subnet: cidr.text,
    ips: ips.toStrings(family),
    ...(exclude.isEmpty ? {} : { excludeIPs: exclude.toStrings(family) }),
    ...(gateway !== undefined ? { gateway: formatAddress(family, gateway) } : {}),
    ...(vlan !== undefined ? { vlan } : {}),
    ...(routes.length > 0 ? { routes } : {}),
  };
  return { family, cidr, ips, exclude, gateway, spec };
}

function parseIpVersion(v: unknown): IpVersion {
  if (isAbsent(v)) throw new InputError('spec.ipVersion', 'is required: 4 or 6');
  if (v !== 4 && v !== 6) throw new InputError('spec.ipVersion', `must be the number 4 or 6, got ${describe(v)}`);
  return v;
}

function parseSubnet(v: unknown, family: IpVersion): Cidr {
  const text = requiredString(v, 'spec.subnet', `an IPv${family} CIDR such as ${family === 4 ? '10.6.0.0/16' : 'fd00:6::/64'}`);
  const cidr = parseCidr(text, 'spec.subnet', family);
  if (cidr.hostBitsSet) throw new InputError('spec.subnet', `${text} has host bits set; did you mean ${cidr.text}?`);
  return cidr;
}

/** Spiderpool ips / excludeIPs: addresses and ranges "a-b", all inside the subnet. */
function addressList(v: unknown, field: string, family: IpVersion, cidr: Cidr): IntervalSet {
  const list = stringList(v, field);
  const set = parseIpList(list, family, field);
  const outside = set.subtract(IntervalSet.fromIntervals([[cidr.first, cidr.last]]));
  const first = outside.intervals[0]?.[0];
  if (first === undefined) return set;
  // Syntax is already checked, so re-parsing single entries cannot throw; it finds the entry to blame.
  const i = list.findIndex((entry) => parseIpList([entry], family, field).contains(first));
  const entry = list[i]!;
  const which = entry.includes('-') ? ` (${formatAddress(family, first)} is not)` : '';
  throw new InputError(`${field}[${i}]`, `${entry} is not inside spec.subnet ${cidr.text}${which}`);
}

function parseGateway(v: unknown, family: IpVersion, cidr: Cidr): bigint {
  const text = requiredString(v, 'spec.gateway', `an IPv${family} address`);
  const { value } = parseAddress(text, 'spec.gateway', family);
  if (value < cidr.first || value > cidr.last) throw new InputError('spec.gateway', `${text} is not inside spec.subnet ${cidr.text}`);
  return value;
}

function parseVlan(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 4094) {
    throw new InputError('spec.vlan', `must be an integer from 0 to 4094 (0: untagged), got ${describe(v)}`);
  }
  return v;
}

/** Spiderpool's rules: no default route (spec.gateway makes it), no duplicate dst, gw on-link (inside the subnet). */
function parseRoutes(v: unknown, family: IpVersion, cidr: Cidr, onUnknown: UnknownFieldsHandler): Route[] {
  if (!Array.isArray(v)) throw new InputError('spec.routes', `must be an array of {dst, gw}, got ${describe(v)}`);
  const seen = new Map<string, number>();
  return v.map((r, i): Route => {
    const f = `spec.routes[${i}]`;
    const o = record(r, f, 'a route {dst, gw}');
    checkFields(o, ROUTE_FIELDS, f, onUnknown);
    const dstText = requiredString(o.dst, `${f}.dst`, `an IPv${family} CIDR`);
    const dst = parseCidr(dstText, `${f}.dst`, family);
    if (dst.hostBitsSet) throw new InputError(`${f}.dst`, `${dstText} has host bits set; did you mean ${dst.text}?`);
    if (dst.prefix === 0) throw new InputError(`${f}.dst`, `${dstText} is the default route; set spec.gateway instead`);
    const before = seen.get(dst.text);
    if (before !== undefined) throw new InputError(`${f}.dst`, `${dst.text} is already routed by spec.routes[${before}]`);
    seen.set(dst.text, i);
    const gwText = requiredString(o.gw, `${f}.gw`, `an IPv${family} address inside spec.subnet ${cidr.text}`);
    const gw = parseAddress(gwText, `${f}.gw`, family).value;
    if (gw < cidr.first || gw > cidr.last) {
      throw new InputError(`${f}.gw`, `${gwText} is not inside spec.subnet ${cidr.text}, so it is not reachable as a next hop`);
    }
    return { dst: dst.text, gw: formatAddress(family, gw) };
  });
}

type PoolExtras = Omit<PoolSpec, keyof SubnetSpec>;

function parsePoolExtras(s: Record<string, unknown>, onUnknown: UnknownFieldsHandler): PoolExtras {
  const out: { -readonly [K in keyof PoolExtras]: PoolExtras[K] } = {};
  for (const k of ['default', 'disable', 'sharedAddresses'] as const) {
    const v = s[k];
    if (isAbsent(v)) continue;
    if (typeof v !== 'boolean') throw new InputError(`spec.${k}`, `must be true or false, got ${describe(v)}`);
    out[k] = v;
  }
  for (const k of ['namespaceAffinity', 'nodeAffinity', 'podAffinity'] as const) {
    if (isAbsent(s[k])) continue;
    const sel: LabelSelector = parseLabelSelector(s[k], `spec.${k}`, onUnknown);
    if (sel.matchLabels !== undefined || sel.matchExpressions !== undefined) out[k] = sel; // {} matches all: same as absent
  }
  for (const k of ['namespaceName', 'nodeName', 'multusName'] as const) {
    if (isAbsent(s[k])) continue;
    const names = stringList(s[k], `spec.${k}`);
    names.forEach((n, i) => {
      if (n === '') throw new InputError(`spec.${k}[${i}]`, 'must not be empty');
    });
    if (names.length > 0) out[k] = names;
  }
  if (!isAbsent(s.scope)) {
    const scope = requiredString(s.scope, 'spec.scope', 'an address scope name');
    if (scope === '') throw new InputError('spec.scope', `must not be empty (omit it for scope "${DEFAULT_SCOPE}")`);
    if (scope.includes('/')) throw new InputError('spec.scope', `${JSON.stringify(scope)} must not contain "/"`);
    out.scope = scope;
  }
  if (!isAbsent(s.order)) {
    if (s.order !== PoolOrder.Scattered && s.order !== PoolOrder.Lowest) {
      throw new InputError('spec.order', `must be "scattered" or "lowest", got ${describe(s.order)}`);
    }
    out.order = s.order;
  }
  return out;
}

function unknownFields(opts: CompileOptions): { warnings: string[]; onUnknown: UnknownFieldsHandler } {
  const warnings: string[] = [];
  const onUnknown: UnknownFieldsHandler = (field, unknown, known) => {
    if (opts.strict === true) {
      const names = unknown.map((k) => JSON.stringify(k)).join(', ');
      throw new InputError(child(field, unknown[0]!), `unknown field${unknown.length > 1 ? 's' : ''} ${names}; ${field} accepts ${known.join(', ')}`);
    }
    for (const k of unknown) warnings.push(`${child(field, k)}: unknown field, ignored`);
  };
  return { warnings, onUnknown };
}

function checkFields(o: Record<string, unknown>, known: readonly string[], field: string, onUnknown: UnknownFieldsHandler): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) onUnknown(field, unknown, known);
}

function child(field: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${field}.${key}` : `${field}[${JSON.stringify(key)}]`;
}

// Kubernetes treats an explicit null like an absent optional field.
const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;

function record(v: unknown, field: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(field, `must be ${what}, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

function requiredString(v: unknown, field: string, what: string): string {
  if (isAbsent(v)) throw new InputError(field, `is required: ${what}`);
  if (typeof v !== 'string') throw new InputError(field, `must be a string (${what}), got ${describe(v)}`);
  return v;
}

function stringList(v: unknown, field: string): string[] {
  if (isAbsent(v)) throw new InputError(field, 'is required: a list of strings');
  if (!Array.isArray(v)) throw new InputError(field, `must be a list of strings, got ${describe(v)}`);
  return v.map((x, i) => {
    if (typeof x !== 'string') throw new InputError(`${field}[${i}]`, `must be a string, got ${describe(x)}`);
    return x;
  });
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
