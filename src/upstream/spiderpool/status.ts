// Spiderpool v2beta1's string-encoded status fields (pkg/k8s/apis/spiderpool.spidernet.io/v2beta1, and
// pkg/utils/convert Marshal/Unmarshal*): SpiderIPPool status.allocatedIPs holds JSON of PoolIPAllocations
// (IP -> {pod: "ns/name", podUid}), SpiderSubnet status.controlledIPPools JSON of PoolIPPreAllocations
// (pool -> {ips, application?}). Encoded as Go's encoding/json does (map keys sorted, no spaces); an empty map is
// no field at all (Marshal* return nil).
import { InputError } from '../../net/errors.js';
import { isRecord } from './ip.js';

export interface PoolIPAllocation {
  /** "namespace/name" (Go field NamespacedName). */
  readonly pod: string;
  readonly podUid: string;
}

export interface PoolIPPreAllocation {
  readonly ips: readonly string[];
  readonly application?: string;
}

// Go's encoding/json sorts map keys by their bytes; for the ASCII keys here that is JavaScript's default sort.
const byKey = <T>(entries: Iterable<readonly [string, T]>): (readonly [string, T])[] => [...entries].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

/** One allocation's JSON, as the pool's map value (cache it per holder: it is the same in every render). */
export const poolIPAllocationJson = (a: PoolIPAllocation): string => `{"pod":${JSON.stringify(a.pod)},"podUid":${JSON.stringify(a.podUid)}}`;

/** MarshalIPPoolAllocatedIPs over already-encoded values: undefined for no allocation. */
export function encodeAllocatedIPs(entries: Iterable<readonly [string, string]>): string | undefined {
  const sorted = byKey(entries);
  if (sorted.length === 0) return undefined;
  return `{${sorted.map(([ip, json]) => `${JSON.stringify(ip)}:${json}`).join(',')}}`;
}

export function encodeControlledIPPools(entries: Iterable<readonly [string, PoolIPPreAllocation]>): string | undefined {
  const sorted = byKey(entries);
  if (sorted.length === 0) return undefined;
  const value = (p: PoolIPPreAllocation) => `{"ips":${JSON.stringify(p.ips)}${p.application !== undefined ? `,"application":${JSON.stringify(p.application)}` : ''}}`;
  return `{${sorted.map(([pool, p]) => `${JSON.stringify(pool)}:${value(p)}`).join(',')}}`;
}

/** UnmarshalIPPoolAllocatedIPs: absent is none; anything else must be the JSON string upstream writes. */
export function decodeAllocatedIPs(v: unknown, field = 'status.allocatedIPs'): Record<string, PoolIPAllocation> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'string') throw new InputError(field, `must be a string holding JSON (Spiderpool v2beta1's PoolIPAllocations), got ${Array.isArray(v) ? 'an array' : typeof v}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch (e) {
    throw new InputError(field, `is not valid JSON: ${(e as Error).message}`);
  }
  if (parsed === null) return {};
  if (!isRecord(parsed)) throw new InputError(field, 'must hold a JSON object {"<ip>": {"pod": "<namespace>/<name>", "podUid": "<uid>"}}');
  const out: Record<string, PoolIPAllocation> = {};
  for (const [ip, a] of Object.entries(parsed)) {
    if (!isRecord(a) || typeof a.pod !== 'string' || typeof a.podUid !== 'string') {
      throw new InputError(`${field}[${JSON.stringify(ip)}]`, 'must be {"pod": "<namespace>/<name>", "podUid": "<uid>"}');
    }
    out[ip] = { pod: a.pod, podUid: a.podUid };
  }
  return out;
}
