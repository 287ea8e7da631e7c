// One index of the endpoints' current addresses, shared by the SpiderEndpoint and Calico WorkloadEndpoint
// projections (both key by pod): pods by `namespace/name`, each with its interfaces' addresses per family, and the
// current allocations by id. Each event is applied once for both; each renders its own objects from it.
//
// Slot semantics: an IPAllocated for a (pod, nic, family) slot that is already held replaces the holder (StatefulSet
// or KubeVirt reuse, a new sandbox); an IPReleased applies only if its allocationId is the slot's current one.
// A pod is kept while it holds at least one address, an interface while it holds one of either family.
import type { EventType, IPAllocatedData, IPReleasedData, LoggedEvent, Route } from '../events/catalogue.js';
import { StringMap, keyHash } from './string-map.js';
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

// Records as the index keeps them: `e` is the epoch they were made in. A record of the current epoch, while no
// change is tracked, has been seen by no one (nothing rendered, captured or handed out since it was made) and is
// changed in place; any other is copied on change. So a replay allocates per new pod and address, not per event,
// and whatever a reader holds never changes.
interface Slot {
  namespace: string;
  pod: string;
  nic: string;
  node: string;
  containerID: string;
  v4: HeldAddress | undefined;
  v6: HeldAddress | undefined;
  e: number;
}

interface Pod {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  containerID: string;
  ownerControllerType: string;
  ownerControllerName: string;
  nics: Slot[];
  e: number;
}

function slotJson(n: Slot): NicSlots {
  return { namespace: n.namespace, pod: n.pod, nic: n.nic, node: n.node, containerID: n.containerID, v4: n.v4, v6: n.v6 };
}

function podJson(p: Pod): PodRecord {
  return {
    namespace: p.namespace,
    name: p.name,
    uid: p.uid,
    node: p.node,
    containerID: p.containerID,
    ownerControllerType: p.ownerControllerType,
    ownerControllerName: p.ownerControllerName,
    nics: p.nics.map(slotJson),
  };
}

export class EndpointIndex {
  /** Pods holding at least one address, by namespace and name (no `namespace/name` string made per event). */
  private readonly byNamespace = new Map<string, Map<string, Pod>>();
  private podTotal = 0;
  /**
   * Current allocations only: allocationId -> the pod whose slot holds it (kept current when a pod is copied). No
   * order kept (string-map.ts: a Map under churn doubles its table).
   */
  private readonly byAllocation = new StringMap<Pod>();
  private readonly views: EndpointView[] = [];
  private tracked = false;
  private epoch = 0;
  /** The pod getPod or setPod last gave (as byNamespace holds it): a dual-stack pod's second event finds it here. */
  private lastPod: Pod | undefined;
  /** Interfaces held, over all pods. */
  nicCount = 0;

  attach(view: EndpointView): void {
    this.views.push(view);
  }

  track(): void {
    this.tracked = true;
  }

  get podCount(): number {
    return this.podTotal;
  }

  get allocationCount(): number {
    return this.byAllocation.size;
  }

  allocationIds(): string[] {
    const ids: string[] = [];
    this.byAllocation.forEach((_, id) => ids.push(id));
    return ids;
  }

  /** A pod's record; from now on it never changes (a change copies it). */
  pod(key: string): PodRecord | undefined {
    this.epoch++;
    const slash = key.indexOf('/');
    return slash < 0 ? undefined : this.byNamespace.get(key.slice(0, slash))?.get(key.slice(slash + 1));
  }

  /** Every pod's record, each then never changing. */
  *pods(): IterableIterator<PodRecord> {
    this.epoch++;
    for (const pods of this.byNamespace.values()) yield* pods.values();
  }

  *podKeys(): IterableIterator<string> {
    for (const [namespace, pods] of this.byNamespace) for (const name of pods.keys()) yield podKey(namespace, name);
  }

  private getPod(namespace: string, name: string): Pod | undefined {
    const last = this.lastPod;
    if (last !== undefined && last.name === name && last.namespace === namespace) return last;
    const p = this.byNamespace.get(namespace)?.get(name);
    if (p !== undefined) this.lastPod = p;
    return p;
  }

  private setPod(p: Pod): void {
    let pods = this.byNamespace.get(p.namespace);
    if (pods === undefined) this.byNamespace.set(p.namespace, (pods = new Map()));
    const had = pods.size;
    pods.set(p.name, p);
    this.podTotal += pods.size - had;
    this.lastPod = p;
  }

  private deletePod(p: Pod): void {
    if (this.lastPod !== undefined && this.lastPod.name === p.name && this.lastPod.namespace === p.namespace) this.lastPod = undefined;
    const pods = this.byNamespace.get(p.namespace);
    if (pods === undefined || !pods.delete(p.name)) return;
    this.podTotal--;
    if (pods.size === 0) this.byNamespace.delete(p.namespace);
  }


  private changing(namespace: string, pod: string, was: Pod | undefined, nic: string, node: string | undefined): void {
    if (this.tracked) {
      this.epoch++; // views capture `was`
      for (const v of this.views) v.podChanging(namespace, pod, was, nic, node);
    }
  }

  private mutable(r: { readonly e: number }): boolean {
    return !this.tracked && r.e === this.epoch;
  }

  /** `pod` itself when it may change in place, else a copy (with its own interface list) that replaces it. */
  private editable(pod: Pod): Pod {
    if (this.mutable(pod)) return pod;
    const copy: Pod = {
      namespace: pod.namespace,
      name: pod.name,
      uid: pod.uid,
      node: pod.node,
      containerID: pod.containerID,
      ownerControllerType: pod.ownerControllerType,
      ownerControllerName: pod.ownerControllerName,
      nics: pod.nics.slice(),
      e: this.epoch,
    };
    this.setPod(copy);
    for (const n of copy.nics) {
      if (n.v4 !== undefined) this.byAllocation.set(n.v4.allocationId, copy);
      if (n.v6 !== undefined) this.byAllocation.set(n.v6.allocationId, copy);
    }
    return copy;
  }

  private slot(namespace: string, pod: string, nic: string, node: string, containerID: string, v4: HeldAddress | undefined, v6: HeldAddress | undefined): Slot {
    return { namespace, pod, nic, node, containerID, v4, v6, e: this.epoch };
  }

  /** Removes a current allocation from its slot (and the interface/pod when empty); `h` is keyHash(allocationId). */
  private unhold(allocationId: string, h: number): void {
    const pod = this.byAllocation.delete(allocationId, h); // one probe: the delete answers the holder
    if (pod === undefined) return;
    for (let i = 0; i < pod.nics.length; i++) {
      const n = pod.nics[i]!;
      const v4 = n.v4?.allocationId === allocationId ? undefined : n.v4;
      const v6 = n.v6?.allocationId === allocationId ? undefined : n.v6;
      if (v4 === n.v4 && v6 === n.v6) continue;
      const gone = v4 === undefined && v6 === undefined;
      this.changing(pod.namespace, pod.name, pod, n.nic, gone ? undefined : n.node);
      if (gone && pod.nics.length === 1) {
        this.deletePod(pod);
        this.nicCount--;
        return;
      }
      const p = this.editable(pod);
      // A copy re-points every allocation its interfaces still list, this one too: it is not current any more.
      if (p !== pod) this.byAllocation.delete(allocationId, h);
      if (gone) {
        p.nics.splice(i, 1);
        this.nicCount--;
      } else if (this.mutable(n)) {
        n.v4 = v4;
        n.v6 = v6;
      } else {
        p.nics[i] = this.slot(n.namespace, n.pod, n.nic, n.node, n.containerID, v4, v6);
      }
      return;
    }
  }

  allocated(d: IPAllocatedData): void {
    const ep = d.endpoint;
    // Strings are kept as the event has them: decoded from JSON, V8 already shares equal ones.
    const namespace = ep.namespace;
    const name = ep.name;
    const nic = ep.nic;
    const node = ep.node;
    const v6 = d.ipVersion === 6;
    // A replayed allocationId moves to where the event says; the slot's previous holder is replaced.
    const idHash = keyHash(d.allocationId); // hashed once for the unhold and the set
    this.unhold(d.allocationId, idHash);
    const existing = this.getPod(namespace, name);
    this.changing(namespace, name, existing, nic, node);
    const h = held({ allocationId: d.allocationId, pool: d.pool, address: d.address, prefixLength: d.prefixLength, gateway: d.gateway, vlan: d.vlan }, d.routes);
    const owner = ep.owner;
    const ownerType = owner === undefined ? 'Pod' : owner.kind;
    const ownerName = owner === undefined ? name : owner.name;
    let pod: Pod;
    if (existing === undefined) {
      const s = this.slot(namespace, name, nic, node, ep.containerID, v6 ? undefined : h, v6 ? h : undefined);
      pod = { namespace, name, uid: ep.uid, node, containerID: ep.containerID, ownerControllerType: ownerType, ownerControllerName: ownerName, nics: [s], e: this.epoch };
      this.setPod(pod);
      this.nicCount++;
    } else {
      const p = (pod = this.editable(existing));
      let i = 0;
      while (i < p.nics.length && p.nics[i]!.nic !== nic) i++;
      const n = p.nics[i];
      if (n === undefined) {
        p.nics.push(this.slot(namespace, name, nic, node, ep.containerID, v6 ? undefined : h, v6 ? h : undefined));
        this.nicCount++;
      } else {
        const previous = v6 ? n.v6 : n.v4;
        if (previous !== undefined) this.byAllocation.delete(previous.allocationId);
        if (this.mutable(n)) {
          n.node = node;
          n.containerID = ep.containerID;
          if (v6) n.v6 = h;
          else n.v4 = h;
        } else {
          p.nics[i] = this.slot(namespace, name, nic, node, ep.containerID, v6 ? n.v4 : h, v6 ? h : n.v6);
        }
      }
      p.uid = ep.uid;
      p.node = node;
      p.containerID = ep.containerID;
      p.ownerControllerType = ownerType;
      p.ownerControllerName = ownerName;
    }
    this.byAllocation.set(d.allocationId, pod, idHash);
  }

  released(d: IPReleasedData): void {
    this.unhold(d.allocationId, keyHash(d.allocationId)); // stale (replaced or unknown) releases find nothing
  }

  apply(events: readonly LoggedEvent[]): void {
    for (const { event: ev } of events) {
      if (ev.type === 'IPAllocated') this.allocated(ev.data);
      else if (ev.type === 'IPReleased') this.released(ev.data);
    }
  }

  /** Checkpoint form: every pod record (plain copies), in the index's order. */
  toJSON(): { pods: PodRecord[] } {
    const pods: PodRecord[] = [];
    for (const ps of this.byNamespace.values()) for (const p of ps.values()) pods.push(podJson(p));
    return { pods };
  }

  static restore(projection: string, json: unknown): EndpointIndex {
    const pods = (json as { pods?: unknown } | null)?.pods;
    if (!Array.isArray(pods)) throw new Error(`${projection}: checkpoint has no pods list`);
    const index = new EndpointIndex();
    const copy = (h: HeldAddress | undefined) => (h === undefined ? undefined : held(h, h.routes));
    for (const raw of pods as PodRecord[]) {
      const nics = raw.nics.map((n) => index.slot(raw.namespace, raw.name, n.nic, n.node, n.containerID, copy(n.v4), copy(n.v6)));
      const { namespace, name, uid, node, containerID, ownerControllerType, ownerControllerName } = raw;
      const pod: Pod = { namespace, name, uid, node, containerID, ownerControllerType, ownerControllerName, nics, e: index.epoch };
      index.setPod(pod);
      index.nicCount += nics.length;
      for (const n of nics) {
        if (n.v4 !== undefined) index.byAllocation.set(n.v4.allocationId, pod);
        if (n.v6 !== undefined) index.byAllocation.set(n.v6.allocationId, pod);
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
