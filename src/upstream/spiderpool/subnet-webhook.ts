// SpiderSubnet admission as spidernet-io/spiderpool's webhook does it (pkg/subnetmanager: subnet_mutate.go,
// subnet_validate.go): spec.ipVersion from spec.subnet; refusals with upstream's field paths and words. The pools a
// subnet controls are the engine's pools of the same CIDR (what upstream's status.controlledIPPools lists).
import type { IpVersion } from '../../../events/catalogue.js';
import type { AllocatorModel } from '../../alloc/model.js';
import type { CompiledSubnet } from '../../alloc/types.js';
import { fieldForbidden, fieldInvalid, fieldRequired } from '../field-error.js';
import { validateGateway, validateIPVersion, validateRoutes } from './ippool-webhook.js';
import { cidrError, cidrOf, goList, isAbsent, isRecord, rangeIn, stringsOf, totalOf, versionOfCidr } from './ip.js';

type Spec = Record<string, unknown>;

/** mutateSubnet: the spec the webhook would store. */
export function defaultSubnet(spec: unknown): unknown {
  if (!isRecord(spec)) return spec;
  const out: Spec = { ...spec };
  if (isAbsent(out.ipVersion)) {
    const v = versionOfCidr(out.subnet);
    if (v !== undefined) out.ipVersion = v;
  }
  return out;
}

/** validateSubnetCIDR + validateOrphanIPPool: no overlap with another subnet; existing pools of the CIDR fit. */
function validateCIDR(m: AllocatorModel, name: string, version: IpVersion, s: Spec): void {
  const err = cidrError(version, s.subnet);
  if (err !== undefined) throw fieldInvalid('spec.subnet', s.subnet, err);
  const mine = cidrOf(s.subnet)!;
  for (const other of m.subnets.values()) {
    if (other.name === name || other.ipVersion !== version) continue;
    const theirs = cidrOf(other.subnet)!;
    if (mine.first <= theirs.last && theirs.first <= mine.last) {
      throw fieldInvalid('spec.subnet', s.subnet, `overlap with Subnet ${other.name} which 'spec.subnet' is ${other.subnet}`);
    }
  }
  const total = totalOf(version, stringsOf(s.ips), stringsOf(s.excludeIPs));
  for (const p of m.pools.values()) {
    const pool = p.compiled;
    if (pool.ipVersion !== version) continue;
    if (pool.subnet !== mine.text) {
      const theirs = cidrOf(pool.subnet)!;
      if (mine.first <= theirs.last && theirs.first <= mine.last) {
        throw fieldInvalid('spec.subnet', s.subnet, `overlap with SpiderIPPool '${pool.name}' resource 'spec.subnet' ${pool.subnet}`);
      }
    } else if (!pool.owned.subtract(total).isEmpty) {
      throw fieldInvalid('spec.ips', s.ips, `SpiderIPPool '${pool.name}' owns some IP addresses that SpiderSubnet '${name}' can't control`);
    }
  }
}

/** validateSubnetIPs / validateSubnetExcludeIPs: each entry inside spec.subnet. */
function validateRanges(s: Spec, field: 'ips' | 'excludeIPs'): void {
  const base = cidrOf(s.subnet)!;
  stringsOf(s[field]).forEach((entry, i) => {
    const r = rangeIn(base, entry);
    if (typeof r === 'string') {
      const outside = r.startsWith('not match base subnet');
      throw fieldInvalid(`spec.${field}[${i}]`, entry, outside ? `not pertains to the 'spec.subnet' ${String(s.subnet)} of IPPool` : r);
    }
  });
}

function validateSpec(version: IpVersion, s: Spec): void {
  validateRanges(s, 'ips');
  validateRanges(s, 'excludeIPs');
  validateGateway(version, s);
  validateRoutes(version, s);
}

/** validateSubnetIPInUse: the addresses carved to pools stay in the subnet. */
function validateIPInUse(m: AllocatorModel, current: CompiledSubnet, version: IpVersion, s: Spec): void {
  const total = totalOf(version, stringsOf(s.ips), stringsOf(s.excludeIPs));
  for (const p of m.pools.values()) {
    const pool = p.compiled;
    if (pool.ipVersion !== current.ipVersion || pool.subnet !== current.subnet) continue;
    const out = pool.owned.subtract(total);
    if (!out.isEmpty) {
      throw fieldForbidden(
        'spec.ips',
        `remove some IP ranges ${goList(out.toStrings(version))} that is being used by IPPool ${pool.name}, total IP addresses of an Subnet are jointly determined by 'spec.ips' and 'spec.excludeIPs'`,
      );
    }
  }
}

/** The webhook's verdict on a create (no `current`) or an update of subnet `name`: the defaulted spec, or a FieldError. */
export function admitSubnet(m: AllocatorModel, name: string, spec: unknown, current: CompiledSubnet | undefined): unknown {
  const s = defaultSubnet(spec);
  if (!isRecord(s)) return s;
  if (isAbsent(s.subnet)) throw fieldRequired('spec.subnet'); // the CRD's schema: required: [subnet]
  if (current === undefined) {
    const version = validateIPVersion(s.ipVersion);
    validateCIDR(m, name, version, s);
    validateSpec(version, s);
    return s;
  }
  if (!isAbsent(s.ipVersion) && s.ipVersion !== current.ipVersion) throw fieldForbidden('spec.ipVersion', 'is not changeable');
  if (s.subnet !== current.spec.subnet) throw fieldForbidden('spec.subnet', 'is not changeable');
  const version = validateIPVersion(s.ipVersion);
  validateSpec(version, s);
  validateIPInUse(m, current, version, s);
  return s;
}
