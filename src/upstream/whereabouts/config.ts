// Whereabouts' IPAM configuration (the CNI "ipam" object) read as Whereabouts reads it: pkg/types.IPAMConfig's
// fields and pkg/config.LoadIPAMConfig's normalisation, with pkg/iphelpers.GetIPRange deciding each range's window.
// Refusals name the field Whereabouts' error is about.
import { PoolOrder, type IpVersion } from '../../../events/catalogue.js';
import { formatAddress, parseAddress, parseCidr, type Cidr } from '../../net/address.js';
import { InputError } from '../../net/errors.js';
import { IntervalSet } from '../../net/ranges.js';

/** One entry of Whereabouts' IPRanges after LoadIPAMConfig: `range` first, then `ipRanges`, in that order. */
export interface WhereaboutsRange {
  /** Where the range was written ("ipam" for the top-level range, "ipam.ipRanges[i]"). */
  readonly field: string;
  readonly family: IpVersion;
  /** The range's CIDR with host bits dropped (Go's net.ParseCIDR): the IPPool's spec.range. */
  readonly cidr: Cidr;
  /** First and last address this range hands out (GetIPRange: usable addresses, range_start/range_end if inside). */
  readonly first: bigint;
  readonly last: bigint;
  /** Excluded subnets (whole subnets, as skipExcludedSubnets skips them), of this range's family. */
  readonly exclude: IntervalSet;
  /** first..last minus exclude. */
  readonly window: IntervalSet;
}

/** A static entry of `addresses`: printed after the ranges' addresses, as given (host bits kept). */
export interface StaticAddress {
  readonly version: '4' | '6';
  readonly address: string;
  readonly gateway?: string;
}

export interface WhereaboutsIpam {
  readonly ranges: readonly WhereaboutsRange[];
  /** ipam.gateway, not checked against any range: every range's address carries it (cmdAdd). */
  readonly gateway?: string;
  readonly addresses: readonly StaticAddress[];
  /** IPPool names and the address scope are per network_name ("" = Whereabouts' unnamed network). */
  readonly networkName?: string;
  /** enable_overlapping_ranges (default true): addresses unique across every range of the network. */
  readonly overlappingRanges: boolean;
  /** Our own option: the order addresses are handed out in (default Whereabouts' lowest free). */
  readonly order: PoolOrder;
}

/**
 * Every key Whereabouts' IPAMConfig decodes. Settings about its own datastore, leader election, logging, reconciler
 * and node slices have no meaning here (the daemon is the datastore): accepted, type-checked as Go would, ignored.
 */
const STRING_KEYS = [
  'datastore', 'etcd_host', 'etcd_username', 'etcd_password', 'etcd_key_file', 'etcd_cert_file', 'etcd_ca_cert_file',
  'log_file', 'log_level', 'reconciler_cron_expression', 'configuration_path', 'node_slice_size',
] as const;
const INT_KEYS = ['leader_lease_duration', 'leader_renew_deadline', 'leader_retry_period', 'sleep_for_race'] as const;
const OWN_KEYS = [
  'type', 'range', 'range_start', 'range_end', 'exclude', 'ipRanges', 'gateway', 'addresses', 'routes', 'dns',
  'network_name', 'enable_overlapping_ranges', 'kubernetes', 'order',
] as const;
/** The keys a Whereabouts configuration may hold (the caller refuses others, as its own plugin does). */
export const WHEREABOUTS_KEYS: ReadonlySet<string> = new Set<string>([...STRING_KEYS, ...INT_KEYS, ...OWN_KEYS]);
/** Keys that make an ipam object a Whereabouts configuration. */
export const WHEREABOUTS_RANGE_KEYS = ['range', 'ipRanges', 'addresses'] as const;

export function parseWhereaboutsIpam(ipam: Readonly<Record<string, unknown>>, field = 'ipam'): WhereaboutsIpam {
  for (const k of STRING_KEYS) optionalString(ipam[k], `${field}.${k}`);
  for (const k of INT_KEYS) optionalInt(ipam[k], `${field}.${k}`);
  if (!isAbsent(ipam.kubernetes)) {
    const kube = record(ipam.kubernetes, `${field}.kubernetes`, 'an object {kubeconfig, k8s_api_root}');
    for (const k of ['kubeconfig', 'k8s_api_root']) optionalString(kube[k], `${field}.kubernetes.${k}`);
  }
  const overlappingRanges = optionalBool(ipam.enable_overlapping_ranges, `${field}.enable_overlapping_ranges`) ?? true;
  const networkName = optionalString(ipam.network_name, `${field}.network_name`);
  const order = parseOrder(ipam.order, `${field}.order`);

  const inputs: { field: string; o: Readonly<Record<string, unknown>> }[] = [];
  // LoadIPAMConfig: a non-empty `range` (with the top-level range_start, range_end, exclude) goes first.
  if (optionalString(ipam.range, `${field}.range`) !== undefined) inputs.push({ field, o: ipam });
  if (!isAbsent(ipam.ipRanges)) {
    if (!Array.isArray(ipam.ipRanges)) throw new InputError(`${field}.ipRanges`, 'must be a list of {range, range_start, range_end, exclude}');
    ipam.ipRanges.forEach((r, i) => {
      const f = `${field}.ipRanges[${i}]`;
      inputs.push({ field: f, o: record(r, f, 'an object {range, range_start, range_end, exclude}') });
    });
  }
  const ranges = inputs.map(parseRange);

  const gwText = optionalString(ipam.gateway, `${field}.gateway`);
  let gateway: string | undefined;
  if (gwText !== undefined) {
    const gw = tryAddress(gwText);
    if (!gw) throw new InputError(`${field}.gateway`, `couldn't parse gateway IP: ${gwText}`);
    gateway = formatAddress(gw.family, gw.value);
  }
  const addresses = parseAddresses(ipam.addresses, `${field}.addresses`);
  if (ranges.length === 0 && addresses.length === 0) {
    throw new InputError(`${field}.range`, 'is required (or ipRanges, or addresses): a CIDR such as 192.168.2.0/24');
  }
  return {
    ranges,
    ...(gateway !== undefined ? { gateway } : {}),
    addresses,
    ...(networkName !== undefined ? { networkName } : {}),
    overlappingRanges,
    order,
  };
}

function parseRange({ field, o }: { field: string; o: Readonly<Record<string, unknown>> }): WhereaboutsRange {
  const f = `${field}.range`;
  const text = optionalString(o.range, f);
  if (text === undefined) throw new InputError(f, 'is required: a CIDR such as 192.168.2.0/24');
  // Each range_start/range_end is decoded (a non-string is a JSON error); one that is not an address is dropped.
  let start = optionalAddressText(o.range_start, `${field}.range_start`);
  let end = optionalAddressText(o.range_end, `${field}.range_end`);
  let cidr: Cidr;
  const dash = text.indexOf('-');
  if (dash >= 0) {
    // "first-last/prefix": the start, then the CIDR whose address part is the last address.
    const firstText = text.slice(0, dash);
    const rest = text.slice(dash + 1);
    const first = tryAddress(firstText);
    if (!first) throw new InputError(f, `invalid range start IP: ${firstText}`);
    cidr = cidrOf(rest, f, `invalid CIDR (do you have the 'range' parameter set for Whereabouts?) '${rest}'`);
    const last = parseAddress(sloppy(rest.slice(0, rest.indexOf('/'))), f, cidr.family);
    if (first.family !== cidr.family || first.value < cidr.first || first.value > cidr.last) {
      throw new InputError(f, `invalid range start for CIDR ${cidr.text}: ${firstText}`);
    }
    start = first;
    end = last;
  } else {
    cidr = cidrOf(text, f, `invalid CIDR ${text}`);
  }
  const family = cidr.family;
  // GetIPRange: usable addresses exclude the network and the last address (IPv4 broadcast; IPv6 too).
  if (cidr.size <= 2n) throw new InputError(f, `net mask is too short, subnet ${cidr.text} has no usable IP addresses, it is too small`);
  let first = cidr.first + 1n;
  let last = cidr.last - 1n;
  // range_start / range_end outside the usable addresses, of the other family, or before the start: ignored.
  if (start && start.family === family && start.value >= first && start.value <= last) first = start.value;
  if (end && end.family === family && end.value >= first && end.value <= last) last = end.value;
  const exclude = parseExclude(o.exclude, `${field}.exclude`, family);
  const window = IntervalSet.fromIntervals([[first, last]]).subtract(exclude);
  return { field, family, cidr, first, last, exclude, window };
}

function cidrOf(text: string, field: string, message: string): Cidr {
  try {
    return parseCidr(sloppy(text), field);
  } catch (e) {
    throw new InputError(field, `${message}: ${(e as InputError).reason ?? (e as Error).message}`);
  }
}

/** Whereabouts' exclude: CIDRs or single addresses; entries of the other family never match, so they are dropped. */
function parseExclude(v: unknown, field: string, family: IpVersion): IntervalSet {
  if (isAbsent(v)) return IntervalSet.empty;
  if (!Array.isArray(v)) throw new InputError(field, 'must be a list of CIDRs or addresses');
  const spans: [bigint, bigint][] = [];
  v.forEach((x, i) => {
    const f = `${field}[${i}]`;
    if (typeof x !== 'string') throw new InputError(f, `must be a string, got ${describe(x)}`);
    let fam: IpVersion;
    let lo: bigint;
    let hi: bigint;
    if (x.includes('/')) {
      const c = cidrOf(x, f, `could not parse exclude range ${x}`);
      [fam, lo, hi] = [c.family, c.first, c.last];
    } else {
      const a = tryAddress(x);
      if (!a) throw new InputError(f, `could not parse exclude range: invalid CIDR address: ${x}`);
      [fam, lo, hi] = [a.family, a.value, a.value];
    }
    if (fam === family) spans.push([lo, hi]);
  });
  return IntervalSet.fromIntervals(spans);
}

function parseAddresses(v: unknown, field: string): StaticAddress[] {
  if (isAbsent(v)) return [];
  if (!Array.isArray(v)) throw new InputError(field, 'must be a list of {address, gateway}');
  return v.map((x, i) => {
    const f = `${field}[${i}]`;
    const o = record(x, f, 'an object {address, gateway}');
    const text = optionalString(o.address, `${f}.address`) ?? '';
    const slash = text.indexOf('/');
    const ip = slash > 0 ? tryAddress(text.slice(0, slash)) : undefined;
    if (!ip) throw new InputError(`${f}.address`, `invalid CIDR in addresses ${text}: an address with its prefix, such as 10.10.0.1/24`);
    cidrOf(text, `${f}.address`, `invalid CIDR in addresses ${text}`);
    const gwText = optionalString(o.gateway, `${f}.gateway`);
    const gw = gwText === undefined ? undefined : tryAddress(gwText);
    if (gwText !== undefined && !gw) throw new InputError(`${f}.gateway`, `invalid IP address: ${gwText}`);
    return {
      version: ip.family === 4 ? '4' : '6',
      address: `${formatAddress(ip.family, ip.value)}${text.slice(slash)}`,
      ...(gw ? { gateway: formatAddress(gw.family, gw.value) } : {}),
    };
  });
}

/**
 * handleEnvArgs: CNI_ARGS IP adds static addresses (after the configured ones); each GATEWAY becomes the gateway of
 * every static address whose subnet holds it.
 */
export function withEnvArgs(wb: WhereaboutsIpam, ip: string | undefined, gateway: string | undefined): WhereaboutsIpam {
  if (!ip && !gateway) return wb;
  const added = (ip ? ip.split(',') : []).map((item, i) => {
    const text = item.trim();
    try {
      return parseAddresses([{ address: text }], 'CNI_ARGS IP')[0]!;
    } catch {
      throw new InputError(`CNI_ARGS IP[${i}]`, `invalid CIDR ${text}`);
    }
  });
  let addresses = [...wb.addresses, ...added];
  for (const item of gateway ? gateway.split(',') : []) {
    const gw = tryAddress(item.trim());
    if (!gw) throw new InputError('CNI_ARGS GATEWAY', `invalid gateway address: ${item}`);
    addresses = addresses.map((a) => (holds(a.address, gw) ? { ...a, gateway: formatAddress(gw.family, gw.value) } : a));
  }
  return { ...wb, addresses };
}

function holds(cidrText: string, a: { family: IpVersion; value: bigint }): boolean {
  const c = parseCidr(cidrText, 'address');
  return c.family === a.family && a.value >= c.first && a.value <= c.last;
}

function parseOrder(v: unknown, field: string): PoolOrder {
  if (isAbsent(v)) return PoolOrder.Lowest;
  if (v !== PoolOrder.Lowest && v !== PoolOrder.Scattered) throw new InputError(field, `must be "lowest" (Whereabouts' order, the default) or "scattered", got ${describe(v)}`);
  return v;
}

/** k8s.io/utils/net's ParseIPSloppy / ParseCIDRSloppy: IPv4 octets may carry leading zeros, read as decimal. */
export function sloppy(text: string): string {
  return text.replace(/^(\d+)\.(\d+)\.(\d+)\.(\d+)(?=$|\/)/, (whole, ...octets: string[]) => {
    const n = octets.slice(0, 4).map((o) => Number.parseInt(o, 10));
    return n.every((x) => x <= 255) ? n.join('.') : whole;
  });
}

function tryAddress(text: string): { family: IpVersion; value: bigint } | undefined {
  try {
    return parseAddress(sloppy(text), 'address');
  } catch {
    return undefined;
  }
}

/** backwardsCompatibleIPAddress: a string that is not an address reads as unset. */
function optionalAddressText(v: unknown, field: string): { family: IpVersion; value: bigint } | undefined {
  const text = optionalString(v, field);
  return text === undefined ? undefined : tryAddress(text);
}

const isAbsent = (v: unknown): v is undefined | null => v === undefined || v === null;

function record(v: unknown, field: string, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(field, `must be ${what}, got ${describe(v)}`);
  return v as Record<string, unknown>;
}

/** Go decodes JSON null as unset and "" as the zero value, which Whereabouts reads as unset. */
function optionalString(v: unknown, field: string): string | undefined {
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'string') throw new InputError(field, `must be a string, got ${describe(v)}`);
  return v === '' ? undefined : v;
}

function optionalInt(v: unknown, field: string): number | undefined {
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new InputError(field, `must be an integer, got ${describe(v)}`);
  return v;
}

function optionalBool(v: unknown, field: string): boolean | undefined {
  if (isAbsent(v)) return undefined;
  if (typeof v !== 'boolean') throw new InputError(field, `must be true or false, got ${describe(v)}`);
  return v;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  return `${typeof v} ${JSON.stringify(v)}`.slice(0, 80);
}
