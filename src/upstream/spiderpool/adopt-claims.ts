// What a Spiderpool cluster records about running pods, read as adoption claims: SpiderIPPool status.allocatedIPs
// (v2beta1's JSON string: IP -> {pod, podUid}) and SpiderEndpoint status.current (uid, node, and per interface the
// addresses and their pools; owner from ownerControllerType/Name). A pool's entry takes the interface, node and owner
// from the pod's SpiderEndpoint when the input has it (else eth0); Spiderpool keeps no container id.
import type { Endpoint, Owner } from '../../../events/catalogue.js';
import type { AdoptClaim } from '../../alloc/adopt.js';
import { InputError } from '../../net/errors.js';
import { isRecord } from './ip.js';
import { decodeAllocatedIPs } from './status.js';

type Obj = { metadata?: { name?: unknown; namespace?: unknown }; status?: unknown };

const bare = (cidrOrIp: string) => cidrOrIp.split('/')[0]!;

/** SpiderEndpoint claims, and an index `pool/ip` -> endpoint for enriching the pools' entries. */
export function endpointClaims(o: Obj, where: string): AdoptClaim[] {
  const namespace = String(o.metadata?.namespace ?? 'default');
  const name = String(o.metadata?.name ?? '');
  const st = isRecord(o.status) ? o.status : {};
  const cur = isRecord(st.current) ? st.current : undefined;
  if (!cur) return [];
  if (!Array.isArray(cur.ips)) throw new InputError(`${where}: status.current.ips`, 'must be a list of {interface, ipv4?, ipv4Pool?, ipv6?, ipv6Pool?}');
  const owner: Owner | undefined = typeof st.ownerControllerType === 'string' && st.ownerControllerType !== '' && st.ownerControllerType !== 'None' && typeof st.ownerControllerName === 'string'
    ? { kind: st.ownerControllerType, name: st.ownerControllerName }
    : undefined;
  const out: AdoptClaim[] = [];
  cur.ips.forEach((d: unknown, i) => {
    if (!isRecord(d) || typeof d.interface !== 'string') throw new InputError(`${where}: status.current.ips[${i}].interface`, 'is required');
    for (const fam of ['ipv4', 'ipv6'] as const) {
      const ip = d[fam];
      const pool = d[`${fam}Pool`];
      if (typeof ip !== 'string') continue;
      if (typeof pool !== 'string' || pool === '') throw new InputError(`${where}: status.current.ips[${i}].${fam}Pool`, `is required with ${fam}`);
      const endpoint: Endpoint = { namespace, name, uid: typeof cur.uid === 'string' ? cur.uid : '', containerID: '', node: typeof cur.node === 'string' ? cur.node : '', nic: d.interface, ...(owner ? { owner } : {}) };
      out.push({ pool, address: bare(ip), endpoint, source: `SpiderEndpoint ${namespace}/${name} ${d.interface}` });
    }
  });
  return out;
}

/** SpiderIPPool claims; `endpoints` (by "pool/ip") supplies interface, node and owner when the pod matches. */
export function ipPoolClaims(o: Obj, where: string, endpoints: ReadonlyMap<string, AdoptClaim>): AdoptClaim[] {
  const pool = String(o.metadata?.name ?? '');
  const st = isRecord(o.status) ? o.status : {};
  const held = decodeAllocatedIPs(st.allocatedIPs, `${where}: status.allocatedIPs`);
  return Object.entries(held).map(([ip, a]) => {
    const [namespace, name] = a.pod.includes('/') ? (a.pod.split('/', 2) as [string, string]) : ['default', a.pod];
    const known = endpoints.get(`${pool}/${ip}`);
    const endpoint: Endpoint = known && known.endpoint.namespace === namespace && known.endpoint.name === name
      ? { ...known.endpoint, uid: a.podUid || known.endpoint.uid }
      : { namespace, name, uid: a.podUid, containerID: '', node: '', nic: 'eth0' };
    return { pool, address: ip, endpoint, source: `SpiderIPPool ${pool} status.allocatedIPs` };
  });
}
