// What a Whereabouts cluster records about running pods, read as adoption claims: IPPool spec.allocations
// (offset from the range's network address -> {id: containerID, podref: "ns/name", ifname}) and
// OverlappingRangeIPReservation (name: the address, "-" for ":" in IPv6; spec {containerid, podref, ifname}).
// Whereabouts keeps no pod uid or node: they stay empty (the controller's GC treats an empty uid as "any pod of
// that name").
import type { Endpoint } from '../../../events/catalogue.js';
import type { AdoptClaim } from '../../alloc/adopt.js';
import { formatAddress, parseAddress, parseCidr } from '../../net/address.js';
import { InputError } from '../../net/errors.js';

type Obj = { metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown };
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function endpointOf(podref: unknown, containerID: unknown, ifname: unknown, field: string): Endpoint {
  if (typeof podref !== 'string' || !/^[^/]+\/[^/]+$/.test(podref)) throw new InputError(`${field}.podref`, `must be "<namespace>/<pod>", got ${JSON.stringify(podref)}`);
  const [namespace, name] = podref.split('/') as [string, string];
  return { namespace, name, uid: '', containerID: typeof containerID === 'string' ? containerID : '', node: '', nic: typeof ifname === 'string' && ifname !== '' ? ifname : 'eth0' };
}

/** The claims of one IPPool (whereabouts.cni.cncf.io/v1alpha1), for engine pool `metadata.name`. */
export function ipPoolClaims(o: Obj, where: string): AdoptClaim[] {
  const name = String(o.metadata?.name ?? '');
  const spec = isRecord(o.spec) ? o.spec : {};
  const allocations = spec.allocations;
  if (allocations === undefined || allocations === null) return [];
  if (!isRecord(allocations)) throw new InputError(`${where}: spec.allocations`, 'must be a map of offset -> {id, podref, ifname}');
  if (typeof spec.range !== 'string') throw new InputError(`${where}: spec.range`, 'is required: a CIDR');
  // Whereabouts counts offsets from the IP as written in spec.range (IPPool.ParseCIDR's first result), not the network.
  const cidr = parseCidr(spec.range, `${where}: spec.range`);
  const first = parseAddress(spec.range.slice(0, spec.range.indexOf('/')), `${where}: spec.range`, cidr.family).value;
  return Object.entries(allocations).map(([offset, a]) => {
    const field = `${where}: spec.allocations[${JSON.stringify(offset)}]`;
    if (!/^\d+$/.test(offset)) throw new InputError(field, 'the key must be a decimal offset from the range\'s network address');
    const value = first + BigInt(offset);
    if (value > cidr.last) throw new InputError(field, `offset ${offset} is outside ${cidr.text}`);
    if (!isRecord(a)) throw new InputError(field, 'must be {id, podref, ifname}');
    return { pool: name, address: formatAddress(cidr.family, value), endpoint: endpointOf(a.podref, a.id, a.ifname, field), source: `whereabouts IPPool ${String(o.metadata?.namespace ?? '')}/${name} offset ${offset}` };
  });
}

/** NormalizeIP undone: "[<network>-]<ip>" with ":" written "-" (and a trailing "::" as "--0"). */
function addressOfName(name: string): string {
  const v4 = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(name);
  if (v4) return v4[1]!;
  const parts = name.split('-');
  for (let i = 0; i < parts.length; i++) {
    const candidate = parts.slice(i).join(':');
    try {
      return formatAddress(6, parseAddress(candidate, 'name', 6).value);
    } catch {
      // a network-name prefix: drop one more segment
    }
  }
  return name;
}

/** The claim of one OverlappingRangeIPReservation; its pool is whichever pool owns the address (`poolFor`). */
export function overlappingRangeClaim(o: Obj, where: string, poolFor: (address: string) => string | undefined): AdoptClaim {
  const raw = String(o.metadata?.name ?? '');
  const address = addressOfName(raw);
  const spec = isRecord(o.spec) ? o.spec : {};
  const endpoint = endpointOf(spec.podref, spec.containerid, spec.ifname, `${where}: spec`);
  return { pool: poolFor(address) ?? '', address, endpoint, source: `whereabouts OverlappingRangeIPReservation ${String(o.metadata?.namespace ?? '')}/${raw}` };
}
