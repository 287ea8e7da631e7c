// SpiderEndpoint (spiderpool.spidernet.io/v2beta1): one object per pod (or KubeVirt VM), holding the addresses the
// pod currently has, one entry per interface with both families.
//
// Semantics:
// - An IPAllocated for a (pod, nic, family) slot that is already held replaces the previous holder (StatefulSet or
//   KubeVirt reuse, or a new sandbox); `current.uid`/`node` and the owner follow the latest allocation.
// - An IPReleased applies only if its allocationId is the slot's current allocation; otherwise it is stale.
// - The object exists while the pod holds at least one address.
// - v2beta1's PodIPAllocation has no `history` (and no containerID): the v2beta1 reference (seed 001) lists only
//   current/ownerControllerType/ownerControllerName, so the rendered status has no history field.
import { Documents } from './documents.js';
import { ENDPOINT_GROUP, ENDPOINT_HANDLES, EndpointIndex, indexOf, podKey, type EndpointView, type IndexedEndpoints, type NicSlots, type PodRecord, type SpiderRoute } from './endpoint-index.js';
import type { DocumentProjection, K8sObject } from './types.js';

export const SPIDER_API_VERSION = 'spiderpool.spidernet.io/v2beta1';
export const SPIDER_ENDPOINT_KIND = 'SpiderEndpoint';

export interface SpiderIPAllocationDetail {
  readonly interface: string;
  readonly ipv4?: string;
  readonly ipv6?: string;
  readonly ipv4Pool?: string;
  readonly ipv6Pool?: string;
  readonly vlan?: number;
  readonly ipv4Gateway?: string;
  readonly ipv6Gateway?: string;
  readonly cleanGateway?: boolean;
  readonly routes?: readonly SpiderRoute[];
}

export interface SpiderPodIPAllocation {
  readonly uid: string;
  readonly node: string;
  readonly ips: readonly SpiderIPAllocationDetail[];
}

export interface SpiderEndpointStatus {
  readonly current: SpiderPodIPAllocation;
  readonly ownerControllerType: string;
  readonly ownerControllerName: string;
}

export type SpiderEndpointObject = K8sObject<never, SpiderEndpointStatus>;

/** Per pod: the latest allocation's identity and every interface's addresses, in first-allocation order. */
export type SpiderPodRecord = PodRecord;

const copyRoutes = (routes: readonly SpiderRoute[]): SpiderRoute[] => routes.map((r) => ({ dst: r.dst, gw: r.gw }));

/** The interface entry for one NIC's slots (both families in one entry), or undefined when it holds nothing. */
export function renderDetail(nic: string, slots: Omit<NicSlots, 'nic'>): SpiderIPAllocationDetail | undefined {
  const { v4, v6 } = slots;
  if (v4 === undefined && v6 === undefined) return undefined;
  const vlan = v4?.vlan ?? v6?.vlan;
  const routes = [...(v4?.routes ?? []), ...(v6?.routes ?? [])];
  return {
    interface: nic,
    ...(v4 !== undefined ? { ipv4: `${v4.address}/${v4.prefixLength}`, ipv4Pool: v4.pool } : {}),
    ...(v6 !== undefined ? { ipv6: `${v6.address}/${v6.prefixLength}`, ipv6Pool: v6.pool } : {}),
    ...(vlan !== undefined ? { vlan } : {}),
    ...(v4?.gateway !== undefined ? { ipv4Gateway: v4.gateway } : {}),
    ...(v6?.gateway !== undefined ? { ipv6Gateway: v6.gateway } : {}),
    ...(routes.length > 0 ? { routes: copyRoutes(routes) } : {}),
  };
}

/** The SpiderEndpoint for a pod record, or undefined when the pod holds no address. */
export function renderSpiderEndpoint(pod: SpiderPodRecord): SpiderEndpointObject | undefined {
  const ips: SpiderIPAllocationDetail[] = [];
  for (const slots of pod.nics) {
    const detail = renderDetail(slots.nic, slots);
    if (detail !== undefined) ips.push(detail);
  }
  if (ips.length === 0) return undefined;
  return {
    apiVersion: SPIDER_API_VERSION,
    kind: SPIDER_ENDPOINT_KIND,
    metadata: { name: pod.name, namespace: pod.namespace },
    status: {
      current: { uid: pod.uid, node: pod.node, ips },
      ownerControllerType: pod.ownerControllerType,
      ownerControllerName: pod.ownerControllerName,
    },
  };
}

/** The SpiderEndpoint projection's read side over an endpoint index: one object per pod, keyed `namespace/name`. */
export class SpiderEndpoints extends Documents<PodRecord> implements EndpointView, IndexedEndpoints {
  constructor(readonly index: EndpointIndex) {
    super();
    index.attach(this);
  }

  get size(): number {
    return this.index.podCount;
  }

  /** Number of current allocations (tests, diagnostics). */
  get allocationCount(): number {
    return this.index.allocationCount;
  }

  /** Ids of the current allocations (tests, diagnostics). */
  allocationIds(): string[] {
    return this.index.allocationIds();
  }

  /** A pod's record (tests, diagnostics). */
  pod(key: string): SpiderPodRecord | undefined {
    return this.index.pod(key);
  }

  override trackChanges(): void {
    super.trackChanges();
    this.index.track();
  }

  podChanging(namespace: string, pod: string): void {
    this.touch(podKey(namespace, pod));
  }

  protected recordOf(key: string): SpiderPodRecord | undefined {
    return this.index.pod(key);
  }

  protected render(pod: SpiderPodRecord): K8sObject {
    return renderSpiderEndpoint(pod)!; // a stored pod holds at least one address
  }

  protected objectKeys(): Iterable<string> {
    return this.index.podKeys();
  }

  toJSON(): { pods: SpiderPodRecord[] } {
    return this.index.toJSON();
  }
}

const NAME = 'spider-endpoints';

export const spiderEndpointProjection: DocumentProjection<SpiderEndpoints> = {
  name: NAME,
  version: 3,
  handles: ENDPOINT_HANDLES,
  group: ENDPOINT_GROUP,
  initial: () => new SpiderEndpoints(new EndpointIndex()),
  restore: (json) => new SpiderEndpoints(EndpointIndex.restore(NAME, json)),
  share: (sibling) => new SpiderEndpoints(indexOf(NAME, sibling)),
  apply(state, events) {
    state.index.apply(events);
    return state;
  },
};

/** The SpiderEndpoint projection's state. */
export type SpiderEndpointState = SpiderEndpoints;
