// Calico WorkloadEndpoint (projectcalico.org/v3): one object per (pod, interface), holding both families as
// /32 and /128 ipNetworks. Same slot semantics as the SpiderEndpoint projection: an allocation for an already held
// (pod, nic, family) slot replaces the holder; a release applies only to the current allocation; the object
// exists while the interface holds at least one address. Its name follows Calico's escaping and includes the
// node, so a pod that comes back on another node gets a new object (the old one goes).
import type { IPAllocatedData, IPReleasedData } from '../events/catalogue.js';
import { hostInterfaceName, K8S_ORCHESTRATOR, workloadEndpointName } from './calico-names.js';
import { Documents } from './documents.js';
import type { DocumentProjection, K8sObject } from './types.js';

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

const objectKeyOf = (r: Pick<CalicoInterfaceRecord, 'namespace' | 'node' | 'pod' | 'nic'>): string =>
  `${r.namespace}/${workloadEndpointName(r.node, K8S_ORCHESTRATOR, r.pod, r.nic)}`;

const copyHeld = (h: CalicoHeld): CalicoHeld => ({ allocationId: h.allocationId, address: h.address, gateway: h.gateway });

/** Every record has one shape (absent families are undefined), so the hot path stays monomorphic. */
function record(
  id: Pick<CalicoInterfaceRecord, 'namespace' | 'pod' | 'nic'>,
  node: string,
  containerID: string,
  v4: CalicoHeld | undefined,
  v6: CalicoHeld | undefined,
  objectKey: string,
): CalicoInterfaceRecord {
  return { namespace: id.namespace, pod: id.pod, nic: id.nic, node, containerID, v4, v6, objectKey };
}

/**
 * Calico WorkloadEndpoint state: interfaces holding at least one address (immutable records, replaced per change),
 * by `namespace/pod/nic` and by the key of the object they render to, and the current allocations.
 */
export class CalicoWorkloadEndpoints extends Documents<CalicoInterfaceRecord> {
  private readonly interfaces = new Map<string, CalicoInterfaceRecord>();
  private readonly objects = new Map<string, CalicoInterfaceRecord>();
  /** Current allocations only: allocationId → interface key (the family is the slot holding that id). */
  private readonly byAllocation = new Map<string, string>();

  constructor(json?: unknown) {
    super();
    if (json === undefined) return;
    const list = (json as { interfaces?: unknown } | null)?.interfaces;
    if (!Array.isArray(list)) throw new Error('calico-workload-endpoints: checkpoint has no interfaces list');
    for (const raw of list as CalicoInterfaceRecord[]) {
      const r = record(raw, raw.node, raw.containerID, raw.v4 && copyHeld(raw.v4), raw.v6 && copyHeld(raw.v6), raw.objectKey);
      const key = interfaceKey(r.namespace, r.pod, r.nic);
      this.interfaces.set(key, r);
      this.objects.set(r.objectKey, r);
      if (r.v4 !== undefined) this.byAllocation.set(r.v4.allocationId, key);
      if (r.v6 !== undefined) this.byAllocation.set(r.v6.allocationId, key);
    }
  }

  get size(): number {
    return this.objects.size;
  }

  /** Number of current allocations (tests, diagnostics). */
  get allocationCount(): number {
    return this.byAllocation.size;
  }

  /** Ids of the current allocations (tests, diagnostics). */
  allocationIds(): string[] {
    return [...this.byAllocation.keys()];
  }

  protected recordOf(key: string): CalicoInterfaceRecord | undefined {
    return this.objects.get(key);
  }

  protected render(r: CalicoInterfaceRecord): K8sObject {
    return renderWorkloadEndpoint(r)!; // a stored interface holds at least one address
  }

  protected objectKeys(): Iterable<string> {
    return this.objects.keys();
  }

  toJSON(): { interfaces: CalicoInterfaceRecord[] } {
    return { interfaces: [...this.interfaces.values()] };
  }

  /** Replaces one interface's record (undefined: it holds nothing and goes), keeping the object index in step. */
  private put(key: string, was: CalicoInterfaceRecord | undefined, next: CalicoInterfaceRecord): void {
    const r = next.v4 === undefined && next.v6 === undefined ? undefined : next;
    if (was !== undefined) {
      this.touch(was.objectKey);
      if (r === undefined || r.objectKey !== was.objectKey) this.objects.delete(was.objectKey);
    }
    if (r === undefined) {
      this.interfaces.delete(key);
      return;
    }
    this.touch(r.objectKey);
    this.interfaces.set(key, r);
    this.objects.set(r.objectKey, r);
  }

  private unhold(allocationId: string): void {
    const key = this.byAllocation.get(allocationId);
    if (key === undefined) return;
    this.byAllocation.delete(allocationId);
    const r = this.interfaces.get(key);
    if (r === undefined) return;
    if (r.v4?.allocationId === allocationId) this.put(key, r, record(r, r.node, r.containerID, undefined, r.v6, r.objectKey));
    else if (r.v6?.allocationId === allocationId) this.put(key, r, record(r, r.node, r.containerID, r.v4, undefined, r.objectKey));
  }

  allocated(d: IPAllocatedData): void {
    const ep = d.endpoint;
    const key = interfaceKey(ep.namespace, ep.name, ep.nic);
    this.unhold(d.allocationId);
    const was = this.interfaces.get(key);
    const previous = d.ipVersion === 6 ? was?.v6 : was?.v4;
    if (previous !== undefined) this.byAllocation.delete(previous.allocationId);
    const held: CalicoHeld = { allocationId: d.allocationId, address: d.address, gateway: d.gateway };
    const objectKey = was !== undefined && was.node === ep.node ? was.objectKey : objectKeyOf({ namespace: ep.namespace, node: ep.node, pod: ep.name, nic: ep.nic });
    const id = { namespace: ep.namespace, pod: ep.name, nic: ep.nic };
    this.put(key, was, d.ipVersion === 6 ? record(id, ep.node, ep.containerID, was?.v4, held, objectKey) : record(id, ep.node, ep.containerID, held, was?.v6, objectKey));
    this.byAllocation.set(d.allocationId, key);
  }

  released(d: IPReleasedData): void {
    this.unhold(d.allocationId);
  }
}

export const calicoWorkloadEndpointProjection: DocumentProjection<CalicoWorkloadEndpoints> = {
  name: 'calico-workload-endpoints',
  version: 2,
  handles: ['IPAllocated', 'IPReleased'],
  initial: () => new CalicoWorkloadEndpoints(),
  restore: (json) => new CalicoWorkloadEndpoints(json),
  apply(state, events) {
    for (const { event: ev } of events) {
      if (ev.type === 'IPAllocated') state.allocated(ev.data);
      else if (ev.type === 'IPReleased') state.released(ev.data);
    }
    return state;
  },
};

/** The Calico WorkloadEndpoint projection's state. */
export type CalicoWorkloadEndpointState = CalicoWorkloadEndpoints;
