// Whereabouts IPPool documents (whereabouts.cni.cncf.io/v1alpha1), one per pool: the pool's subnet as the range,
// allocations keyed by the decimal offset of the address from the range's first (network) address.
import { originMeta } from '../events/object-origin.js';
import type { PoolSpec } from '../events/catalogue.js';
import { parseAddress, parseCidr, type Cidr } from '../src/net/address.js';
import { poolDocumentProjection, userMetadata, type HeldAllocation, type PoolDocuments, type PoolRecord } from './pool-common.js';
import type { DocumentProjection, K8sObject } from './types.js';

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
  readonly metadata: {
    readonly name: string;
    readonly namespace: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec: WhereaboutsIPPoolSpec;
};

/** The Whereabouts IPPool projection's state. */
export type WhereaboutsIPPoolState = PoolDocuments;

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

// Unchanged holders render to the same (frozen) entry, at an offset computed once per range.
const entries = new WeakMap<HeldAllocation, { readonly range: string; readonly offset: string | undefined; readonly allocation: WhereaboutsIPAllocation }>();

function entryOf(range: string, h: HeldAllocation): { readonly offset: string | undefined; readonly allocation: WhereaboutsIPAllocation } {
  let e = entries.get(h);
  if (e === undefined || e.range !== range) {
    const allocation = e?.allocation ?? Object.freeze({ id: h.containerID, podref: `${h.namespace}/${h.name}`, ifname: h.nic });
    e = { range, offset: whereaboutsOffset(range, h.address), allocation };
    entries.set(h, e);
  }
  return e;
}

function rangeOf(spec: PoolSpec): string {
  const text = typeof spec.subnet === 'string' ? spec.subnet : '';
  return parseRange(text)?.text ?? text;
}

function render(r: PoolRecord): WhereaboutsIPPoolObject {
  const range = rangeOf(r.definition.spec);
  const allocations: Record<string, WhereaboutsIPAllocation> = {};
  r.held.forEach((h) => {
    const e = entryOf(range, h);
    if (e.offset !== undefined) allocations[e.offset] = e.allocation;
  });
  return {
    apiVersion: WHEREABOUTS_API_VERSION,
    kind: 'IPPool',
    metadata: { name: r.name, namespace: WHEREABOUTS_NAMESPACE, ...originMeta(r.definition.origin), ...userMetadata(r.definition) },
    spec: { range, allocations },
  };
}

const PREFIX = `${WHEREABOUTS_NAMESPACE}/`;

export const whereaboutsIPPoolProjection: DocumentProjection<WhereaboutsIPPoolState> = poolDocumentProjection({
  name: 'whereabouts-ippool',
  version: 2,
  keyOf: whereaboutsKey,
  poolOf: (key) => (key.startsWith(PREFIX) ? key.slice(PREFIX.length) : ''),
  render,
});
