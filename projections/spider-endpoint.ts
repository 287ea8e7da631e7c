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
import { produce, type Draft } from 'immer';
import type { IPAllocatedData, IPReleasedData, LoggedEvent, Route } from '../events/catalogue.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

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

/** The addresses one interface holds, per family. */
export interface NicSlots {
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
  readonly nics: Readonly<Record<string, NicSlots>>;
}

export interface AllocationRef {
  readonly key: string;
  readonly nic: string;
  readonly family: 'v4' | 'v6';
}

export interface SpiderEndpointState extends DocumentState<SpiderEndpointObject> {
  /** Current allocations only: allocationId → where it is held. */
  readonly byAllocation: Readonly<Record<string, AllocationRef>>;
  /** Pods holding at least one address, by `namespace/name`. */
  readonly pods: Readonly<Record<string, SpiderPodRecord>>;
}

const own = <V>(rec: Readonly<Record<string, V>>, k: string): V | undefined =>
  Object.prototype.hasOwnProperty.call(rec, k) ? rec[k] : undefined;

export const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

const copyRoutes = (routes: readonly Route[]): SpiderRoute[] => routes.map((r) => ({ dst: r.dst, gw: r.gw }));

function heldFrom(d: IPAllocatedData): HeldAddress {
  return {
    allocationId: d.allocationId,
    pool: d.pool,
    address: d.address,
    prefixLength: d.prefixLength,
    ...(d.gateway !== undefined ? { gateway: d.gateway } : {}),
    ...(d.vlan !== undefined ? { vlan: d.vlan } : {}),
    ...(d.routes !== undefined && d.routes.length > 0 ? { routes: copyRoutes(d.routes) } : {}),
  };
}

/** The interface entry for one NIC's slots (both families in one entry), or undefined when it holds nothing. */
export function renderDetail(nic: string, slots: NicSlots): SpiderIPAllocationDetail | undefined {
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
  for (const [nic, slots] of Object.entries(pod.nics)) {
    const detail = renderDetail(nic, slots);
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

type S = Draft<SpiderEndpointState>;

/** Removes an allocation from its slot (and the slot/pod when empty). Returns the pod key it touched. */
function unhold(draft: S, allocationId: string): string | undefined {
  const ref = own(draft.byAllocation, allocationId);
  if (ref === undefined) return undefined;
  delete draft.byAllocation[allocationId];
  const pod = own(draft.pods, ref.key);
  const slots = pod === undefined ? undefined : own(pod.nics, ref.nic);
  if (pod === undefined || slots === undefined) return ref.key;
  if (slots[ref.family]?.allocationId === allocationId) delete slots[ref.family];
  if (slots.v4 === undefined && slots.v6 === undefined) delete pod.nics[ref.nic];
  if (Object.keys(pod.nics).length === 0) delete draft.pods[ref.key];
  return ref.key;
}

function rerender(draft: S, key: string): void {
  const pod = own(draft.pods, key);
  const obj = pod === undefined ? undefined : renderSpiderEndpoint(pod as SpiderPodRecord);
  if (obj === undefined) delete draft.objects[key];
  else draft.objects[key] = obj as Draft<SpiderEndpointObject>;
}

function onAllocated(draft: S, d: IPAllocatedData): void {
  const ep = d.endpoint;
  const key = podKey(ep.namespace, ep.name);
  const family = d.ipVersion === 6 ? 'v6' : 'v4';
  // A replayed allocationId moves to where the event says; the slot's previous holder is replaced.
  const movedFrom = unhold(draft, d.allocationId);
  if (movedFrom !== undefined && movedFrom !== key) rerender(draft, movedFrom);
  const existing = own(draft.pods, key);
  const identity = {
    namespace: ep.namespace,
    name: ep.name,
    uid: ep.uid,
    node: ep.node,
    containerID: ep.containerID,
    ownerControllerType: ep.owner?.kind ?? 'Pod',
    ownerControllerName: ep.owner?.name ?? ep.name,
  };
  let pod: Draft<SpiderPodRecord>;
  if (existing === undefined) {
    pod = { ...identity, nics: {} };
    draft.pods[key] = pod;
    pod = draft.pods[key]!;
  } else {
    Object.assign(existing, identity);
    pod = existing;
  }
  let slots = own(pod.nics, ep.nic);
  if (slots === undefined) {
    pod.nics[ep.nic] = {};
    slots = pod.nics[ep.nic]!;
  }
  const previous = slots[family];
  if (previous !== undefined) delete draft.byAllocation[previous.allocationId];
  slots[family] = heldFrom(d) as Draft<HeldAddress>;
  draft.byAllocation[d.allocationId] = { key, nic: ep.nic, family };
  rerender(draft, key);
}

function onReleased(draft: S, d: IPReleasedData): void {
  const key = unhold(draft, d.allocationId); // stale (replaced or unknown) releases find nothing
  if (key !== undefined) rerender(draft, key);
}

export function applySpiderEndpointEvent(draft: S, e: LoggedEvent): void {
  const ev = e.event;
  if (ev.type === 'IPAllocated') onAllocated(draft, ev.data);
  else if (ev.type === 'IPReleased') onReleased(draft, ev.data);
}

export const spiderEndpointProjection: Projection<SpiderEndpointState> = {
  name: 'spider-endpoints',
  version: 1,
  handles: ['IPAllocated', 'IPReleased'],
  initial: () => ({ objects: {}, byAllocation: {}, pods: {} }),
  apply(state, events) {
    if (events.length === 0) return state;
    return produce(state, (draft) => {
      for (const e of events) applySpiderEndpointEvent(draft, e);
    });
  },
};
