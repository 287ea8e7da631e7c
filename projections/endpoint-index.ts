// One index of the endpoints' current addresses, shared by the SpiderEndpoint and Calico WorkloadEndpoint
// projections (both key by pod): pods by `namespace/name`, each with its interfaces' addresses per family, and the
// current allocations by id. Each event is applied once for both; each renders its own objects from it.
//
// Slot semantics: an IPAllocated for a (pod, nic, family) slot that is already held replaces the holder (StatefulSet
// or KubeVirt reuse, a new sandbox); an IPReleased applies only if its allocationId is the slot's current one.
// A pod is kept while it holds at least one address, an interface while it holds one of either family.
import type { EventType, IPAllocatedData, IPReleasedData, LoggedEvent, Route } from '../events/catalogue.js';
import type { StateGroup } from './types.js';

export interface SpiderRoute {
  readonly dst: string;
  readonly gw: string;
}

/** One address a slot holds, as the allocation described it. Immutable. */
export interface HeldAddress {
  readonly allocationId: string;
  readonly pool: string;
  readonly address: string;
  readonly prefixLength: number;
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly SpiderRoute[];
}

/**
 * One interface of a pod: the latest allocation on it (node, containerID) and its address per family (at least
 * one). Immutable, replaced per change: a Calico WorkloadEndpoint renders from it.
 */
export interface NicSlots {
  readonly namespace: string;
  readonly pod: string;
  readonly nic: string;
  readonly node: string;
  readonly containerID: string;
  readonly v4?: HeldAddress;
  readonly v6?: HeldAddress;
}

/** Per pod: the latest allocation's identity and every interface, in first-allocation order. Immutable. */
export interface PodRecord {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string;
  readonly containerID: string;
  readonly ownerControllerType: string;
  readonly ownerControllerName: string;
  readonly nics: readonly NicSlots[];
}

export const podKey = (namespace: string, name: string): string => `${namespace}/${name}`;

/** Told before a pod changes: `nic` is the interface changing, `node` the node it will be on (undefined: it goes). */
export interface EndpointView {
  podChanging(namespace: string, pod: string, was: PodRecord | undefined, nic: string, node: string | undefined): void;
}

export const ENDPOINT_HANDLES = ['IPAllocated', 'IPReleased'] as const satisfies readonly EventType[];

/** The endpoint projections share one endpoint index when run together. */
export const ENDPOINT_GROUP: StateGroup = { name: 'endpoints', handles: ENDPOINT_HANDLES };

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

function slots(id: Omit<NicSlots, 'v4' | 'v6'>, v4: HeldAddress | undefined, v6: HeldAddress | undefined): NicSlots {
  return { namespace: id.namespace, pod: id.pod, nic: id.nic, node: id.node, containerID: id.containerID, v4, v6 };
}

function podRecord(p: Omit<PodRecord, 'nics'>, nics: readonly NicSlots[]): PodRecord {
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

function copyPod(p: PodRecord): PodRecord {
  const copy = (h: HeldAddress | undefined) => (h === undefined ? undefined : held(h, h.routes));
  return podRecord(
    p,
    p.nics.map((n) => slots({ namespace: p.namespace, pod: p.name, nic: n.nic, node: n.node, containerID: n.containerID }, copy(n.v4), copy(n.v6))),
  );
}

// Low-cardinality strings (namespaces, nodes, owners, pools, interface names) arrive fresh with every event;
// keeping one copy each saves much of the index's memory. Bounded: past the cap, strings are kept as they come.
const INTERN_CAP = 100_000;

export class EndpointIndex {
  /** Pods holding at least one address. */
  readonly pods = new Map<string, PodRecord>();
  /** Current allocations only: allocationId -> pod key (the slot is the one holding that id). */
  private readonly byAllocation = new Map<string, string>();
  private readonly views: EndpointView[] = [];
  private tracked = false;
  private readonly strings = new Map<string, string>();
  /** Interfaces held, over all pods. */
  nicCount = 0;

  attach(view: EndpointView): void {
    this.views.push(view);
  }

  track(): void {
    this.tracked = true;
  }

  get allocationCount(): number {
    return this.byAllocation.size;
  }

  allocationIds(): string[] {
    return [...this.byAllocation.keys()];
  }

  private intern(s: string): string {
    const had = this.strings.get(s);
    if (had !== undefined) return had;
    if (this.strings.size < INTERN_CAP) this.strings.set(s, s);
    return s;
  }

  private changing(namespace: string, pod: string, was: PodRecord | undefined, nic: string, node: string | undefined): void {
    if (this.tracked) for (const v of this.views) v.podChanging(namespace, pod, was, nic, node);
  }

  /** Puts a pod's record (or drops it when it holds nothing), keeping the interface count. */
  private put(key: string, was: PodRecord | undefined, next: PodRecord | undefined): void {
    this.nicCount += (next?.nics.length ?? 0) - (was?.nics.length ?? 0);
    if (next === undefined) this.pods.delete(key);
    else this.pods.set(key, next);
  }

  /** Removes a current allocation from its slot (and the interface/pod when empty). */
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
      this.changing(pod.namespace, pod.name, pod, n.nic, v4 === undefined && v6 === undefined ? undefined : n.node);
      const nics = pod.nics.slice();
      if (v4 === undefined && v6 === undefined) nics.splice(i, 1);
      else nics[i] = slots(n, v4, v6);
      this.put(key, pod, nics.length === 0 ? undefined : podRecord(pod, nics));
      return;
    }
  }

  allocated(d: IPAllocatedData): void {
    const ep = d.endpoint;
    const namespace = this.intern(ep.namespace);
    const key = podKey(namespace, ep.name);
    const nic = this.intern(ep.nic);
    const node = this.intern(ep.node);
    // A replayed allocationId moves to where the event says; the slot's previous holder is replaced.
    this.unhold(d.allocationId);
    const existing = this.pods.get(key);
    this.changing(namespace, ep.name, existing, nic, node);
    const h = held({ allocationId: d.allocationId, pool: this.intern(d.pool), address: d.address, prefixLength: d.prefixLength, gateway: d.gateway === undefined ? undefined : this.intern(d.gateway), vlan: d.vlan }, d.routes);
    const id = { namespace, pod: ep.name, nic, node, containerID: ep.containerID };
    let nics: NicSlots[];
    const i = existing === undefined ? -1 : existing.nics.findIndex((n) => n.nic === nic);
    if (i < 0) {
      const fresh = d.ipVersion === 6 ? slots(id, undefined, h) : slots(id, h, undefined);
      nics = existing === undefined ? [fresh] : [...existing.nics, fresh];
    } else {
      nics = existing!.nics.slice();
      const n = nics[i]!;
      const previous = d.ipVersion === 6 ? n.v6 : n.v4;
      if (previous !== undefined) this.byAllocation.delete(previous.allocationId);
      nics[i] = d.ipVersion === 6 ? slots(id, n.v4, h) : slots(id, h, n.v6);
    }
    const owner = ep.owner;
    const record = podRecord(
      {
        namespace,
        name: id.pod,
        uid: ep.uid,
        node,
        containerID: ep.containerID,
        ownerControllerType: owner === undefined ? 'Pod' : this.intern(owner.kind),
        ownerControllerName: owner === undefined ? id.pod : this.intern(owner.name),
      },
      nics,
    );
    this.put(key, existing, record);
    this.byAllocation.set(d.allocationId, key);
  }

  released(d: IPReleasedData): void {
    this.unhold(d.allocationId); // stale (replaced or unknown) releases find nothing
  }

  apply(events: readonly LoggedEvent[]): void {
    for (const { event: ev } of events) {
      if (ev.type === 'IPAllocated') this.allocated(ev.data);
      else if (ev.type === 'IPReleased') this.released(ev.data);
    }
  }

  /** Checkpoint form: every pod record, in the index's order. */
  toJSON(): { pods: PodRecord[] } {
    return { pods: [...this.pods.values()] };
  }

  static restore(projection: string, json: unknown): EndpointIndex {
    const pods = (json as { pods?: unknown } | null)?.pods;
    if (!Array.isArray(pods)) throw new Error(`${projection}: checkpoint has no pods list`);
    const index = new EndpointIndex();
    for (const raw of pods as PodRecord[]) {
      const pod = copyPod(raw);
      const key = podKey(pod.namespace, pod.name);
      index.put(key, undefined, pod);
      for (const n of pod.nics) {
        if (n.v4 !== undefined) index.byAllocation.set(n.v4.allocationId, key);
        if (n.v6 !== undefined) index.byAllocation.set(n.v6.allocationId, key);
      }
    }
    return index;
  }
}

/** A projection state over an endpoint index (what `share` accepts). */
export interface IndexedEndpoints {
  readonly index: EndpointIndex;
}

export function indexOf(projection: string, sibling: unknown): EndpointIndex {
  const index = (sibling as Partial<IndexedEndpoints> | null)?.index;
  if (!(index instanceof EndpointIndex)) throw new Error(`${projection}: can share only an endpoint index`);
  return index;
}
