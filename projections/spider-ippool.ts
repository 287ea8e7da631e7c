// SpiderIPPool documents (spiderpool.spidernet.io/v2beta1): the pool's spec and which addresses are allocated.
import { originMeta } from '../events/object-origin.js';
import type { PoolSpec } from '../events/catalogue.js';
import { compilePool } from '../src/alloc/spec.js';
import { encodeAllocatedIPs, poolIPAllocationJson } from '../src/upstream/spiderpool/status.js';
import { ipCount, poolDocumentProjection, userMetadata, type HeldAllocation, type PoolDefinition, type PoolDocuments, type PoolRecord } from './pool-common.js';
import type { DocumentProjection, K8sObject } from './types.js';

export const SPIDERPOOL_API_VERSION = 'spiderpool.spidernet.io/v2beta1';

export interface SpiderIPPoolStatus {
  /**
   * IP -> holder as v2beta1 has it: a string of JSON, {"<ip>":{"pod":"<ns>/<name>","podUid":"<uid>"}}, keys sorted;
   * absent when nothing is allocated (src/upstream/spiderpool/status.ts).
   */
  readonly allocatedIPs?: string;
  readonly allocatedIPCount: number;
  /** Saturates at 2^53 - 1 (see ipCount): a /64 pool reads 9007199254740991. */
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
    return ipCount(compilePool(name, spec).pool.owned.size());
  } catch {
    return 0;
  }
}

// An unchanged holder's JSON is encoded once, not once per render of its pool.
const entries = new WeakMap<HeldAllocation, string>();

function toAllocation(h: HeldAllocation): string {
  let a = entries.get(h);
  if (a === undefined) {
    a = poolIPAllocationJson({ pod: `${h.namespace}/${h.name}`, podUid: h.uid });
    entries.set(h, a);
  }
  return a;
}

function render(r: PoolRecord): SpiderIPPoolObject {
  const held: [string, string][] = [];
  r.held.forEach((h, address) => {
    held.push([address, toAllocation(h)]);
  });
  const allocatedIPs = encodeAllocatedIPs(held);
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
    status: { ...(allocatedIPs !== undefined ? { allocatedIPs } : {}), allocatedIPCount: r.held.size, totalIPCount: total },
  };
}

export const spiderIPPoolProjection: DocumentProjection<SpiderIPPoolState> = poolDocumentProjection({
  name: 'spider-ippool',
  version: 2,
  keyOf: (pool) => pool,
  poolOf: (key) => key,
  render,
});
