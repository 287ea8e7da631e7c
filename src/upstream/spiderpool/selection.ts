// Spiderpool's order of precedence for an interface's candidate pools, as pkg/ipam/pool_selections.go
// (getPoolCandidates) implements it: the subnet annotations (SpiderSubnet auto pools, found by the caller) first, then the pod's
// ipam.spidernet.io/ippools, then its ipam.spidernet.io/ippool, then the namespace's default-ipv4/6-ippool, then the
// CNI configuration's default_ipv4/6_ippool, then the cluster's default pools (spec.default). The first level that
// names any pool decides alone; a malformed value at a level that is read fails the ADD. Pool names may be
// wildcards (ParseWildcardPoolNameList: '*', '?', '[...]', matched against the pools of that family).
import type { PoolNames } from './selection-annotations.js';
import { hasSubnetAnnotation, ipPoolsItemFor, parseIPPool, parseIPPools, parseNamespaceDefaults, SelectionError, SpiderpoolAnnotation } from './selection-annotations.js';
import { expandWildcards } from './selection-wildcard.js';

type Annotations = Readonly<Record<string, string>>;

export const SelectionLevel = {
  /** The workload's SpiderSubnet auto pools (ipam.spidernet.io/subnet or subnets). */
  SubnetAutoPool: 'subnet-auto-pool',
  PodIPPools: 'pod-ippools',
  PodIPPool: 'pod-ippool',
  /** Calico's per-pod pools (cni.projectcalico.org/ipv4pools): after Spiderpool's pod annotations. */
  CalicoPod: 'calico-pod',
  Namespace: 'namespace',
  CalicoNamespace: 'calico-namespace',
  NetConf: 'netconf',
  ClusterDefault: 'cluster-default',
} as const;
export type SelectionLevel = (typeof SelectionLevel)[keyof typeof SelectionLevel];

export interface Selection {
  readonly level: SelectionLevel;
  /** Where the names came from, for errors: an annotation key or a CNI config field. */
  readonly source: string;
  /** Candidate pools per family, in order; both absent at the cluster-default level. */
  readonly pools: PoolNames;
  /** ippools' cleangateway (or the CNI config's clean_gateway): the result carries no gateway. */
  readonly cleanGateway: boolean;
}

export interface SelectionInputs {
  readonly nic: string;
  readonly podAnnotations: Annotations;
  readonly namespaceAnnotations: Annotations;
  /** A level the caller resolved from other annotations (Calico's), placed where SelectionLevel says. */
  readonly calico?: { readonly pod?: PoolNames; readonly namespace?: PoolNames; readonly podSource: string; readonly namespaceSource: string };
  /** The CNI configuration's pools (Spiderpool's default_ipv4/6_ippool, or this plugin's ipam.pools). */
  readonly netConf?: PoolNames & { readonly source: string; readonly cleanGateway?: boolean };
  /** The names of existing pools of a family, sorted (for wildcards). */
  poolNames(family: 4 | 6): readonly string[];
  /** The pod's workload's auto pools for this interface, found by the caller (present when the pod names a subnet). */
  readonly autoPools?: PoolNames & { readonly source: string };
}

const hasAny = (p: PoolNames | undefined): boolean => Boolean(p?.ipv4?.length || p?.ipv6?.length);

export function selectPools(i: SelectionInputs): Selection {
  if (i.autoPools) return { level: SelectionLevel.SubnetAutoPool, source: i.autoPools.source, pools: { ...(i.autoPools.ipv4 ? { ipv4: i.autoPools.ipv4 } : {}), ...(i.autoPools.ipv6 ? { ipv6: i.autoPools.ipv6 } : {}) }, cleanGateway: i.netConf?.cleanGateway ?? false };
  // Subnet annotations without the auto-pool feature: upstream refuses them (getPoolCandidates).
  if (hasSubnetAnnotation(i.podAnnotations)) {
    throw new SelectionError(
      i.podAnnotations[SpiderpoolAnnotation.Subnets] !== undefined ? SpiderpoolAnnotation.Subnets : SpiderpoolAnnotation.Subnet,
      `it's invalid to use '${SpiderpoolAnnotation.Subnets}' or '${SpiderpoolAnnotation.Subnet}' annotation when Auto-Pool feature is disabled (auto pools are for pods of workloads, on the CNI config's pools mode); name pools with ${SpiderpoolAnnotation.IPPool}`,
    );
  }
  const make = (level: SelectionLevel, source: string, pools: PoolNames, cleanGateway = false): Selection => ({ level, source, pools: expand(source, pools, i), cleanGateway });
  const multi = i.podAnnotations[SpiderpoolAnnotation.IPPools];
  if (multi !== undefined) {
    const item = ipPoolsItemFor(parseIPPools(multi, i.nic), i.nic);
    return make(SelectionLevel.PodIPPools, SpiderpoolAnnotation.IPPools, item, item.cleanGateway);
  }
  const single = i.podAnnotations[SpiderpoolAnnotation.IPPool];
  if (single !== undefined) return make(SelectionLevel.PodIPPool, SpiderpoolAnnotation.IPPool, parseIPPool(single), i.netConf?.cleanGateway);
  if (hasAny(i.calico?.pod)) return make(SelectionLevel.CalicoPod, i.calico!.podSource, i.calico!.pod!, i.netConf?.cleanGateway);
  const ns = parseNamespaceDefaults(i.namespaceAnnotations);
  if (hasAny(ns)) {
    const source = ns.ipv4?.length ? SpiderpoolAnnotation.NamespaceDefaultV4 : SpiderpoolAnnotation.NamespaceDefaultV6;
    return make(SelectionLevel.Namespace, `namespace annotation ${source}`, ns, i.netConf?.cleanGateway);
  }
  if (hasAny(i.calico?.namespace)) return make(SelectionLevel.CalicoNamespace, i.calico!.namespaceSource, i.calico!.namespace!, i.netConf?.cleanGateway);
  if (hasAny(i.netConf)) return make(SelectionLevel.NetConf, i.netConf!.source, i.netConf!, i.netConf!.cleanGateway);
  return { level: SelectionLevel.ClusterDefault, source: 'the cluster default pools (spec.default: true)', pools: {}, cleanGateway: i.netConf?.cleanGateway ?? false };
}

function expand(source: string, p: PoolNames, i: SelectionInputs): PoolNames {
  const ipv4 = p.ipv4 ? expandWildcards(source, p.ipv4, i.poolNames(4)) : undefined;
  const ipv6 = p.ipv6 ? expandWildcards(source, p.ipv6, i.poolNames(6)) : undefined;
  for (const [fam, list] of [['IPv4', ipv4], ['IPv6', ipv6]] as const) {
    const dup = list?.find((n, k) => list.indexOf(n) !== k);
    if (dup !== undefined) throw new SelectionError(source, `duplicate ${fam} IPPool ${dup} specified`);
  }
  return { ...(ipv4 ? { ipv4 } : {}), ...(ipv6 ? { ipv6 } : {}) };
}
