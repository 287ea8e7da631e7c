// The allocator's public vocabulary: requests, results, compiled pools. Same words as the events.
import type { Endpoint, IpVersion, LabelSelector, PoolOrder, PoolSpec, Route, SubnetSpec } from '../../events/catalogue.js';
import type { IntervalSet } from '../net/ranges.js';

export type { Endpoint, IpVersion, LabelSelector, PoolSpec, Route, SubnetSpec };

/** A pool's spec checked and turned into address sets. */
export interface CompiledPool {
  readonly name: string;
  readonly spec: PoolSpec;
  readonly ipVersion: IpVersion;
  readonly scope: string;
  /** Which free address is handed out first (spec.order, default 'scattered'). */
  readonly order: PoolOrder;
  /** The subnet CIDR, normalised (e.g. "10.6.0.0/16"). */
  readonly subnet: string;
  readonly prefixLength: number;
  /** spec.ips minus spec.excludeIPs: what the pool owns (what a SpiderSubnet has carved to it). */
  readonly owned: IntervalSet;
  /** owned minus network, broadcast and gateway addresses: what it may hand out (before reservations). */
  readonly usable: IntervalSet;
  readonly gateway?: string;
}

export interface CompiledSubnet {
  readonly name: string;
  readonly spec: SubnetSpec;
  readonly ipVersion: IpVersion;
  readonly subnet: string;
  readonly prefixLength: number;
  /** spec.ips minus spec.excludeIPs. */
  readonly owned: IntervalSet;
}

/** Labels the caller knows about, for pool affinity (Spiderpool's namespace/node/pod affinity). */
export interface AffinityContext {
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly namespaceLabels?: Readonly<Record<string, string>>;
  readonly nodeLabels?: Readonly<Record<string, string>>;
  /** Multus network (NetworkAttachmentDefinition) name, for spec.multusName. */
  readonly multusName?: string;
}

export interface AllocateRequest {
  readonly endpoint: Endpoint;
  /** Explicit candidate pools per family, in order of preference (Spiderpool's ipam annotations). */
  readonly pools?: { readonly ipv4?: readonly string[]; readonly ipv6?: readonly string[] };
  /** Pools a namespace names as its defaults (Spiderpool's namespace annotations), used before cluster defaults. */
  readonly namespaceDefaults?: { readonly ipv4?: readonly string[]; readonly ipv6?: readonly string[] };
  /** Families wanted when no explicit pools are named (default: those of the default pools found). */
  readonly families?: readonly IpVersion[];
  readonly affinity?: AffinityContext;
  /**
   * One address from each of these pools, in this order, instead of one per family (Whereabouts' ipRanges: one
   * address per range). `pools`, `namespaceDefaults` and `families` are then not read.
   */
  readonly ranges?: readonly RangeRequest[];
  /** When the decision is taken (RFC 3339), carried into the events. */
  readonly at: string;
}

export interface RangeRequest {
  readonly pool: string;
  /** Where the caller's request gave this range, for errors (e.g. "ipam.ipRanges[1]"). */
  readonly field: string;
  /** Addresses this range may take (Whereabouts' range_start..range_end minus exclude); absent: the whole pool. */
  readonly within?: IntervalSet;
}

export interface Allocation {
  readonly allocationId: string;
  readonly pool: string;
  readonly ipVersion: IpVersion;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly Route[];
  readonly endpoint: Endpoint;
}

export interface AllocateResult {
  readonly allocations: readonly Allocation[];
  /** True when existing allocations were returned (retried ADD, StatefulSet or KubeVirt reuse). */
  readonly reused: boolean;
  /** Revision of the commit holding the decision (or of the existing allocations). */
  readonly revision: number;
}
