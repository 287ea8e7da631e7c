// Calico WorkloadEndpoint (projectcalico.org/v3): one object per (pod, interface), holding both families as
// /32 and /128 ipNetworks. Same slot semantics as the SpiderEndpoint projection: an allocation for an already held
// (pod, nic, family) slot replaces the holder; a release applies only to the current allocation; the object
// exists while the interface holds at least one address. Its name follows Calico's escaping and includes the
// node, so a pod that comes back on another node gets a new object (the old one goes).
import { produce, type Draft } from 'immer';
import type { IPAllocatedData, IPReleasedData, LoggedEvent } from '../events/catalogue.js';
import { hostInterfaceName, K8S_ORCHESTRATOR, workloadEndpointName } from './calico-names.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

export const CALICO_API_VERSION = 'projectcalico.org/v3';
export const WORKLOAD_ENDPOINT_KIND = 'WorkloadEndpoint';
/** The interface Calico's CNI plugin wires itself; its host-side veth name is derivable. */
const PRIMARY_NIC = 'eth0';

export interface WorkloadEndpointSpec {
  readonly orchestrator: string;
  readonly node: string;
  readonly containerID: string;
  readonly pod: string;
  readonly endpoint: string;
  readonly ipNetworks: readonly string[];
  readonly ipv4Gateway?: string;
  readonly ipv6Gateway?: string;
  readonly interfaceName?: string;
}

export type WorkloadEndpointObject = K8sObject<WorkloadEndpointSpec, never>;

export interface CalicoHeld {
  readonly allocationId: string;
  readonly address: string;
  readonly gateway?: string;
}

/** One (pod, nic): the latest allocation's node/containerID and the address per family. */
export interface CalicoInterfaceRecord {
  readonly namespace: string;
  readonly pod: string;
  readonly nic: string;
  readonly node: string;
  readonly containerID: string;
  readonly v4?: CalicoHeld;
  readonly v6?: CalicoHeld;
  /** The key of the object currently rendered for it (`namespace/<wep name>`). */
  readonly objectKey: string;
}

export interface CalicoAllocationRef {
  readonly key: string;
  readonly family: 'v4' | 'v6';
}

export interface CalicoWorkloadEndpointState extends DocumentState<WorkloadEndpointObject> {
  /** Current allocations only: allocationId → interface record key and family. */
  readonly byAllocation: Readonly<Record<string, CalicoAllocationRef>>;
  /** Interfaces holding at least one address, by `namespace/pod/nic`. */
  readonly interfaces: Readonly<Record<string, CalicoInterfaceRecord>>;
}

const own = <V>(rec: Readonly<Record<string, V>>, k: string): V | undefined =>
  Object.prototype.hasOwnProperty.call(rec, k) ? rec[k] : undefined;

const interfaceKey = (namespace: string, pod: string, nic: string): string => `${namespace}/${pod}/${nic}`;

/** `address/32` for IPv4, `address/128` for IPv6 (Calico supports only host networks here). */
export function hostNetwork(address: string, family: 'v4' | 'v6'): string {
  return `${address}/${family === 'v6' ? 128 : 32}`;
}

export function renderWorkloadEndpoint(r: Omit<CalicoInterfaceRecord, 'objectKey'>): WorkloadEndpointObject | undefined {
  const ipNetworks: string[] = [];
  if (r.v4 !== undefined) ipNetworks.push(hostNetwork(r.v4.address, 'v4'));
  if (r.v6 !== undefined) ipNetworks.push(hostNetwork(r.v6.address, 'v6'));
  if (ipNetworks.length === 0) return undefined;
  return {
    apiVersion: CALICO_API_VERSION,
    kind: WORKLOAD_ENDPOINT_KIND,
    metadata: {
      name: workloadEndpointName(r.node, K8S_ORCHESTRATOR, r.pod, r.nic),
      namespace: r.namespace,
      labels: { 'projectcalico.org/namespace': r.namespace, 'projectcalico.org/orchestrator': K8S_ORCHESTRATOR },
    },
    spec: {
      orchestrator: K8S_ORCHESTRATOR,
      node: r.node,
      containerID: r.containerID,
      pod: r.pod,
      endpoint: r.nic,
      ipNetworks,
      ...(r.v4?.gateway !== undefined ? { ipv4Gateway: r.v4.gateway } : {}),
      ...(r.v6?.gateway !== undefined ? { ipv6Gateway: r.v6.gateway } : {}),
      ...(r.nic === PRIMARY_NIC ? { interfaceName: hostInterfaceName(r.namespace, r.pod) } : {}),
    },
  };
}

type S = Draft<CalicoWorkloadEndpointState>;

const objectKeyOf = (r: Pick<CalicoInterfaceRecord, 'namespace' | 'node' | 'pod' | 'nic'>): string =>
  `${r.namespace}/${workloadEndpointName(r.node, K8S_ORCHESTRATOR, r.pod, r.nic)}`;

/** Re-renders one interface's object, dropping the record (and object) when it holds nothing. */
function rerender(draft: S, key: string): void {
  const r = own(draft.interfaces, key);
  if (r === undefined) return;
  const obj = renderWorkloadEndpoint(r);
  const objectKey = objectKeyOf(r);
  if (r.objectKey !== objectKey) {
    delete draft.objects[r.objectKey];
    r.objectKey = objectKey;
  }
  if (obj === undefined) {
    delete draft.objects[objectKey];
    delete draft.interfaces[key];
  } else {
    draft.objects[objectKey] = obj as Draft<WorkloadEndpointObject>;
  }
}

function unhold(draft: S, allocationId: string): string | undefined {
  const ref = own(draft.byAllocation, allocationId);
  if (ref === undefined) return undefined;
  delete draft.byAllocation[allocationId];
  const r = own(draft.interfaces, ref.key);
  if (r !== undefined && r[ref.family]?.allocationId === allocationId) delete r[ref.family];
  return ref.key;
}

function onAllocated(draft: S, d: IPAllocatedData): void {
  const ep = d.endpoint;
  const key = interfaceKey(ep.namespace, ep.name, ep.nic);
  const family = d.ipVersion === 6 ? 'v6' : 'v4';
  const movedFrom = unhold(draft, d.allocationId);
  if (movedFrom !== undefined && movedFrom !== key) rerender(draft, movedFrom);
  let r = own(draft.interfaces, key);
  if (r === undefined) {
    const fresh = { namespace: ep.namespace, pod: ep.name, nic: ep.nic, node: ep.node, containerID: ep.containerID };
    draft.interfaces[key] = { ...fresh, objectKey: objectKeyOf(fresh) };
    r = draft.interfaces[key]!;
  } else {
    r.node = ep.node;
    r.containerID = ep.containerID;
  }
  const previous = r[family];
  if (previous !== undefined) delete draft.byAllocation[previous.allocationId];
  r[family] = { allocationId: d.allocationId, address: d.address, ...(d.gateway !== undefined ? { gateway: d.gateway } : {}) };
  draft.byAllocation[d.allocationId] = { key, family };
  rerender(draft, key);
}

function onReleased(draft: S, d: IPReleasedData): void {
  const key = unhold(draft, d.allocationId);
  if (key !== undefined) rerender(draft, key);
}

export function applyCalicoWorkloadEndpointEvent(draft: S, e: LoggedEvent): void {
  const ev = e.event;
  if (ev.type === 'IPAllocated') onAllocated(draft, ev.data);
  else if (ev.type === 'IPReleased') onReleased(draft, ev.data);
}

export const calicoWorkloadEndpointProjection: Projection<CalicoWorkloadEndpointState> = {
  name: 'calico-workload-endpoints',
  version: 1,
  handles: ['IPAllocated', 'IPReleased'],
  initial: () => ({ objects: {}, byAllocation: {}, interfaces: {} }),
  apply(state, events) {
    if (events.length === 0) return state;
    return produce(state, (draft) => {
      for (const e of events) applyCalicoWorkloadEndpointEvent(draft, e);
    });
  },
};
