// Calico WorkloadEndpoint (projectcalico.org/v3): one object per (pod, interface), holding both families as
// /32 and /128 ipNetworks. Same slot semantics as the SpiderEndpoint projection: an allocation for an already held
// (pod, nic, family) slot replaces the holder; a release applies only to the current allocation; the object
// exists while the interface holds at least one address. Its name follows Calico's escaping and includes the
// node, so a pod that comes back on another node gets a new object (the old one goes).
import { hostInterfaceName, K8S_ORCHESTRATOR, workloadEndpointName } from './calico-names.js';
import { Documents } from './documents.js';
import { ENDPOINT_GROUP, ENDPOINT_HANDLES, EndpointIndex, indexOf, podKey, type EndpointView, type IndexedEndpoints, type NicSlots, type PodRecord } from './endpoint-index.js';
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

/** What a WorkloadEndpoint renders from: one interface of a pod (the endpoint index's record). */
export type CalicoInterfaceRecord = NicSlots;

/** `address/32` for IPv4, `address/128` for IPv6 (Calico supports only host networks here). */
export function hostNetwork(address: string, family: 'v4' | 'v6'): string {
  return `${address}/${family === 'v6' ? 128 : 32}`;
}

export function renderWorkloadEndpoint(r: CalicoInterfaceRecord): WorkloadEndpointObject | undefined {
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

const objectKeyOf = (namespace: string, node: string, pod: string, nic: string): string =>
  `${namespace}/${workloadEndpointName(node, K8S_ORCHESTRATOR, pod, nic)}`;

/**
 * The (node, pod, nic) a WorkloadEndpoint name was made from, undoing Calico's escaping (a single "-" separates,
 * "--" is a literal dash); undefined when it is not such a name. Exact for segments that do not begin or end with a
 * dash (DNS names never do); the caller checks the result by recomputing the name.
 */
export function parseWorkloadEndpointName(name: string): { node: string; pod: string; nic: string } | undefined {
  const segments: string[] = [];
  let current = '';
  for (let i = 0; i < name.length; ) {
    if (name[i] !== '-') {
      current += name[i++];
      continue;
    }
    let run = 0;
    while (name[i] === '-') {
      run++;
      i++;
    }
    current += '-'.repeat(run >> 1);
    if (run & 1) {
      segments.push(current);
      current = '';
      if (segments.length > 3) return undefined;
    }
  }
  segments.push(current);
  if (segments.length !== 4 || segments[1] !== K8S_ORCHESTRATOR) return undefined;
  return { node: segments[0]!, pod: segments[2]!, nic: segments[3]! };
}

const edgeDash = (s: string): boolean => s.startsWith('-') || s.endsWith('-');

/**
 * The Calico WorkloadEndpoint projection's read side over an endpoint index: one object per (pod, interface) held,
 * keyed `namespace/<name>`, the name made from the interface's node, the pod and the interface. Object keys are
 * parsed back to find their interface; the few names that do not parse back (a segment beginning or ending with
 * a dash) are found by a scan.
 */
export class CalicoWorkloadEndpoints extends Documents<CalicoInterfaceRecord> implements EndpointView, IndexedEndpoints {
  constructor(readonly index: EndpointIndex) {
    super();
    index.attach(this);
  }

  get size(): number {
    return this.index.nicCount;
  }

  /** Number of current allocations (tests, diagnostics). */
  get allocationCount(): number {
    return this.index.allocationCount;
  }

  /** Ids of the current allocations (tests, diagnostics). */
  allocationIds(): string[] {
    return this.index.allocationIds();
  }

  override trackChanges(): void {
    super.trackChanges();
    this.index.track();
  }

  podChanging(namespace: string, pod: string, was: PodRecord | undefined, nic: string, node: string | undefined): void {
    const before = was?.nics.find((n) => n.nic === nic);
    if (before !== undefined) this.touch(objectKeyOf(namespace, before.node, pod, nic));
    if (node !== undefined && node !== before?.node) this.touch(objectKeyOf(namespace, node, pod, nic));
  }

  protected recordOf(key: string): CalicoInterfaceRecord | undefined {
    const slash = key.indexOf('/');
    if (slash < 0) return undefined;
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    const parsed = parseWorkloadEndpointName(name);
    if (parsed !== undefined) {
      const n = this.index.pod(podKey(namespace, parsed.pod))?.nics.find((x) => x.nic === parsed.nic && x.node === parsed.node);
      if (n !== undefined && workloadEndpointName(n.node, K8S_ORCHESTRATOR, n.pod, n.nic) === name) return n;
    }
    // Names that do not parse back: only segments with a dash at an edge make them (rare; O(pods)).
    if (!name.includes('---') && !name.startsWith('-') && !name.endsWith('-')) return undefined;
    for (const pod of this.index.pods()) {
      if (pod.namespace !== namespace) continue;
      for (const n of pod.nics) if ((edgeDash(n.node) || edgeDash(n.pod) || edgeDash(n.nic)) && workloadEndpointName(n.node, K8S_ORCHESTRATOR, n.pod, n.nic) === name) return n;
    }
    return undefined;
  }

  protected render(r: CalicoInterfaceRecord): K8sObject {
    return renderWorkloadEndpoint(r)!; // a stored interface holds at least one address
  }

  protected *objectKeys(): Iterable<string> {
    for (const pod of this.index.pods()) for (const n of pod.nics) yield objectKeyOf(n.namespace, n.node, n.pod, n.nic);
  }

  toJSON(): { pods: PodRecord[] } {
    return this.index.toJSON();
  }
}

const NAME = 'calico-workload-endpoints';

export const calicoWorkloadEndpointProjection: DocumentProjection<CalicoWorkloadEndpoints> = {
  name: NAME,
  version: 3,
  handles: ENDPOINT_HANDLES,
  group: ENDPOINT_GROUP,
  initial: () => new CalicoWorkloadEndpoints(new EndpointIndex()),
  restore: (json) => new CalicoWorkloadEndpoints(EndpointIndex.restore(NAME, json)),
  share: (sibling) => new CalicoWorkloadEndpoints(indexOf(NAME, sibling)),
  apply(state, events) {
    state.index.apply(events);
    return state;
  },
};

/** The Calico WorkloadEndpoint projection's state. */
export type CalicoWorkloadEndpointState = CalicoWorkloadEndpoints;
