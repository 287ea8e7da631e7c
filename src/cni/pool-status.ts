// Which pools a network configuration uses, and whether they could serve an ADD now (STATUS).
import type { AllocatorModel, PoolState } from '../alloc/model.js';
import type { IpVersion } from '../alloc/types.js';
import type { IpamConf } from './config.js';

/** Pool names this network allocates from: named, derived from its ranges, or the cluster's default pools. */
export function poolsInUse(m: AllocatorModel, ipam: IpamConf): string[] {
  if (ipam.kind === 'range') return ipam.pools.map((p) => p.name);
  if (ipam.pools) return [...(ipam.pools.ipv4 ?? []), ...(ipam.pools.ipv6 ?? [])];
  return [...m.pools.values()].filter((p) => p.compiled.spec.default).map((p) => p.compiled.name);
}

/** Addresses an ADD could take now: free and not reserved. */
export function freeAddresses(p: PoolState): number {
  let blockedFree = 0;
  for (const o of p.blocked) if (p.free.isFree(o)) blockedFree++;
  for (const o of p.shadowed) if (p.free.isFree(o) && !p.blocked.has(o)) blockedFree++;
  return p.free.freeCount - blockedFree;
}

/**
 * Undefined when every family this network wants has a pool with a free address (a range's pool not defined yet
 * counts as free: the first ADD defines it). Pod-specific affinity is not judged here.
 */
export function unavailableReason(m: AllocatorModel, ipam: IpamConf): string | undefined {
  const families = new Map<IpVersion, string[]>();
  if (ipam.kind === 'range') {
    for (const p of ipam.pools) families.set(p.spec.ipVersion, [...(families.get(p.spec.ipVersion) ?? []), p.name]);
  } else if (ipam.pools) {
    if (ipam.pools.ipv4?.length) families.set(4, [...ipam.pools.ipv4]);
    if (ipam.pools.ipv6?.length) families.set(6, [...ipam.pools.ipv6]);
  } else {
    for (const p of m.pools.values()) {
      if (p.compiled.spec.default) families.set(p.compiled.ipVersion, [...(families.get(p.compiled.ipVersion) ?? []), p.compiled.name]);
    }
    if (families.size === 0) return 'no pool is named in ipam.pools and no default pool exists';
  }
  const problems: string[] = [];
  for (const [family, names] of families) {
    const why: string[] = [];
    const ok = names.some((name) => {
      const p = m.pools.get(name);
      if (!p) {
        if (ipam.kind === 'range') return true;
        why.push(`${name} does not exist`);
        return false;
      }
      if (p.compiled.spec.disable) why.push(`${name} is disabled`);
      else if (freeAddresses(p) <= 0) why.push(`${name} is exhausted (${p.allocated}/${p.offsets.size} allocated)`);
      else return true;
      return false;
    });
    if (!ok) problems.push(`no IPv${family} pool can allocate: ${why.join('; ')}`);
  }
  return problems.length > 0 ? problems.join('. ') : undefined;
}
