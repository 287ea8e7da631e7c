// The allocator's read model: what is allocated, what is free, per pool, kept current by applying events.
// Hot structures are compact (per pool: a bitset over a small pool's offsets, intervals of what is used in a large
// one, see src/net/free-space.ts); evolve mutates in place.
import type { DomainEvent, Endpoint, IpVersion } from '../../events/catalogue.js';
import { DEFAULT_SCOPE } from '../../events/tags.js';
import { canonicalText, parseAddress } from '../net/address.js';
import { createFreeSpace, type FreeSpace, type Offset } from '../net/free-space.js';
import { OffsetMap } from '../net/offset-map.js';
import type { SparseFreeSet } from '../net/sparse-free-set.js';
import { IntervalSet, parseIpList } from '../net/ranges.js';
import { compilePool, compileSubnet } from './spec.js';
import type { Allocation, CompiledPool, CompiledSubnet, Route } from './types.js';

export interface AllocationRecord {
  readonly allocationId: string;
  readonly pool: string;
  readonly ipVersion: IpVersion;
  readonly address: string;
  readonly value: bigint;
  readonly prefixLength: number;
  readonly endpoint: Endpoint;
  readonly gateway?: string;
  readonly vlan?: number;
  readonly routes?: readonly Route[];
  readonly revision: number;
}

/** The public shape of an allocation (the model's record without its internals). */
export function allocationView(a: Allocation | AllocationRecord): Allocation {
  return {
    allocationId: a.allocationId,
    pool: a.pool,
    ipVersion: a.ipVersion,
    address: a.address,
    prefixLength: a.prefixLength,
    ...(a.gateway !== undefined ? { gateway: a.gateway } : {}),
    ...(a.vlan !== undefined ? { vlan: a.vlan } : {}),
    ...(a.routes !== undefined ? { routes: a.routes } : {}),
    endpoint: a.endpoint,
  };
}
export interface PoolState {
  readonly compiled: CompiledPool;
  readonly offsets: OffsetMap;
  readonly free: FreeSpace;
  /**
   * Offsets no one may take in a dense pool: reserved addresses (network, broadcast and gateway are not in `usable`
   * at all). A large pool keeps its reservations as intervals inside `free` instead, and this stays empty.
   */
  readonly blocked: Set<Offset>;
  /** Overlapping pools of the same scope (sharedAddresses): an address one of them holds is taken here too. */
  readonly peers: PoolState[];
  /** Offsets whose address a peer holds. */
  readonly shadowed: Set<Offset>;
  allocated: number;
}

export interface Reservation {
  readonly name: string;
  readonly ipVersion: IpVersion;
  readonly set: IntervalSet;
  readonly ips: readonly string[];
}

/** Endpoint identity: KubeVirt VMs keep their addresses by VM name across virt-launcher pods. */
export function endpointIdentity(ep: Pick<Endpoint, 'name' | 'owner'>): string {
  const kind = ep.owner?.kind;
  return kind === 'VirtualMachineInstance' || kind === 'VirtualMachine' ? ep.owner!.name : ep.name;
}

export function endpointKey(ep: Pick<Endpoint, 'namespace' | 'name' | 'owner' | 'nic'>): string {
  // join, not a template: a template's result is a rope (a cons string of its parts) that a Map key keeps next to
  // its flattened copy; join makes one flat string.
  return [ep.namespace, endpointIdentity(ep), ep.nic].join('/');
}

/**
 * `${scope}/${address}` -> allocation id, kept as scope -> address -> id: the inner key is the record's own address
 * string, so no per-allocation key string is made or held. Addresses hold no '/', so a key splits at its last one.
 */
export class AddressIndex {
  private readonly scopes = new Map<string, Map<string, string>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  /** The allocation holding `scope/address`. */
  get(key: string): string | undefined {
    const slash = key.lastIndexOf('/');
    return slash < 0 ? undefined : this.scopes.get(key.slice(0, slash))?.get(key.slice(slash + 1));
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  holder(scope: string, address: string): string | undefined {
    return this.scopes.get(scope)?.get(address);
  }

  set(scope: string, address: string, allocationId: string): void {
    let m = this.scopes.get(scope);
    if (m === undefined) this.scopes.set(scope, (m = new Map()));
    const had = m.size;
    m.set(address, allocationId);
    this.count += m.size - had;
  }

  delete(scope: string, address: string): void {
    const m = this.scopes.get(scope);
    if (m === undefined || !m.delete(address)) return;
    this.count--;
    if (m.size === 0) this.scopes.delete(scope);
  }

  /** Every `scope/address` held (diagnostics). */
  *keys(): IterableIterator<string> {
    for (const [scope, m] of this.scopes) for (const address of m.keys()) yield `${scope}/${address}`;
  }
}

/**
 * containerID -> its allocation ids, in allocation order: one id is kept as the string itself, more as an array
 * (a dual-stack pod's two), instead of a Set per container.
 */
export class ContainerIndex {
  private readonly ids = new Map<string, string | readonly string[]>();

  get size(): number {
    return this.ids.size;
  }

  get(containerID: string): readonly string[] | undefined {
    const v = this.ids.get(containerID);
    return v === undefined ? undefined : typeof v === 'string' ? [v] : v;
  }

  has(containerID: string): boolean {
    return this.ids.has(containerID);
  }

  add(containerID: string, allocationId: string): void {
    const v = this.ids.get(containerID);
    if (v === undefined) this.ids.set(containerID, allocationId);
    else if (typeof v === 'string') {
      if (v !== allocationId) this.ids.set(containerID, [v, allocationId]);
    } else if (!v.includes(allocationId)) this.ids.set(containerID, [...v, allocationId]);
  }

  delete(containerID: string, allocationId: string): void {
    const v = this.ids.get(containerID);
    if (v === undefined) return;
    if (typeof v === 'string') {
      if (v === allocationId) this.ids.delete(containerID);
      return;
    }
    const rest = v.filter((id) => id !== allocationId);
    if (rest.length === v.length) return;
    this.ids.set(containerID, rest.length === 1 ? rest[0]! : rest);
  }
}

export class AllocatorModel {
  readonly subnets = new Map<string, CompiledSubnet>();
  /** subnet name -> pool name -> ips carved to it. */
  readonly carved = new Map<string, Map<string, readonly string[]>>();
  readonly pools = new Map<string, PoolState>();
  readonly reservations = new Map<string, Reservation>();
  readonly byId = new Map<string, AllocationRecord>();
  readonly byEndpoint = new Map<string, AllocationRecord[]>();
  readonly byContainer = new ContainerIndex();
  /** `${scope}/${address}` -> allocation id. */
  readonly byAddress = new AddressIndex();
  /** Every event up to and including this revision has been applied. */
  revision = 0;
  /** Problems met while applying events (a spec that no longer compiles): reported, never silently dropped. */
  readonly problems: string[] = [];
  /** Called when an address becomes allocated in the view (the engine drops its in-flight claim). */
  onAllocated?: (pool: string, offset: Offset) => void;

  apply(e: DomainEvent, revision: number): void {
    switch (e.type) {
      case 'SubnetDefined':
      case 'SubnetChanged':
        this.guard(e.id, () => this.subnets.set(e.data.name, compileSubnet(e.data.name, e.data.spec).subnet));
        break;
      case 'SubnetRemoved':
        this.subnets.delete(e.data.name);
        this.carved.delete(e.data.name);
        break;
      case 'PoolDefined':
      case 'PoolChanged':
        this.guard(e.id, () => this.setPool(compilePool(e.data.name, e.data.spec).pool));
        break;
      case 'PoolRemoved':
        this.unlinkPeers(e.data.name);
        this.pools.delete(e.data.name);
        break;
      case 'PoolCarved': {
        let m = this.carved.get(e.data.subnet);
        if (!m) this.carved.set(e.data.subnet, (m = new Map()));
        m.set(e.data.pool, e.data.ips);
        break;
      }
      case 'PoolReturned':
        this.carved.get(e.data.subnet)?.delete(e.data.pool);
        break;
      case 'IPAllocated':
        this.allocate(e.data, revision);
        break;
      case 'IPReleased':
        this.release(e.data.allocationId);
        break;
      case 'IPReserved':
        this.guard(e.id, () => {
          const set = parseIpList(e.data.ips, e.data.ipVersion, 'ips');
          // A name already reserved is replaced (a SpiderReservedIP update): its old family's blocked set is redone too.
          const was = this.reservations.get(e.data.name);
          this.reservations.set(e.data.name, { name: e.data.name, ipVersion: e.data.ipVersion, set, ips: e.data.ips });
          if (was && was.ipVersion !== e.data.ipVersion) this.refreshBlocked(was.ipVersion);
          this.refreshBlocked(e.data.ipVersion);
        });
        break;
      case 'IPUnreserved': {
        const r = this.reservations.get(e.data.name);
        this.reservations.delete(e.data.name);
        if (r) this.refreshBlocked(r.ipVersion);
        break;
      }
      default: {
        const never: never = e;
        throw new Error(`unhandled event ${JSON.stringify(never)}`);
      }
    }
    if (revision > this.revision) this.revision = revision;
  }

  allocationsOfPool(pool: string): AllocationRecord[] {
    return [...this.byId.values()].filter((a) => a.pool === pool);
  }

  private guard(id: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.problems.push(`event ${id}: ${(err as Error).message}`);
    }
  }

  private setPool(c: CompiledPool): void {
    const offsets = new OffsetMap(c.usable);
    const free = createFreeSpace(offsets.total, c.order);
    const state: PoolState = { compiled: c, offsets, free, blocked: new Set(), peers: [], shadowed: new Set(), allocated: 0 };
    // Carry over the allocations the pool already had (a PoolChanged keeps them).
    for (const a of this.byId.values()) {
      if (a.pool !== c.name) continue;
      const o = offsets.offsetOf(a.value);
      if (o >= 0) {
        free.markUsed(o);
        state.allocated++;
      }
    }
    this.unlinkPeers(c.name);
    this.pools.set(c.name, state);
    this.refreshPoolBlocked(state);
    this.linkPeers(state);
  }

  /** Overlapping pools sharing a scope see each other's allocations (only pools with sharedAddresses overlap). */
  private linkPeers(p: PoolState): void {
    const c = p.compiled;
    for (const q of this.pools.values()) {
      const d = q.compiled;
      if (q === p || d.scope !== c.scope || d.ipVersion !== c.ipVersion || !d.usable.overlaps(c.usable)) continue;
      p.peers.push(q);
      q.peers.push(p);
      for (const a of this.byId.values()) {
        if (a.pool === d.name) shadow(p, a.value, true);
        else if (a.pool === c.name) shadow(q, a.value, true);
      }
    }
  }

  private unlinkPeers(name: string): void {
    const old = this.pools.get(name);
    if (!old) return;
    for (const q of old.peers) {
      const i = q.peers.indexOf(old);
      if (i >= 0) q.peers.splice(i, 1);
      for (const a of this.byId.values()) if (a.pool === name) shadow(q, a.value, false);
    }
  }

  private refreshBlocked(family: IpVersion): void {
    for (const p of this.pools.values()) if (p.compiled.ipVersion === family) this.refreshPoolBlocked(p);
  }

  private refreshPoolBlocked(p: PoolState): void {
    p.blocked.clear();
    const sets = [...this.reservations.values()].filter((r) => r.ipVersion === p.compiled.ipVersion).map((r) => r.set.intersect(p.compiled.usable));
    if (p.offsets.dense) {
      for (const s of sets) for (const v of s.values()) p.blocked.add(p.offsets.offsetOf(v));
      return;
    }
    // Each interval of (reservation ∩ usable) lies inside one usable interval, so its offsets are contiguous too.
    const intervals: [bigint, bigint][] = [];
    for (const s of sets) for (const [lo, hi] of s.intervals) intervals.push([p.offsets.offsetOf(lo) as bigint, p.offsets.offsetOf(hi) as bigint]);
    (p.free as SparseFreeSet).setBlocked(intervals);
  }

  private allocate(d: Extract<DomainEvent, { type: 'IPAllocated' }>['data'], revision: number): void {
    const pool = this.pools.get(d.pool);
    const scope = pool?.compiled.scope ?? DEFAULT_SCOPE;
    const value = parseAddress(d.address, 'address', d.ipVersion).value;
    // One spelling per address (RFC 5952), whoever wrote the event: keys, tags and answers use it. The event's own
    // string when it is that spelling (the projections keep the event's: one string for both).
    const canonical = canonicalText(d.ipVersion, d.address, value);
    const address = canonical === d.address ? d.address : canonical;
    // The same endpoint taking its address again (StatefulSet, KubeVirt, new sandbox) replaces its old record.
    const holder = this.byAddress.holder(scope, address);
    if (holder !== undefined) this.release(holder);
    const rec = allocationRecord(d, address, value, revision);
    this.byId.set(d.allocationId, rec);
    const key = endpointKey(d.endpoint);
    const list = this.byEndpoint.get(key);
    // A new array of the exact length, not push (a pushed one-element array grows its store to 17 slots).
    this.byEndpoint.set(key, list === undefined ? [rec] : list.length === 1 ? [list[0]!, rec] : list.concat([rec]));
    this.byContainer.add(d.endpoint.containerID, d.allocationId);
    this.byAddress.set(scope, address, d.allocationId);
    if (pool) {
      const o = pool.offsets.offsetOf(value);
      if (o >= 0) {
        if (pool.free.isFree(o)) pool.allocated++;
        pool.free.markUsed(o);
        this.onAllocated?.(d.pool, o);
      }
      for (const q of pool.peers) shadow(q, value, true);
    }
  }

  private release(allocationId: string): void {
    const rec = this.byId.get(allocationId);
    if (!rec) return;
    this.byId.delete(allocationId);
    const key = endpointKey(rec.endpoint);
    const list = this.byEndpoint.get(key)?.filter((a) => a.allocationId !== allocationId);
    if (list && list.length > 0) this.byEndpoint.set(key, list);
    else this.byEndpoint.delete(key);
    this.byContainer.delete(rec.endpoint.containerID, allocationId);
    const pool = this.pools.get(rec.pool);
    this.byAddress.delete(pool?.compiled.scope ?? DEFAULT_SCOPE, rec.address);
    if (pool) {
      const o = pool.offsets.offsetOf(rec.value);
      if (o >= 0 && !pool.free.isFree(o)) {
        pool.free.markFree(o); // to the back of the line
        pool.allocated--;
      }
      for (const q of pool.peers) shadow(q, rec.value, false);
    }
  }
}

/**
 * The model's record of an IPAllocated. Field by field: on Node 20's V8 a literal that starts with a spread
 * (`{ ...d, value }`) gives every object its own hidden class (a map per allocation: memory, and megamorphic reads).
 * The usual records (no optional field, or a gateway only) are whole literals, so every field is in the object; a
 * literal with spreads in it keeps the fields after its first spread in a separate property array (+24 bytes).
 */
function allocationRecord(d: Extract<DomainEvent, { type: 'IPAllocated' }>['data'], address: string, value: bigint, revision: number): AllocationRecord {
  if (d.vlan === undefined && d.routes === undefined) {
    if (d.gateway === undefined) return { allocationId: d.allocationId, pool: d.pool, ipVersion: d.ipVersion, address, prefixLength: d.prefixLength, endpoint: d.endpoint, value, revision };
    return { allocationId: d.allocationId, pool: d.pool, ipVersion: d.ipVersion, address, prefixLength: d.prefixLength, endpoint: d.endpoint, gateway: d.gateway, value, revision };
  }
  return {
    allocationId: d.allocationId,
    pool: d.pool,
    ipVersion: d.ipVersion,
    address,
    prefixLength: d.prefixLength,
    endpoint: d.endpoint,
    ...(d.gateway !== undefined ? { gateway: d.gateway } : {}),
    ...(d.vlan !== undefined ? { vlan: d.vlan } : {}),
    ...(d.routes !== undefined ? { routes: d.routes } : {}),
    value,
    revision,
  };
}

function shadow(p: PoolState, value: bigint, held: boolean): void {
  const o = p.offsets.offsetOf(value);
  if (o < 0) return;
  if (held) p.shadowed.add(o);
  else p.shadowed.delete(o);
}
