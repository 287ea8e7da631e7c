// SpiderIPPool admission as spidernet-io/spiderpool's webhook does it (pkg/ippoolmanager: ippool_mutate.go,
// ippool_validate.go, ippool_subnet_validate.go), over the engine's model instead of the API server's lists:
// - defaulting: spec.ipVersion from spec.subnet; gateway and routes inherited from the SpiderSubnet of the same CIDR
//   (InheritSubnetProperties: only when the pool has none; routes only when absent, not when []);
// - refusals in upstream's order with upstream's field paths and words.
// Where the engine differs: pools are compared within one address scope (spec.scope, the engine's extension), and
// ips/excludeIPs are merged by the engine's compiler (same result as MergeIPRanges).
import type { IpVersion } from '../../../events/catalogue.js';
import type { AllocatorModel } from '../../alloc/model.js';
import type { CompiledPool, CompiledSubnet } from '../../alloc/types.js';
import { parseAddress } from '../../net/address.js';
import { IntervalSet, type Interval } from '../../net/ranges.js';
import { fieldForbidden, fieldInvalid, fieldNotSupported, fieldRequired } from '../field-error.js';
import { cidrError, cidrOf, containsIPError, entryContains, goList, isAbsent, isRecord, rangeIn, stringsOf, versionOfCidr } from './ip.js';

const TOTAL = "total IP addresses of an IPPool are jointly determined by 'spec.ips' and 'spec.excludeIPs'";
const DEFAULT_SCOPE = 'default';

type Spec = Record<string, unknown>;

const scopeOf = (s: Spec): string => (typeof s.scope === 'string' && s.scope !== '' ? s.scope : DEFAULT_SCOPE);

/** The SpiderSubnet whose spec.subnet is the pool's (upstream matches the ipam.spidernet.io/subnet-cidr label). */
export function controllerSubnet(m: AllocatorModel, spec: Spec): CompiledSubnet | undefined {
  const c = cidrOf(spec.subnet);
  if (c === undefined || c.text !== spec.subnet) return undefined;
  for (const s of m.subnets.values()) if (s.subnet === c.text && s.ipVersion === c.family) return s;
  return undefined;
}

/** mutateIPPool: the spec the webhook would store (the input is not changed). Anything but an object is left alone. */
export function defaultIPPool(m: AllocatorModel, spec: unknown): unknown {
  if (!isRecord(spec)) return spec;
  const out: Spec = { ...spec };
  if (isAbsent(out.ipVersion)) {
    const v = versionOfCidr(out.subnet);
    if (v !== undefined) out.ipVersion = v;
  }
  const subnet = controllerSubnet(m, out);
  if (subnet) {
    if (subnet.spec.gateway !== undefined && isAbsent(out.gateway)) out.gateway = subnet.spec.gateway;
    if (subnet.spec.routes !== undefined && subnet.spec.routes.length > 0 && isAbsent(out.routes)) out.routes = subnet.spec.routes.map((r) => ({ ...r }));
  }
  return out;
}

/** validateIPPoolIPVersion / validateSubnetIPVersion (the same rule): 4 or 6, after defaulting from spec.subnet. */
export function validateIPVersion(v: unknown): IpVersion {
  if (isAbsent(v)) throw fieldInvalid('spec.ipVersion', null, "is not generated correctly, 'spec.subnet' may be invalid");
  if (v !== 4 && v !== 6) throw fieldNotSupported('spec.ipVersion', v, ['4', '6']);
  return v;
}

/** validateIPPoolCIDR: a canonical CIDR of the version, not overlapping another pool's different subnet. */
function validateCIDR(m: AllocatorModel, name: string, version: IpVersion, s: Spec): void {
  const err = cidrError(version, s.subnet);
  if (err !== undefined) throw fieldInvalid('spec.subnet', s.subnet, err);
  const mine = cidrOf(s.subnet)!;
  for (const p of m.pools.values()) {
    const other = p.compiled;
    if (other.name === name || other.ipVersion !== version || other.scope !== scopeOf(s) || other.subnet === mine.text) continue;
    const theirs = cidrOf(other.subnet)!;
    if (mine.first <= theirs.last && theirs.first <= mine.last) {
      throw fieldInvalid('spec.subnet', s.subnet, `overlap with IPPool ${other.name} which 'spec.subnet' is ${other.subnet}`);
    }
  }
}

/** NewCIDR(subnet, ips, excludeIPs): ips minus excludeIPs, or a refusal at spec.subnet (upstream's field). */
function totalIPs(s: Spec): IntervalSet {
  const base = cidrOf(s.subnet)!;
  const parse = (list: readonly string[]): IntervalSet => {
    const out: Interval[] = [];
    for (const entry of list) {
      const r = rangeIn(base, entry);
      if (typeof r === 'string') throw fieldInvalid('spec.subnet', s.subnet, r);
      out.push(r);
    }
    return IntervalSet.fromIntervals(out);
  };
  return parse(stringsOf(s.ips)).subtract(parse(stringsOf(s.excludeIPs)));
}

/** validateIPPoolAvailableIPs: no address shared with another pool of the same subnet. */
function validateAvailableIPs(m: AllocatorModel, name: string, version: IpVersion, s: Spec): IntervalSet {
  const total = totalIPs(s);
  for (const p of m.pools.values()) {
    const other = p.compiled;
    if (other.name === name || other.ipVersion !== version || other.scope !== scopeOf(s) || other.subnet !== s.subnet) continue;
    const shared = total.intersect(other.owned);
    if (!shared.isEmpty) {
      throw fieldForbidden('spec.ips', `overlap with IPPool ${other.name} in IP ranges ${goList(shared.toStrings(version))}, ${TOTAL}`);
    }
  }
  return total;
}

/** validateIPPoolGateway (and validateSubnetGateway: same rule): inside the subnet, and not an address to hand out. */
export function validateGateway(version: IpVersion, s: Spec): void {
  if (isAbsent(s.gateway)) return;
  const err = containsIPError(version, s.subnet as string, s.gateway);
  if (err !== undefined) throw fieldInvalid('spec.gateway', s.gateway, err);
  const gw = s.gateway as string;
  if (stringsOf(s.excludeIPs).some((r) => entryContains(version, r, gw))) return;
  stringsOf(s.ips).forEach((r, i) => {
    if (entryContains(version, r, gw)) {
      throw fieldInvalid(`spec.ips[${i}]`, r, `conflicts with 'spec.gateway' ${gw}, add the gateway IP address to 'spec.excludeIPs' or remove it from 'spec.ips'`);
    }
  });
}

/** validateIPPoolRoutes (validateSubnetRoutes is the same): no default route, no duplicate dst, gw inside the subnet. */
export function validateRoutes(version: IpVersion, s: Spec): void {
  if (!Array.isArray(s.routes)) return;
  const seen = new Set<string>();
  s.routes.forEach((r: unknown, i) => {
    const dst = isRecord(r) ? r.dst : undefined;
    const gw = isRecord(r) ? r.gw : undefined;
    const f = `spec.routes[${i}]`;
    if ((version === 4 && dst === '0.0.0.0/0') || (version === 6 && dst === '::/0')) {
      throw fieldInvalid(`${f}.dst`, dst, "please specify 'spec.gateway' to configure the default route");
    }
    if (typeof dst === 'string' && seen.has(dst)) throw fieldInvalid(`${f}.dst`, dst, 'duplicate route with the same dst');
    if (typeof dst === 'string') seen.add(dst);
    const c = cidrOf(dst);
    if (c === undefined || c.family !== version) throw fieldInvalid(`${f}.dst`, dst, `invalid IPv${version} CIDR: ${String(dst ?? '')}`);
    const err = containsIPError(version, s.subnet as string, gw);
    if (err !== undefined) throw fieldInvalid(`${f}.gw`, gw, err);
  });
}

/** validateIPPoolPodAffinity: an empty selector is refused for a SpiderIPPool (it would match every pod). */
function validatePodAffinity(s: Spec): void {
  const a = s.podAffinity;
  if (!isRecord(a)) return;
  const labels = isRecord(a.matchLabels) ? Object.keys(a.matchLabels).length : 0;
  const exprs = Array.isArray(a.matchExpressions) ? a.matchExpressions.length : 0;
  if (labels + exprs === 0) throw fieldInvalid('spec.podAffinity', a, 'empty podAffinity is invalid for SpiderIPPool');
}

/** validateSubnetTotalIPsContainsIPPoolTotalIPs: a pool in a SpiderSubnet only has addresses the subnet owns. */
function validateInSubnet(m: AllocatorModel, version: IpVersion, s: Spec, total: IntervalSet): void {
  const subnet = controllerSubnet(m, s);
  if (subnet === undefined || total.isEmpty) return;
  const out = total.subtract(subnet.owned);
  if (!out.isEmpty) {
    throw fieldForbidden('spec.ips', `add some IP ranges ${goList(out.toStrings(version))} that are not contained in controller Subnet ${subnet.name}, ${TOTAL}`);
  }
}

/** validateIPPoolIPInUse: a change keeps every allocated address. */
function validateIPInUse(m: AllocatorModel, name: string, total: IntervalSet, version: IpVersion): void {
  for (const a of m.allocationsOfPool(name)) {
    if (!total.contains(parseAddress(a.address, 'ip', version).value)) {
      throw fieldForbidden('spec.ips', `remove an IP address ${a.address} that is being used by Pod ${a.endpoint.namespace}/${a.endpoint.name}, ${TOTAL}`);
    }
  }
}

function validateSpec(m: AllocatorModel, name: string, version: IpVersion, s: Spec): IntervalSet {
  const total = validateAvailableIPs(m, name, version, s);
  validateGateway(version, s);
  validateRoutes(version, s);
  return total;
}

/**
 * The webhook's verdict on a create (no `current`) or an update of pool `name`: the defaulted spec, or a FieldError.
 * The engine's own compiler checks the rest (syntax, selectors, sizes) after this.
 */
export function admitIPPool(m: AllocatorModel, name: string, spec: unknown, current: CompiledPool | undefined): unknown {
  const s = defaultIPPool(m, spec);
  if (!isRecord(s)) return s; // the compiler names what is wrong with it
  if (isAbsent(s.subnet)) throw fieldRequired('spec.subnet'); // the CRD's schema: required: [subnet]
  if (current === undefined) {
    const version = validateIPVersion(s.ipVersion);
    validateCIDR(m, name, version, s);
    const total = validateSpec(m, name, version, s);
    validatePodAffinity(s);
    validateInSubnet(m, version, s, total);
    return s;
  }
  if (!isAbsent(s.ipVersion) && s.ipVersion !== current.ipVersion) throw fieldForbidden('spec.ipVersion', 'is not changeable');
  if (s.subnet !== current.spec.subnet) throw fieldForbidden('spec.subnet', 'is not changeable');
  const version = validateIPVersion(s.ipVersion);
  const total = validateSpec(m, name, version, s);
  validatePodAffinity(s);
  validateIPInUse(m, name, total, version);
  validateInSubnet(m, version, s, total);
  return s;
}

