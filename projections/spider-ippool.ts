// SpiderIPPool documents (spiderpool.spidernet.io/v2beta1): the pool's spec and which addresses are allocated.
import type { Draft } from 'immer';
import type { PoolSpec } from '../events/catalogue.js';
import { compilePool } from '../src/alloc/spec.js';
import {
  copyJson,
  heldInPool,
  poolDocumentProjection,
  type AllocationIndex,
  type HeldAllocation,
  type IndexListener,
} from './pool-common.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

export const SPIDERPOOL_API_VERSION = 'spiderpool.spidernet.io/v2beta1';

/** Spiderpool's PoolIPAllocation: who holds one address. */
export interface SpiderPoolIPAllocation {
  /** "namespace/pod". */
  readonly namespacedName: string;
  readonly podUid: string;
  readonly interface: string;
}

export interface SpiderIPPoolStatus {
  /** IP -> holder. Spiderpool stores this map as a JSON string in the CR; we render the object. */
  readonly allocatedIPs: Readonly<Record<string, SpiderPoolIPAllocation>>;
  readonly allocatedIPCount: number;
  readonly totalIPCount: number;
}

export type SpiderIPPoolObject = K8sObject<PoolSpec, SpiderIPPoolStatus> & {
  readonly metadata: { readonly name: string };
  readonly spec: PoolSpec;
  readonly status: SpiderIPPoolStatus;
};

export interface SpiderIPPoolState extends DocumentState<SpiderIPPoolObject> {
  /** Current allocations by id and by pool/address, kept for pools that are not (or no longer) defined too. */
  readonly index: AllocationIndex;
}


/** Addresses in spec.ips minus spec.excludeIPs; 0 when the spec does not compile. */
export function poolTotalIPCount(name: string, spec: PoolSpec): number {
  try {
    return Number(compilePool(name, spec).pool.owned.size());
  } catch {
    return 0;
  }
}

function toAllocation(h: HeldAllocation): SpiderPoolIPAllocation {
  return { namespacedName: `${h.namespace}/${h.name}`, podUid: h.uid, interface: h.nic };
}

function render(name: string, spec: PoolSpec, index: AllocationIndex): SpiderIPPoolObject {
  const allocatedIPs: Record<string, SpiderPoolIPAllocation> = {};
  for (const h of heldInPool(index, name)) allocatedIPs[h.address] = toAllocation(h);
  return {
    apiVersion: SPIDERPOOL_API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name },
    spec: copyJson(spec),
    status: { allocatedIPs, allocatedIPCount: Object.keys(allocatedIPs).length, totalIPCount: poolTotalIPCount(name, spec) },
  };
}

function listener(d: Draft<SpiderIPPoolState>): IndexListener {
  return {
    removed(h) {
      const status = d.objects[h.pool]?.status;
      if (status === undefined || !Object.prototype.hasOwnProperty.call(status.allocatedIPs, h.address)) return;
      delete status.allocatedIPs[h.address];
      status.allocatedIPCount--;
    },
    added(h) {
      const status = d.objects[h.pool]?.status;
      if (status === undefined) return;
      if (!Object.prototype.hasOwnProperty.call(status.allocatedIPs, h.address)) status.allocatedIPCount++;
      status.allocatedIPs[h.address] = toAllocation(h);
    },
  };
}

export const spiderIPPoolProjection: Projection<SpiderIPPoolState> = poolDocumentProjection<SpiderIPPoolState>({
  name: 'spider-ippool',
  listener,
  definePool(d, name, spec, index) {
    const existing = d.objects[name];
    if (existing === undefined) {
      d.objects[name] = render(name, spec, index) as Draft<SpiderIPPoolObject>;
    } else {
      // The allocations are already current; only the spec and what it counts change.
      existing.spec = copyJson(spec) as Draft<PoolSpec>;
      existing.status.totalIPCount = poolTotalIPCount(name, spec);
    }
  },
  removePool(d, name) {
    delete d.objects[name];
  },
});
