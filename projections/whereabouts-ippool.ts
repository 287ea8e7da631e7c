// Whereabouts IPPool documents (whereabouts.cni.cncf.io/v1alpha1), one per pool: the pool's subnet as the range,
// allocations keyed by the decimal offset of the address from the range's first (network) address.
import type { Draft } from 'immer';
import type { PoolSpec } from '../events/catalogue.js';
import { parseAddress, parseCidr, type Cidr } from '../src/net/address.js';
import { heldInPool, poolDocumentProjection, type AllocationIndex, type HeldAllocation, type IndexListener } from './pool-common.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

export const WHEREABOUTS_API_VERSION = 'whereabouts.cni.cncf.io/v1alpha1';
/** IPPools live in the namespace Whereabouts runs in. */
export const WHEREABOUTS_NAMESPACE = 'kube-system';

/** Whereabouts IPAllocation: the container holding the address at one offset. */
export interface WhereaboutsIPAllocation {
  /** The container (sandbox) id. */
  readonly id: string;
  /** "namespace/pod". */
  readonly podref: string;
  readonly ifname: string;
}

export interface WhereaboutsIPPoolSpec {
  /** The pool's subnet, CIDR. */
  readonly range: string;
  /** Decimal offset from the range's first address -> holder. */
  readonly allocations: Readonly<Record<string, WhereaboutsIPAllocation>>;
}

export type WhereaboutsIPPoolObject = K8sObject<WhereaboutsIPPoolSpec, never> & {
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: WhereaboutsIPPoolSpec;
};

export interface WhereaboutsIPPoolState extends DocumentState<WhereaboutsIPPoolObject> {
  readonly index: AllocationIndex;
}


/** The key of a pool's IPPool in `objects`. */
export function whereaboutsKey(pool: string): string {
  return `${WHEREABOUTS_NAMESPACE}/${pool}`;
}

// Every allocation and release needs its pool's range; parse each range text once, not once per event.
const ranges = new Map<string, Cidr | undefined>();

function parseRange(text: string): Cidr | undefined {
  if (ranges.has(text)) return ranges.get(text);
  let cidr: Cidr | undefined;
  try {
    cidr = parseCidr(text, 'range');
  } catch {
    cidr = undefined;
  }
  if (ranges.size > 10_000) ranges.clear(); // bounded: ranges are few, but input is not trusted
  ranges.set(text, cidr);
  return cidr;
}

/** The Whereabouts allocation key of `address` in `range`: its offset from the range's first address, in decimal. */
export function whereaboutsOffset(range: string, address: string): string | undefined {
  const cidr = parseRange(range);
  if (cidr === undefined) return undefined;
  let value: bigint;
  try {
    value = parseAddress(address, 'address', cidr.family).value;
  } catch {
    return undefined;
  }
  if (value < cidr.first || value > cidr.last) return undefined;
  return (value - cidr.first).toString(10);
}

function toAllocation(h: HeldAllocation): WhereaboutsIPAllocation {
  return { id: h.containerID, podref: `${h.namespace}/${h.name}`, ifname: h.nic };
}

function rangeOf(spec: PoolSpec): string {
  const text = typeof spec.subnet === 'string' ? spec.subnet : '';
  return parseRange(text)?.text ?? text;
}

function render(name: string, spec: PoolSpec, index: AllocationIndex): WhereaboutsIPPoolObject {
  const range = rangeOf(spec);
  const allocations: Record<string, WhereaboutsIPAllocation> = {};
  for (const h of heldInPool(index, name)) {
    const offset = whereaboutsOffset(range, h.address);
    if (offset !== undefined) allocations[offset] = toAllocation(h);
  }
  return {
    apiVersion: WHEREABOUTS_API_VERSION,
    kind: 'IPPool',
    metadata: { name, namespace: WHEREABOUTS_NAMESPACE },
    spec: { range, allocations },
  };
}

function listener(d: Draft<WhereaboutsIPPoolState>): IndexListener {
  return {
    removed(h) {
      const spec = d.objects[whereaboutsKey(h.pool)]?.spec;
      if (spec === undefined) return;
      const offset = whereaboutsOffset(spec.range, h.address);
      if (offset !== undefined) delete spec.allocations[offset];
    },
    added(h) {
      const spec = d.objects[whereaboutsKey(h.pool)]?.spec;
      if (spec === undefined) return;
      const offset = whereaboutsOffset(spec.range, h.address);
      if (offset !== undefined) spec.allocations[offset] = toAllocation(h);
    },
  };
}

export const whereaboutsIPPoolProjection: Projection<WhereaboutsIPPoolState> = poolDocumentProjection<WhereaboutsIPPoolState>({
  name: 'whereabouts-ippool',
  listener,
  definePool(d, name, spec, index) {
    const key = whereaboutsKey(name);
    // Same range: the allocations are already current. A new range moves every offset: re-render.
    if (d.objects[key]?.spec.range !== rangeOf(spec)) d.objects[key] = render(name, spec, index);
  },
  removePool(d, name) {
    delete d.objects[whereaboutsKey(name)];
  },
});
