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
import type { IPAllocatedData, IPReleasedData, Route } from '../events/catalogue.js';
import { Documents } from './documents.js';
import type { DocumentProjection, K8sObject } from './types.js';

export const SPIDER_API_VERSION = 'spiderpool.spidernet.io/v2beta1';
export const SPIDER_ENDPOINT_KIND = 'SpiderEndpoint';

export interface SpiderRoute {
  readonly dst: string;
  readonly gw: string;
}

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

/** One address a slot holds, as the allocation described it. */
export interface HeldAddress {
  readonly allocationId: string;
  readonly pool: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly SpiderRoute[];
}

/** The addresses one interface holds, per family (at least one). */
export interface NicSlots {
  readonly nic: string;
  readonly v4?: HeldAddress;
  readonly v6?: HeldAddress;
}

/** Per pod: the latest allocation's identity and every interface's addresses, in first-allocation order. */
export interface SpiderPodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string;
  readonly containerID: string;
  readonly ownerControllerType: string;
  readonly ownerControllerName: string;
  /** In first-allocation order. */
  readonly nics: readonly NicSlots[];
}

export const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

const copyRoutes = (routes: readonly Route[]): SpiderRoute[] => routes.map((r) => ({ dst: r.dst, gw: r.gw }));

// Records have one shape each (absent optional fields are undefined), so the hot path stays monomorphic.
function held(h: Omit<HeldAddress, 'routes'>, routes: readonly Route[] | undefined): HeldAddress {
  return {
    allocationId: h.allocationId,
    pool: h.pool,
    address: h.address,
    prefixLength: h.prefixLength,
    gateway: h.gateway,
    vlan: h.vlan,
    routes: routes !== undefined && routes.length > 0 ? copyRoutes(routes) : undefined,
  };
}

const slots = (nic: string, v4: HeldAddress | undefined, v6: HeldAddress | undefined): NicSlots => ({ nic, v4, v6 });

function podRecord(p: Omit<SpiderPodRecord, 'nics'>, nics: readonly NicSlots[]): SpiderPodRecord {
  return {
    namespace: p.namespace,
    name: p.name,
    uid: p.uid,
    node: p.node,
    containerID: p.containerID,
    ownerControllerType: p.ownerControllerType,
    ownerControllerName: p.ownerControllerName,
    nics,
  };
}

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

function copyPod(p: SpiderPodRecord): SpiderPodRecord {
  const copy = (h: HeldAddress | undefined) => (h === undefined ? undefined : held(h, h.routes));
  return podRecord(
    p,
    p.nics.map((n) => slots(n.nic, copy(n.v4), copy(n.v6))),
  );
}

/** SpiderEndpoint state: pods by `namespace/name` (immutable records, replaced per change) and current allocations. */
export class SpiderEndpoints extends Documents<SpiderPodRecord> {
  /** Pods holding at least one address. */
  private readonly pods = new Map<string, SpiderPodRecord>();
  /** Current allocations only: allocationId → pod key (the slot is the one holding that id). */
  private readonly byAllocation = new Map<string, string>();

  constructor(json?: unknown) {
    super();
    if (json === undefined) return;
    const pods = (json as { pods?: unknown } | null)?.pods;
    if (!Array.isArray(pods)) throw new Error('spider-endpoints: checkpoint has no pods list');
    for (const raw of pods as SpiderPodRecord[]) {
      const pod = copyPod(raw);
      const key = podKey(pod.namespace, pod.name);
      this.pods.set(key, pod);
      for (const n of pod.nics) {
        if (n.v4 !== undefined) this.byAllocation.set(n.v4.allocationId, key);
        if (n.v6 !== undefined) this.byAllocation.set(n.v6.allocationId, key);
      }
    }
  }

  get size(): number {
    return this.pods.size;
  }

  /** Number of current allocations (tests, diagnostics). */
  get allocationCount(): number {
    return this.byAllocation.size;
  }

  /** Ids of the current allocations (tests, diagnostics). */
  allocationIds(): string[] {
    return [...this.byAllocation.keys()];
  }

  /** A pod's record (tests, diagnostics). */
  pod(key: string): SpiderPodRecord | undefined {
    return this.pods.get(key);
  }

  protected recordOf(key: string): SpiderPodRecord | undefined {
    return this.pods.get(key);
  }

  protected render(pod: SpiderPodRecord): K8sObject {
    return renderSpiderEndpoint(pod)!; // a stored pod holds at least one address
  }

  protected objectKeys(): Iterable<string> {
    return this.pods.keys();
  }

  toJSON(): { pods: SpiderPodRecord[] } {
    return { pods: [...this.pods.values()] };
  }

  /** Removes a current allocation from its slot (and the slot/pod when empty). */
  private unhold(allocationId: string): void {
    const key = this.byAllocation.get(allocationId);
    if (key === undefined) return;
    this.byAllocation.delete(allocationId);
    const pod = this.pods.get(key);
    if (pod === undefined) return;
    for (let i = 0; i < pod.nics.length; i++) {
      const n = pod.nics[i]!;
      const v4 = n.v4?.allocationId === allocationId ? undefined : n.v4;
      const v6 = n.v6?.allocationId === allocationId ? undefined : n.v6;
      if (v4 === n.v4 && v6 === n.v6) continue;
      this.touch(key);
      const nics = pod.nics.slice();
      if (v4 === undefined && v6 === undefined) nics.splice(i, 1);
      else nics[i] = slots(n.nic, v4, v6);
      if (nics.length === 0) this.pods.delete(key);
      else this.pods.set(key, podRecord(pod, nics));
      return;
    }
  }

  allocated(d: IPAllocatedData): void {
    const ep = d.endpoint;
    const key = podKey(ep.namespace, ep.name);
    // A replayed allocationId moves to where the event says; the slot's previous holder is replaced.
    this.unhold(d.allocationId);
    this.touch(key);
    const h = held(d, d.routes);
    const existing = this.pods.get(key);
    let nics: NicSlots[];
    const i = existing === undefined ? -1 : existing.nics.findIndex((n) => n.nic === ep.nic);
    if (i < 0) {
      const fresh = d.ipVersion === 6 ? slots(ep.nic, undefined, h) : slots(ep.nic, h, undefined);
      nics = existing === undefined ? [fresh] : [...existing.nics, fresh];
    } else {
      nics = existing!.nics.slice();
      const n = nics[i]!;
      const previous = d.ipVersion === 6 ? n.v6 : n.v4;
      if (previous !== undefined) this.byAllocation.delete(previous.allocationId);
      nics[i] = d.ipVersion === 6 ? slots(ep.nic, n.v4, h) : slots(ep.nic, h, n.v6);
    }
    const owner = ep.owner;
    this.pods.set(
      key,
      podRecord(
        {
          namespace: ep.namespace,
          name: ep.name,
          uid: ep.uid,
          node: ep.node,
          containerID: ep.containerID,
          ownerControllerType: owner?.kind ?? 'Pod',
          ownerControllerName: owner?.name ?? ep.name,
        },
        nics,
      ),
    );
    this.byAllocation.set(d.allocationId, key);
  }

  released(d: IPReleasedData): void {
    this.unhold(d.allocationId); // stale (replaced or unknown) releases find nothing
  }
}

export const spiderEndpointProjection: DocumentProjection<SpiderEndpoints> = {
  name: 'spider-endpoints',
  version: 2,
  handles: ['IPAllocated', 'IPReleased'],
  initial: () => new SpiderEndpoints(),
  restore: (json) => new SpiderEndpoints(json),
  apply(state, events) {
    for (const { event: ev } of events) {
      if (ev.type === 'IPAllocated') state.allocated(ev.data);
      else if (ev.type === 'IPReleased') state.released(ev.data);
    }
    return state;
  },
};

/** The SpiderEndpoint projection's state. */
export type SpiderEndpointState = SpiderEndpoints;
