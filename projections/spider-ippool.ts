// SpiderIPPool documents (spiderpool.spidernet.io/v2beta1): the pool's spec and which addresses are allocated.
import { originMeta } from '../events/object-origin.js';
import type { PoolSpec } from '../events/catalogue.js';
import { compilePool } from '../src/alloc/spec.js';
import { poolDocumentProjection, userMetadata, type HeldAllocation, type PoolDefinition, type PoolDocuments, type PoolRecord } from './pool-common.js';
import type { DocumentProjection, K8sObject } from './types.js';

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
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: PoolSpec;
  readonly status: SpiderIPPoolStatus;
};

/** The SpiderIPPool projection's state. */
export type SpiderIPPoolState = PoolDocuments;

// A spec's count compiles the pool: once per definition, not once per render.
const totals = new WeakMap<PoolDefinition, number>();

/** Addresses in spec.ips minus spec.excludeIPs; 0 when the spec does not compile. */
export function poolTotalIPCount(name: string, spec: PoolSpec): number {
  try {
    return Number(compilePool(name, spec).pool.owned.size());
  } catch {
    return 0;
  }
}

// Unchanged holders render to the same (frozen) entry object in every version of the pool's object.
const entries = new WeakMap<HeldAllocation, SpiderPoolIPAllocation>();

function toAllocation(h: HeldAllocation): SpiderPoolIPAllocation {
  let a = entries.get(h);
  if (a === undefined) {
    a = Object.freeze({ namespacedName: `${h.namespace}/${h.name}`, podUid: h.uid, interface: h.nic });
    entries.set(h, a);
  }
  return a;
}

function render(r: PoolRecord): SpiderIPPoolObject {
  const allocatedIPs: Record<string, SpiderPoolIPAllocation> = {};
  r.held.forEach((h, address) => {
    allocatedIPs[address] = toAllocation(h);
  });
  let total = totals.get(r.definition);
  if (total === undefined) {
    total = poolTotalIPCount(r.name, r.definition.spec);
    totals.set(r.definition, total);
  }
  return {
    apiVersion: SPIDERPOOL_API_VERSION,
    kind: 'SpiderIPPool',
    metadata: { name: r.name, ...originMeta(r.definition.origin), ...userMetadata(r.definition) },
    spec: r.definition.spec,
    status: { allocatedIPs, allocatedIPCount: r.held.size, totalIPCount: total },
  };
}

export const spiderIPPoolProjection: DocumentProjection<SpiderIPPoolState> = poolDocumentProjection({
  name: 'spider-ippool',
  version: 2,
  keyOf: (pool) => pool,
  poolOf: (key) => key,
  render,
});
