// The event catalogue: the contract between deciders, the store, projections and replay.
// Past tense; every type has its current version in EVENT_VERSIONS. Old versions are upcast on read (codec.ts).
import type { EventEnvelope } from './envelope.js';

export type IpVersion = 4 | 6;

export interface Route {
  readonly dst: string;
  readonly gw: string;
}

export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  readonly values?: readonly string[];
}

export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** The address fields SpiderSubnet and SpiderIPPool specs share. */
interface AddressSpec {
  readonly ipVersion: IpVersion;
  readonly subnet: string;
  readonly ips: readonly string[];
  readonly excludeIPs?: readonly string[];
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly Route[];
}

/** SpiderSubnet spec (spiderpool.spidernet.io/v2beta1). */
export type SubnetSpec = AddressSpec;

/** SpiderIPPool spec (spiderpool.spidernet.io/v2beta1), plus the address scope the pool's IPs live in. */
export interface PoolSpec extends AddressSpec {
  readonly default?: boolean;
  readonly disable?: boolean;
  readonly namespaceAffinity?: LabelSelector;
  readonly namespaceName?: readonly string[];
  readonly nodeAffinity?: LabelSelector;
  readonly nodeName?: readonly string[];
  readonly podAffinity?: LabelSelector;
  readonly multusName?: readonly string[];
  /** Address space; pools in different scopes may reuse addresses (overlapping networks). Default "default". */
  readonly scope?: string;
  /**
   * Which free address is handed out first (absent: 'scattered'): 'scattered' = never-used first from a random
   * start, released ones last; 'lowest' = Whereabouts' lowest free address, a released one at once again.
   */
  readonly order?: PoolOrder;
  /**
   * May overlap other pools of its scope that also say so (Whereabouts' enable_overlapping_ranges): an address is
   * still held once per scope, whichever pool hands it out.
   */
  readonly sharedAddresses?: boolean;
}

export const PoolOrder = { Scattered: 'scattered', Lowest: 'lowest' } as const;
export type PoolOrder = (typeof PoolOrder)[keyof typeof PoolOrder];

export interface Owner {
  readonly kind: string;
  readonly name: string;
}

/** The pod interface an address is allocated to. */
export interface Endpoint {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerID: string;
  readonly node: string;
  readonly nic: string;
  readonly owner?: Owner;
}

export const ReleaseReason = {
  CniDel: 'cni-del',
  PodGone: 'pod-gone',
  Orphan: 'orphan',
  Admin: 'admin',
} as const;
export type ReleaseReason = (typeof ReleaseReason)[keyof typeof ReleaseReason];

/** Labels and annotations a user gave the object (kubectl apply keeps its last-applied configuration here). */
export interface ObjectMeta {
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
  /** Server-side apply's field ownership, as the Kubernetes API server keeps it (src/api/kube/managed-fields.ts). */
  readonly managedFields?: readonly ManagedFieldsEntry[];
}
/** metadata.managedFields[]: which manager owns which fields (FieldsV1: nested {"f:<field>": {...}}). */
export interface FieldsV1 {
  readonly [field: string]: FieldsV1;
}
export interface ManagedFieldsEntry {
  readonly manager: string;
  readonly operation: 'Apply' | 'Update';
  readonly apiVersion: string;
  readonly time: string;
  readonly fieldsType: 'FieldsV1';
  readonly fieldsV1: FieldsV1;
}
export interface SubnetDefinedData { readonly name: string; readonly spec: SubnetSpec; readonly metadata?: ObjectMeta }
export interface SubnetChangedData { readonly name: string; readonly spec: SubnetSpec; readonly metadata?: ObjectMeta }
export interface SubnetRemovedData { readonly name: string }
export interface PoolDefinedData { readonly name: string; readonly spec: PoolSpec; readonly metadata?: ObjectMeta }
export interface PoolChangedData { readonly name: string; readonly spec: PoolSpec; readonly metadata?: ObjectMeta }
export interface PoolRemovedData { readonly name: string }
/** IPs of a subnet assigned to a pool (the pool's full set in that subnet after the change is spec.ips of the pool). */
export interface PoolCarvedData { readonly subnet: string; readonly pool: string; readonly ips: readonly string[] }
export interface PoolReturnedData { readonly subnet: string; readonly pool: string; readonly ips: readonly string[] }

export interface IPAllocatedData {
  readonly allocationId: string;
  readonly pool: string;
  readonly ipVersion: IpVersion;
  readonly address: string;
  /** Prefix length of the pool's subnet, so the interface gets address/prefix. */
  readonly prefixLength: number;
  readonly endpoint: Endpoint;
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly Route[];
  /** v2: absent when the engine picked the address; 'adopted' when `ipam adopt` took over an existing allocation. */
  readonly reason?: AllocationReason;
  /** v2, with reason 'adopted': where the allocation was found, e.g. "whereabouts IPPool kube-system/net1". */
  readonly adoptedFrom?: string;
}

export const AllocationReason = { Adopted: 'adopted' } as const;
export type AllocationReason = (typeof AllocationReason)[keyof typeof AllocationReason];

export interface IPReleasedData {
  readonly allocationId: string;
  readonly pool: string;
  readonly address: string;
  readonly reason: ReleaseReason;
  readonly endpoint: Pick<Endpoint, 'namespace' | 'name' | 'nic' | 'containerID'>;
}

/** SpiderReservedIP: addresses no pool may hand out. */
/** A reservation made, or (for a name already reserved) replaced: its full set of ips after the event. */
export interface IPReservedData { readonly name: string; readonly ipVersion: IpVersion; readonly ips: readonly string[]; readonly metadata?: ObjectMeta }
export interface IPUnreservedData { readonly name: string }

export interface EventDataByType {
  SubnetDefined: SubnetDefinedData;
  SubnetChanged: SubnetChangedData;
  SubnetRemoved: SubnetRemovedData;
  PoolDefined: PoolDefinedData;
  PoolChanged: PoolChangedData;
  PoolRemoved: PoolRemovedData;
  PoolCarved: PoolCarvedData;
  PoolReturned: PoolReturnedData;
  IPAllocated: IPAllocatedData;
  IPReleased: IPReleasedData;
  IPReserved: IPReservedData;
  IPUnreserved: IPUnreservedData;
}

export type EventType = keyof EventDataByType;

export type DomainEvent = { [T in EventType]: EventEnvelope<T, EventDataByType[T]> }[EventType];
export type EventOf<T extends EventType> = Extract<DomainEvent, { type: T }>;

/** Current data version of every type; bump it together with an upcaster in codec.ts. */
export const EVENT_VERSIONS: { readonly [T in EventType]: number } = {
  SubnetDefined: 1,
  SubnetChanged: 1,
  SubnetRemoved: 1,
  PoolDefined: 1,
  PoolChanged: 1,
  PoolRemoved: 1,
  PoolCarved: 1,
  PoolReturned: 1,
  IPAllocated: 2, // 2: optional reason 'adopted' and adoptedFrom (v1 records are allocations the engine made)
  IPReleased: 1,
  IPReserved: 1,
  IPUnreserved: 1,
};

export const EVENT_TYPES = Object.keys(EVENT_VERSIONS) as readonly EventType[];

export function isEventType(t: string): t is EventType {
  return Object.prototype.hasOwnProperty.call(EVENT_VERSIONS, t);
}

/** Builds an event of the current version; id, time and tags come in with the command. */
export function makeEvent<T extends EventType>(
  type: T,
  data: EventDataByType[T],
  meta: { id: string; at: string; tags: readonly string[] },
): EventOf<T> {
  return { id: meta.id, type, v: EVENT_VERSIONS[type], at: meta.at, tags: meta.tags, data } as unknown as EventOf<T>;
}

/** A domain event as read back from the log, with its place in the global order. */
export type LoggedEvent = import('./envelope.js').StoredEvent<DomainEvent>;
