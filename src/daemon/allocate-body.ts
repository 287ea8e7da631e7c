// The allocation API's request bodies, checked field by field: a clear error naming the field, never a guess.
import { ReleaseReason, type Endpoint, type IpVersion } from '../../events/catalogue.js';
import type { AffinityContext, AllocateRequest } from '../alloc/types.js';
import { InputError } from '../net/errors.js';

const MAX_NAME = 253;
const MAX_POOLS = 16;

// Control characters (NUL above all) are refused by the store's tags; a '/' in a namespace, name or interface would
// make two endpoints share one tag ("a/b" + "c" and "a" + "b/c").
const CONTROL = /[\u0000-\u001f\u007f]/;

function str(o: Record<string, unknown>, key: string, path: string, opts: { optional?: boolean; max?: number; noSlash?: boolean } = {}): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new InputError(`${path}${key}`, 'is required');
  }
  if (typeof v !== 'string' || v.length === 0) throw new InputError(`${path}${key}`, 'must be a non-empty string');
  if (v.length > (opts.max ?? MAX_NAME)) throw new InputError(`${path}${key}`, `must be at most ${opts.max ?? MAX_NAME} characters`);
  if (CONTROL.test(v)) throw new InputError(`${path}${key}`, 'must not contain control characters');
  if (opts.noSlash && v.includes('/')) throw new InputError(`${path}${key}`, "must not contain '/'");
  return v;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new InputError(path, 'must be an object');
  return v as Record<string, unknown>;
}

function labels(v: unknown, path: string): Record<string, string> | undefined {
  if (v === undefined) return undefined;
  const o = object(v, path);
  for (const [k, x] of Object.entries(o)) if (typeof x !== 'string') throw new InputError(`${path}.${k}`, 'must be a string');
  return o as Record<string, string>;
}

function poolLists(v: unknown, path: string): { ipv4?: string[]; ipv6?: string[] } | undefined {
  if (v === undefined) return undefined;
  const o = object(v, path);
  const out: { ipv4?: string[]; ipv6?: string[] } = {};
  for (const [k, list] of Object.entries(o)) {
    if (k !== 'ipv4' && k !== 'ipv6') throw new InputError(`${path}.${k}`, 'unknown field (expected ipv4 or ipv6)');
    if (!Array.isArray(list) || list.some((x) => typeof x !== 'string' || x.length === 0)) throw new InputError(`${path}.${k}`, 'must be a list of pool names');
    if (list.length > MAX_POOLS) throw new InputError(`${path}.${k}`, `at most ${MAX_POOLS} pools`);
    out[k] = list as string[];
  }
  return out;
}

const ENDPOINT_FIELDS = new Set(['namespace', 'name', 'uid', 'containerID', 'node', 'nic', 'owner']);
const BODY_FIELDS = new Set(['endpoint', 'pools', 'namespaceDefaults', 'families', 'affinity']);

function noUnknown(o: Record<string, unknown>, known: Set<string>, path: string): void {
  for (const k of Object.keys(o)) if (!known.has(k)) throw new InputError(`${path}${k}`, 'unknown field');
}

export function parseEndpoint(v: unknown, defaults: { node: string }, path = 'endpoint'): Endpoint {
  const o = object(v, path);
  noUnknown(o, ENDPOINT_FIELDS, `${path}.`);
  const p = `${path}.`;
  const owner = o.owner === undefined ? undefined : object(o.owner, `${p}owner`);
  return {
    namespace: str(o, 'namespace', p, { noSlash: true })!,
    name: str(o, 'name', p, { noSlash: true })!,
    uid: str(o, 'uid', p, { optional: true }) ?? '',
    containerID: str(o, 'containerID', p)!,
    node: str(o, 'node', p, { optional: true }) ?? defaults.node,
    nic: str(o, 'nic', p, { optional: true, max: 15, noSlash: true }) ?? 'eth0', // Linux interface names are at most 15 bytes
    ...(owner ? { owner: { kind: str(owner, 'kind', `${p}owner.`)!, name: str(owner, 'name', `${p}owner.`)! } } : {}),
  };
}

/** POST /v1/allocations. */
export function parseAllocateBody(body: Record<string, unknown>, defaults: { node: string; at: string }): AllocateRequest {
  noUnknown(body, BODY_FIELDS, '');
  if (body.endpoint === undefined) throw new InputError('endpoint', 'is required');
  const endpoint = parseEndpoint(body.endpoint, defaults);
  const pools = poolLists(body.pools, 'pools');
  const namespaceDefaults = poolLists(body.namespaceDefaults, 'namespaceDefaults');
  let families: IpVersion[] | undefined;
  if (body.families !== undefined) {
    if (!Array.isArray(body.families) || body.families.length === 0 || body.families.some((f) => f !== 4 && f !== 6)) {
      throw new InputError('families', 'must be a non-empty list of 4 and/or 6');
    }
    families = [...new Set(body.families as IpVersion[])];
  }
  let affinity: AffinityContext | undefined;
  if (body.affinity !== undefined) {
    const a = object(body.affinity, 'affinity');
    noUnknown(a, new Set(['podLabels', 'namespaceLabels', 'nodeLabels', 'multusName']), 'affinity.');
    const podLabels = labels(a.podLabels, 'affinity.podLabels');
    const namespaceLabels = labels(a.namespaceLabels, 'affinity.namespaceLabels');
    const nodeLabels = labels(a.nodeLabels, 'affinity.nodeLabels');
    const multusName = str(a, 'multusName', 'affinity.', { optional: true });
    affinity = { ...(podLabels ? { podLabels } : {}), ...(namespaceLabels ? { namespaceLabels } : {}), ...(nodeLabels ? { nodeLabels } : {}), ...(multusName ? { multusName } : {}) };
  }
  return { endpoint, at: defaults.at, ...(pools ? { pools } : {}), ...(namespaceDefaults ? { namespaceDefaults } : {}), ...(families ? { families } : {}), ...(affinity ? { affinity } : {}) };
}

const REASONS = new Set<string>(Object.values(ReleaseReason));

export function parseReason(v: unknown, fallback: ReleaseReason): ReleaseReason {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v !== 'string' || !REASONS.has(v)) throw new InputError('reason', `must be one of ${[...REASONS].join(', ')}`);
  return v as ReleaseReason;
}

export type ReleaseBody =
  | { readonly containerID: string; readonly nic?: string }
  | { readonly namespace: string; readonly name: string; readonly uid?: string; readonly reason: ReleaseReason };

/** POST /v1/releases: by container (CNI DEL) or by pod (garbage collection, admin). */
export function parseReleaseBody(body: Record<string, unknown>): ReleaseBody {
  noUnknown(body, new Set(['containerID', 'nic', 'namespace', 'name', 'uid', 'reason']), '');
  if (body.containerID !== undefined) {
    const nic = str(body, 'nic', '', { optional: true, max: 15 });
    return { containerID: str(body, 'containerID', '')!, ...(nic ? { nic } : {}) };
  }
  if (body.namespace === undefined && body.name === undefined) throw new InputError('containerID', 'is required (or namespace and name of a pod)');
  const uid = str(body, 'uid', '', { optional: true });
  return { namespace: str(body, 'namespace', '')!, name: str(body, 'name', '')!, ...(uid ? { uid } : {}), reason: parseReason(body.reason, ReleaseReason.Admin) };
}
