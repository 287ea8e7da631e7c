// The abbreviated IPAM result an IPAM plugin prints on ADD (SPEC.md, section 5: no interfaces, no ips[].interface).
import type { Allocation } from '../alloc/types.js';
import type { CniRoute, IpamConf } from './config.js';
import { ipsCarryVersion } from './protocol.js';

export interface IpamResult {
  readonly cniVersion: string;
  readonly ips: readonly { readonly version?: '4' | '6'; readonly address: string; readonly gateway?: string }[];
  readonly routes?: readonly CniRoute[];
  readonly dns: Readonly<Record<string, unknown>>;
}

/**
 * Pools: IPv4 first, each with its pool's gateway. Whereabouts: its cmdAdd's order (the ranges, then the static
 * `addresses`), every range's address with ipam.gateway. Routes: the pools' own routes (pools mode) and then
 * `ipam.routes` as written, each once.
 */
export function ipamResult(version: string, allocations: readonly Allocation[], ipam: IpamConf): IpamResult {
  const withVersion = ipsCarryVersion(version);
  const ver = (v: '4' | '6') => (withVersion ? { version: v } : {});
  let ips: IpamResult['ips'];
  if (ipam.kind === 'range') {
    const wb = ipam.whereabouts;
    const order = new Map(ipam.pools.map((p, i) => [p.name, i]));
    const gw = wb.gateway !== undefined ? { gateway: wb.gateway } : {};
    ips = [
      ...[...allocations]
        .sort((a, b) => (order.get(a.pool) ?? order.size) - (order.get(b.pool) ?? order.size))
        .map((a) => ({ ...ver(String(a.ipVersion) as '4' | '6'), address: `${a.address}/${a.prefixLength}`, ...gw })),
      ...wb.addresses.map((s) => ({ ...ver(s.version), address: s.address, ...(s.gateway !== undefined ? { gateway: s.gateway } : {}) })),
    ];
  } else {
    ips = [...allocations]
      .sort((a, b) => a.ipVersion - b.ipVersion)
      .map((a) => ({ ...ver(String(a.ipVersion) as '4' | '6'), address: `${a.address}/${a.prefixLength}`, ...(a.gateway ? { gateway: a.gateway } : {}) }));
  }
  // In range mode the pools' routes were derived from ipam.routes, so printing both would repeat them.
  const poolRoutes = ipam.kind === 'pools' ? allocations.flatMap((a) => a.routes ?? []) : [];
  const routes: CniRoute[] = [];
  const seen = new Set<string>();
  for (const r of [...poolRoutes, ...ipam.routes]) {
    const key = JSON.stringify(r);
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push(r);
  }
  return { cniVersion: version, ips, ...(routes.length > 0 ? { routes } : {}), dns: { ...(ipam.dns ?? {}) } };
}
