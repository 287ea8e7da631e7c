// A SpiderSubnet auto pool created or resized to a desired number of IPs, decided on the model (so a conflicting
// carve by anyone else makes it re-decide on a fresher view): new IPs are the subnet's lowest free ones (not carved to
// any pool, not reserved), as Spiderpool's preAllocateIPsFromSubnet takes them; shrinking gives back the pool's
// lowest unallocated IPs and is refused while too few are free. The events are the pool's own (PoolDefined or
// PoolChanged, then PoolCarved with the pool's full set), so history and replay show them.
import type { LabelSelector } from '../../events/catalogue.js';
import { IntervalSet, type Interval } from '../net/ranges.js';
import { decideChangePool, decideDefinePool, type ConfigContext, type ConfigDecision } from './decide-config.js';
import { AllocError } from './errors.js';
import type { AllocatorModel } from './model.js';
import type { CompiledSubnet, IpVersion } from './types.js';

export interface AutoPoolInput {
  /** The SpiderSubnet carved from. */
  readonly subnet: string;
  readonly pool: string;
  readonly ipVersion: IpVersion;
  /** IPs the pool should hold (at least 1: a pool lists at least one address). */
  readonly desired: number;
  readonly podAffinity: LabelSelector;
  /** The recorded labels or annotations differ from the wanted ones: write a PoolChanged even at the right size. */
  readonly metadataChanged: boolean;
  /** Where the request came from, for errors ("annotation ipam.spidernet.io/subnet of Deployment default/app"). */
  readonly source: string;
}

/** The lowest `n` values of a set. */
function lowest(set: IntervalSet, n: bigint): IntervalSet {
  const out: Interval[] = [];
  let left = n;
  for (const [lo, hi] of set.intervals) {
    if (left <= 0n) break;
    const len = hi - lo + 1n;
    const take = len < left ? len : left;
    out.push([lo, lo + take - 1n]);
    left -= take;
  }
  return IntervalSet.fromIntervals(out);
}

/** GenSubnetFreeIPs less reserved IPs: the subnet's IPs no pool of it owns and no SpiderReservedIP holds. */
export function subnetFreeIPs(m: AllocatorModel, s: CompiledSubnet): IntervalSet {
  let free = s.owned;
  for (const p of m.pools.values()) {
    if (p.compiled.ipVersion === s.ipVersion && p.compiled.subnet === s.subnet) free = free.subtract(p.compiled.owned);
  }
  for (const r of m.reservations.values()) if (r.ipVersion === s.ipVersion) free = free.subtract(r.set);
  return free;
}

export function decideAutoPool(m: AllocatorModel, i: AutoPoolInput, ctx: ConfigContext): ConfigDecision {
  const s = m.subnets.get(i.subnet);
  if (!s) throw new AllocError('SubnetNotFound', i.source, `failed to get SpiderSubnet ${i.subnet}: it does not exist`);
  if (s.ipVersion !== i.ipVersion) throw new AllocError('NotInSubnet', i.source, `SpiderSubnet ${i.subnet} is IPv${s.ipVersion}, named as IPv${i.ipVersion}`);
  const want = BigInt(Math.max(1, i.desired));
  const current = m.pools.get(i.pool);
  if (!current) {
    const free = subnetFreeIPs(m, s);
    if (free.size() < want) throw new AllocError('PoolExhausted', i.source, `insufficient subnet FreeIPs of SpiderSubnet ${i.subnet}, required '${want}' but only left '${free.size()}'`, true);
    const spec = {
      ipVersion: i.ipVersion,
      subnet: s.subnet,
      ips: lowest(free, want).toStrings(i.ipVersion),
      ...(s.spec.gateway ? { gateway: s.spec.gateway } : {}),
      ...(s.spec.routes?.length ? { routes: s.spec.routes } : {}),
      podAffinity: i.podAffinity,
    };
    return decideDefinePool(m, i.pool, spec, ctx);
  }
  const c = current.compiled;
  if (c.subnet !== s.subnet || c.ipVersion !== s.ipVersion) {
    throw new AllocError('NotInSubnet', i.source, `it's invalid to change reconcile auto-created IPPool ${i.pool} (subnet ${c.subnet}) with different subnet SpiderSubnet ${i.subnet}`);
  }
  const have = c.owned.size();
  let ips = c.owned;
  if (want > have) {
    const free = subnetFreeIPs(m, s);
    if (free.size() < want - have) throw new AllocError('PoolExhausted', i.source, `insufficient subnet FreeIPs of SpiderSubnet ${i.subnet}, required '${want - have}' but only left '${free.size()}'`, true);
    ips = ips.union(lowest(free, want - have));
  } else if (want < have) {
    const held = IntervalSet.fromIntervals(m.allocationsOfPool(i.pool).map((a): Interval => [a.value, a.value]));
    const unallocated = c.owned.subtract(held);
    if (unallocated.size() < have - want) throw new AllocError('ShrinkBelowAllocations', i.source, `failed to scale down IPPool ${i.pool} IPs to ${want}: only ${unallocated.size()} of its ${have} IPs are free`, true);
    ips = ips.subtract(lowest(unallocated, have - want));
  } else if (!i.metadataChanged) {
    return { events: [], conditionTags: [], warnings: [] };
  }
  return decideChangePool(m, i.pool, { ...c.spec, ips: ips.toStrings(i.ipVersion) }, ctx);
}
