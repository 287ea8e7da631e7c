// The network configuration on stdin: its envelope (cniVersion, name, prevResult, GC's valid attachments) and the
// `ipam` object, which names pools per family or gives Whereabouts-style ranges. Every rejection names the field.
import { validateName } from '../alloc/spec.js';
import { parseWhereaboutsIpam, WHEREABOUTS_KEYS, type WhereaboutsIpam } from '../upstream/whereabouts/config.js';
import { whereaboutsPools, type WhereaboutsPool } from '../upstream/whereabouts/pools.js';
import { parseAddress, parseCidr } from '../net/address.js';
import { isInputError } from '../net/errors.js';
import { CniError, CniErrorCode, isSupportedVersion, SUPPORTED_VERSIONS } from './protocol.js';

export interface NetConf {
  readonly cniVersion: string;
  readonly name: string;
  /** The whole object, for the parts only some commands read. */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface CniRoute {
  readonly dst: string;
  readonly gw?: string;
  /** CNI 1.1 route attributes, printed as given. */
  readonly mtu?: number;
  readonly advmss?: number;
  readonly priority?: number;
  readonly table?: number;
  readonly scope?: number;
}

const ROUTE_INTS = ['mtu', 'advmss', 'priority', 'table', 'scope'] as const;

export interface CniDns {
  readonly nameservers?: readonly string[];
  readonly domain?: string;
  readonly search?: readonly string[];
  readonly options?: readonly string[];
}

interface IpamCommon {
  /** Routes to print as written (`ipam.routes`). */
  readonly routes: readonly CniRoute[];
  readonly dns?: CniDns;
}

/** Pools named per family (in order of preference); none named: the cluster's default pools. */
export interface PoolsIpam extends IpamCommon {
  readonly kind: 'pools';
  readonly pools?: { readonly ipv4?: readonly string[]; readonly ipv6?: readonly string[] };
}

/** A Whereabouts configuration: each range a pool (its IPPool) defined on first use, one address per range. */
export interface RangeIpam extends IpamCommon {
  readonly kind: 'range';
  readonly whereabouts: WhereaboutsIpam;
  readonly pools: readonly WhereaboutsPool[];
}

export type IpamConf = PoolsIpam | RangeIpam;

export interface Attachment {
  readonly containerID: string;
  readonly ifname: string;
}

/** Keys that make the ipam object a Whereabouts configuration (the others Whereabouts reads only go with these). */
const RANGE_KEYS = ['range', 'range_start', 'range_end', 'exclude', 'ipRanges', 'gateway', 'network_name', 'addresses'];
const OWN_KEYS = new Set(['type', 'pools', 'routes', 'dns']);

export const invalid = (field: string, reason: string) => new CniError(CniErrorCode.InvalidConfig, `invalid network configuration: ${field}`, `${field}: ${reason}`);

/** The JSON on stdin; `cniVersion` must be one we can answer in. */
export function parseNetConf(body: string): NetConf {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw new CniError(CniErrorCode.DecodingFailure, 'network configuration on stdin is not valid JSON', (e as Error).message);
  }
  if (!isRecord(v)) throw new CniError(CniErrorCode.DecodingFailure, 'network configuration on stdin must be a JSON object', `got ${describe(v)}`);
  const version = v.cniVersion;
  if (typeof version !== 'string' || version === '') throw invalid('cniVersion', 'is required: a version such as "1.0.0"');
  if (!isSupportedVersion(version)) {
    throw new CniError(CniErrorCode.IncompatibleVersion, `incompatible CNI version ${version}`, `cniVersion ${JSON.stringify(version)} is not supported; supported: ${SUPPORTED_VERSIONS.join(', ')}`);
  }
  const name = v.name;
  if (typeof name !== 'string' || name === '') throw invalid('name', 'is required: the network name');
  return { cniVersion: version, name, raw: v };
}

/** The `ipam` object: pools mode or range mode, routes and dns. */
export function parseIpam(raw: Readonly<Record<string, unknown>>): IpamConf {
  const ipam = raw.ipam;
  if (!isRecord(ipam)) throw invalid('ipam', `must be an object, got ${describe(ipam)}`);
  for (const [k, val] of Object.entries(ipam)) {
    if (!OWN_KEYS.has(k) && !WHEREABOUTS_KEYS.has(k)) {
      throw new CniError(CniErrorCode.UnsupportedField, `unsupported field ipam.${k}`, `ipam.${k} = ${JSON.stringify(val)} is not a setting of this plugin`);
    }
  }
  const routes = parseRoutes(ipam.routes);
  const dns = parseDns(ipam.dns);
  const common = { routes, ...(dns ? { dns } : {}) };
  const rangeKeys = RANGE_KEYS.filter((k) => !isAbsent(ipam[k]) && ipam[k] !== '');
  if (!isAbsent(ipam.pools)) {
    const clash = rangeKeys[0];
    if (clash !== undefined) {
      const hint = clash === 'gateway' ? 'the gateway comes from the pool (spec.gateway)' : 'use either pools or Whereabouts-style ranges';
      throw new CniError(CniErrorCode.UnsupportedField, `unsupported field ipam.${clash}`, `ipam.${clash} = ${JSON.stringify(ipam[clash])} cannot be used with ipam.pools: ${hint}`);
    }
    return { kind: 'pools', pools: parsePools(ipam.pools), ...common };
  }
  if (rangeKeys.length === 0) return { kind: 'pools', ...common };
  const whereabouts = inputField(() => parseWhereaboutsIpam(ipam, 'ipam'));
  return { kind: 'range', whereabouts, pools: inputField(() => whereaboutsPools(whereabouts)), ...common };
}

function parsePools(v: unknown): PoolsIpam['pools'] {
  if (!isRecord(v)) throw invalid('ipam.pools', `must be an object {"ipv4": [pool names], "ipv6": [pool names]}, got ${describe(v)}`);
  const out: { ipv4?: string[]; ipv6?: string[] } = {};
  for (const [k, val] of Object.entries(v)) {
    const field = `ipam.pools.${k}`;
    if (k !== 'ipv4' && k !== 'ipv6') throw new CniError(CniErrorCode.UnsupportedField, `unsupported field ${field}`, `${field} = ${JSON.stringify(val)}: only ipv4 and ipv6 are allowed`);
    if (!Array.isArray(val)) throw invalid(field, `must be a list of pool names, got ${describe(val)}`);
    out[k] = val.map((n, i) => inputField(() => validateName(n, `${field}[${i}]`)));
  }
  if (!out.ipv4?.length && !out.ipv6?.length) throw invalid('ipam.pools', 'names no pool: give ipv4 or ipv6 pool names, or leave out ipam.pools to use the default pools');
  return out;
}

function parseRoutes(v: unknown): CniRoute[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw invalid('ipam.routes', `must be a list of {dst, gw}, got ${describe(v)}`);
  return v.map((r, i) => {
    const f = `ipam.routes[${i}]`;
    if (!isRecord(r)) throw invalid(f, `must be an object {dst, gw}, got ${describe(r)}`);
    if (typeof r.dst !== 'string') throw invalid(`${f}.dst`, 'is required: a CIDR such as 10.0.0.0/8');
    const dst = inputField(() => parseCidr(r.dst as string, `${f}.dst`));
    const extra: { -readonly [K in (typeof ROUTE_INTS)[number]]?: number } = {};
    for (const k of ROUTE_INTS) {
      const v = r[k];
      if (isAbsent(v)) continue;
      if (typeof v !== 'number' || !Number.isInteger(v)) throw invalid(`${f}.${k}`, `must be an integer, got ${describe(v)}`);
      extra[k] = v;
    }
    if (isAbsent(r.gw) || r.gw === '') return { dst: r.dst, ...extra };
    if (typeof r.gw !== 'string') throw invalid(`${f}.gw`, `must be an IP address, got ${describe(r.gw)}`);
    inputField(() => parseAddress(r.gw as string, `${f}.gw`, dst.family));
    return { dst: r.dst, gw: r.gw, ...extra };
  });
}

function parseDns(v: unknown): CniDns | undefined {
  if (isAbsent(v)) return undefined;
  if (!isRecord(v)) throw invalid('ipam.dns', `must be an object {nameservers, domain, search, options}, got ${describe(v)}`);
  const out: { nameservers?: string[]; domain?: string; search?: string[]; options?: string[] } = {};
  for (const [k, val] of Object.entries(v)) {
    const f = `ipam.dns.${k}`;
    if (k === 'domain') {
      if (typeof val !== 'string') throw invalid(f, `must be a string, got ${describe(val)}`);
      out.domain = val;
    } else if (k === 'nameservers' || k === 'search' || k === 'options') {
      if (!Array.isArray(val) || !val.every((x) => typeof x === 'string')) throw invalid(f, `must be a list of strings, got ${describe(val)}`);
      if (k === 'nameservers') val.forEach((x, i) => inputField(() => parseAddress(x as string, `${f}[${i}]`)));
      out[k] = val as string[];
    } else {
      throw new CniError(CniErrorCode.UnsupportedField, `unsupported field ${f}`, `${f} = ${JSON.stringify(val)}: only nameservers, domain, search and options are allowed`);
    }
  }
  return out;
}

/** The previous result's addresses (CIDR strings), when the runtime gave one. */
export function prevResultAddresses(raw: Readonly<Record<string, unknown>>): string[] | undefined {
  const prev = raw.prevResult;
  if (isAbsent(prev)) return undefined;
  if (!isRecord(prev)) throw invalid('prevResult', `must be an object, got ${describe(prev)}`);
  if (isAbsent(prev.ips)) return [];
  if (!Array.isArray(prev.ips)) throw invalid('prevResult.ips', `must be a list, got ${describe(prev.ips)}`);
  return prev.ips.map((ip, i) => {
    if (!isRecord(ip) || typeof ip.address !== 'string') throw invalid(`prevResult.ips[${i}].address`, 'is required: an address in CIDR notation');
    return ip.address;
  });
}

/** GC's `cni.dev/valid-attachments`: required, since without it every attachment would look stale. */
export function validAttachments(raw: Readonly<Record<string, unknown>>): Attachment[] {
  const field = 'cni.dev/valid-attachments';
  const v = raw[field];
  if (!Array.isArray(v)) throw invalid(field, isAbsent(v) ? 'is required for GC: the attachments still in use' : `must be a list of {containerID, ifname}, got ${describe(v)}`);
  return v.map((a, i) => {
    const f = `${field}[${i}]`;
    if (!isRecord(a) || typeof a.containerID !== 'string' || typeof a.ifname !== 'string' || a.containerID === '' || a.ifname === '') {
      throw invalid(f, 'must be an object with non-empty string fields containerID and ifname');
    }
    return { containerID: a.containerID, ifname: a.ifname };
  });
}

/** Runs a parser that throws InputError and turns its error into CNI error 7, keeping the field. */
function inputField<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isInputError(e)) throw invalid(e.field, e.reason);
    throw e;
  }
}

const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  return v === null ? 'null' : `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}
