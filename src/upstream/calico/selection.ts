// Calico's per-pod pool and address choices (cni-plugin/pkg/k8s/k8s.go): cni.projectcalico.org/ipv4pools and
// ipv6pools (JSON lists of IPPool names or CIDRs; the namespace's value is the default, the pod's overrides it per
// family), cni.projectcalico.org/ipAddrs (JSON list of at most one IPv4 and one IPv6 address, each allocated exactly,
// validateAndExtractIPs), and ipAddrsNoIpam, which bypasses IPAM and so cannot be served by an IPAM plugin.
import { parseAddress } from '../../net/address.js';
import { SelectionError, type PoolNames } from '../spiderpool/selection-annotations.js';

export const CalicoAnnotation = {
  IPv4Pools: 'cni.projectcalico.org/ipv4pools',
  IPv6Pools: 'cni.projectcalico.org/ipv6pools',
  IPAddrs: 'cni.projectcalico.org/ipAddrs',
  IPAddrsNoIpam: 'cni.projectcalico.org/ipAddrsNoIpam',
} as const;

type Annotations = Readonly<Record<string, string>>;

function jsonStrings(source: string, text: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SelectionError(source, `failed to parse '${text.slice(0, 120)}' as JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) throw new SelectionError(source, `must be a JSON list of strings, got ${text.slice(0, 120)}`);
  return v as string[];
}

/**
 * Pools named by one object's ipv4pools/ipv6pools. An entry that is a CIDR stands for the pools whose subnet it is
 * (Calico's ipv4_pools take names or CIDRs); `poolsWithSubnet` answers that.
 */
export function calicoPools(a: Annotations, where: string, poolsWithSubnet: (cidr: string) => readonly string[]): PoolNames & { source?: string } {
  const read = (key: string): string[] | undefined => {
    const text = a[key];
    if (text === undefined || text === '') return undefined;
    const source = `${where} annotation ${key}`;
    return jsonStrings(source, text).flatMap((entry) => {
      if (!entry.includes('/')) return [entry];
      const named = poolsWithSubnet(entry);
      if (named.length === 0) throw new SelectionError(source, `no pool has the subnet ${entry}`);
      return named;
    });
  };
  const ipv4 = read(CalicoAnnotation.IPv4Pools);
  const ipv6 = read(CalicoAnnotation.IPv6Pools);
  const source = `${where} annotation ${ipv4?.length ? CalicoAnnotation.IPv4Pools : CalicoAnnotation.IPv6Pools}`;
  return { ...(ipv4?.length ? { ipv4 } : {}), ...(ipv6?.length ? { ipv6 } : {}), ...(ipv4?.length || ipv6?.length ? { source } : {}) };
}

/** The pod's ipAddrs: at most one address per family; undefined when the annotation is absent. */
export function calicoIpAddrs(a: Annotations): { ipv4?: string; ipv6?: string } | undefined {
  const source = CalicoAnnotation.IPAddrs;
  if (a[CalicoAnnotation.IPAddrsNoIpam] !== undefined && a[CalicoAnnotation.IPAddrsNoIpam] !== '') {
    throw new SelectionError(CalicoAnnotation.IPAddrsNoIpam, 'bypasses IPAM (the CNI plugin sets the addresses itself), so an IPAM plugin cannot serve it; use cni.projectcalico.org/ipAddrs');
  }
  const text = a[source];
  if (text === undefined || text === '') return undefined;
  const ips = jsonStrings(source, text);
  if (ips.length === 0) throw new SelectionError(source, `annotation "${source}" specified but empty`);
  const out: { ipv4?: string; ipv6?: string } = {};
  for (const ip of ips) {
    let family: 4 | 6;
    try {
      family = parseAddress(ip, source).family;
    } catch {
      throw new SelectionError(source, `invalid IP format: ${ip}`);
    }
    const key = family === 4 ? 'ipv4' : 'ipv6';
    if (out[key] !== undefined) throw new SelectionError(source, `cannot have more than one IPv${family} address for "${source}" annotation`);
    out[key] = ip;
  }
  return out;
}
