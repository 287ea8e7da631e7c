// Shared by the pool document projections: which allocation currently holds which address of which pool.
// Plain JSON (checkpoints serialise it); the helpers mutate an immer draft and are O(1) per event. The index is
// kept per pool, so a batch copies only the maps of the pools it touches (immutable updates copy what they change).
import { produce, type Draft } from 'immer';
import type { EventType, IPAllocatedData, IPReleasedData, LoggedEvent, PoolSpec } from '../events/catalogue.js';
import type { DocumentState, Projection } from './types.js';

/** What a projection needs to render one held address. */
export interface HeldAllocation {
  readonly allocationId: string;
  readonly pool: string;
  readonly address: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerID: string;
  readonly nic: string;
}

/** The current allocations of one pool. */
export interface PoolAllocations {
  /** address -> its current holder. */
  readonly byAddress: Readonly<Record<string, HeldAllocation>>;
  /** allocationId -> address, for the allocations that are current. */
  readonly byId: Readonly<Record<string, string>>;
}

/** pool name -> its current allocations; kept for pools that are not (or no longer) defined too. */
export type AllocationIndex = Readonly<Record<string, PoolAllocations>>;

export function emptyIndex(): AllocationIndex {
  return {};
}

/** States carry their index; a bare DocumentState ({objects} only) gets an empty one. */
export function ensureIndex(d: { index?: Draft<AllocationIndex> }): Draft<AllocationIndex> {
  return (d.index ??= emptyIndex() as Draft<AllocationIndex>);
}

/** Receives the index's changes, so a projection keeps its rendered objects in step. */
export interface IndexListener {
  removed(held: HeldAllocation): void;
  added(held: HeldAllocation): void;
}

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

function drop(p: Draft<PoolAllocations>, allocationId: string, on: IndexListener): void {
  if (!own(p.byId, allocationId)) return;
  const address = p.byId[allocationId]!;
  delete p.byId[allocationId];
  const held = p.byAddress[address];
  if (held === undefined || held.allocationId !== allocationId) return;
  delete p.byAddress[address];
  on.removed(held);
}

/**
 * An IPAllocated: the allocation becomes current. Whoever held the same address of the pool before (the same
 * endpoint taking it again: StatefulSet, KubeVirt, a new sandbox) is replaced, as the allocator's model does.
 */
export function indexAllocate(ix: Draft<AllocationIndex>, d: IPAllocatedData, on: IndexListener): void {
  const p = (ix[d.pool] ??= { byAddress: {}, byId: {} });
  drop(p, d.allocationId, on); // a repeated id moves, it does not duplicate
  const holder = p.byAddress[d.address];
  if (holder !== undefined) drop(p, holder.allocationId, on);
  const ep = d.endpoint;
  const held: HeldAllocation = {
    allocationId: d.allocationId,
    pool: d.pool,
    address: d.address,
    namespace: ep.namespace,
    name: ep.name,
    uid: ep.uid,
    containerID: ep.containerID,
    nic: ep.nic,
  };
  p.byAddress[d.address] = held;
  p.byId[d.allocationId] = d.address;
  on.added(held);
}

/**
 * An IPReleased: applies only if the allocation it names is still current (a stale release is ignored).
 * The event names the allocation's own pool (the allocator writes the record's pool), so the lookup is per pool.
 */
export function indexRelease(ix: Draft<AllocationIndex>, d: IPReleasedData, on: IndexListener): void {
  const p = ix[d.pool];
  if (p !== undefined) drop(p, d.allocationId, on);
}

/** The current allocations of one pool. */
export function heldInPool(ix: AllocationIndex, pool: string): HeldAllocation[] {
  return Object.values(ix[pool]?.byAddress ?? {});
}

/** The number of current allocations in all pools (tests, diagnostics: O(pools)). */
export function allocationCount(ix: AllocationIndex): number {
  let n = 0;
  for (const p of Object.values(ix)) n += Object.keys(p.byId).length;
  return n;
}

/** A deep copy of event data going into a state, so freezing the state never freezes the caller's event. */
export function copyJson<T>(v: T): T {
  return structuredClone(v);
}

/** The events every pool document projection follows. */
export const POOL_HANDLES = ['PoolDefined', 'PoolChanged', 'PoolRemoved', 'IPAllocated', 'IPReleased'] as const satisfies readonly EventType[];

/** What differs between pool document projections: how a pool's object is written, removed, and kept in step. */
export interface PoolDocumentRules<S extends DocumentState & { readonly index: AllocationIndex }> {
  readonly name: string;
  /** A pool was defined or its spec changed; the index already holds its current allocations. */
  definePool(d: Draft<S>, name: string, spec: PoolSpec, index: AllocationIndex): void;
  removePool(d: Draft<S>, name: string): void;
  listener(d: Draft<S>): IndexListener;
}

/** A pool document projection: one produce per batch, allocations through the shared per-pool index. */
export function poolDocumentProjection<S extends DocumentState & { readonly index: AllocationIndex }>(rules: PoolDocumentRules<S>): Projection<S> {
  return {
    name: rules.name,
    version: 1,
    handles: POOL_HANDLES,
    initial: () => ({ objects: {}, index: emptyIndex() }) as unknown as S,
    apply(state, events: readonly LoggedEvent[]) {
      if (events.length === 0) return state;
      return produce(state, (d) => {
        const index = ensureIndex(d as { index?: Draft<AllocationIndex> });
        const on = rules.listener(d);
        for (const { event: e } of events) {
          switch (e.type) {
            case 'PoolDefined':
            case 'PoolChanged':
              rules.definePool(d, e.data.name, e.data.spec, index as AllocationIndex);
              break;
            case 'PoolRemoved':
              rules.removePool(d, e.data.name);
              break;
            case 'IPAllocated':
              indexAllocate(index, e.data, on);
              break;
            case 'IPReleased':
              indexRelease(index, e.data, on);
              break;
            default:
              break; // not handled by pool projections
          }
        }
      });
    },
  };
}
