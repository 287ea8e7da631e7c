// The envelope of a submitted object (apiVersion, kind, metadata): fields the API server knows, labels and
// annotations validated as it validates them.
import type { ObjectMeta } from '../../../events/catalogue.js';
import { InputError } from '../../net/errors.js';

export const TOP_LEVEL_FIELDS = ['apiVersion', 'kind', 'metadata', 'spec', 'status'];
export const OBJECT_META_FIELDS = [
  'name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields',
];

export const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fields of `o` outside `known`, as dotted paths under `path`. */
export function unknownFields(o: Record<string, unknown>, known: readonly string[], path: string): string[] {
  return Object.keys(o)
    .filter((k) => !known.includes(k))
    .map((k) => (path ? `${path}.${k}` : k));
}

const NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** A label or annotation key: [prefix/]name, name at most 63 characters, prefix a DNS subdomain. */
function checkKey(key: string, field: string): void {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix))) {
    throw new InputError(field, `prefix ${JSON.stringify(prefix)} must be a DNS subdomain (lowercase letters, digits, '-' and '.')`);
  }
  if (name.length > 63 || !NAME.test(name)) {
    throw new InputError(field, `name part ${JSON.stringify(name)} must be at most 63 characters: letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
  }
}

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw new InputError(field, 'must be a map of strings to strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new InputError(`${field}[${JSON.stringify(k)}]`, `must be a string, got ${JSON.stringify(x)}`);
  return v as Record<string, string>;
}

/** The labels and annotations the events record. */
export function objectMeta(metadata: Record<string, unknown>): ObjectMeta {
  const labels = stringMap(metadata.labels, 'metadata.labels');
  const annotations = stringMap(metadata.annotations, 'metadata.annotations');
  for (const [k, v] of Object.entries(labels ?? {})) {
    checkKey(k, `metadata.labels[${JSON.stringify(k)}]`);
    if (v !== '' && (v.length > 63 || !NAME.test(v))) {
      throw new InputError(`metadata.labels[${JSON.stringify(k)}]`, `value ${JSON.stringify(v)} must be at most 63 characters: letters, digits, '-', '_' or '.', starting and ending with a letter or digit`);
    }
  }
  let size = 0;
  for (const [k, v] of Object.entries(annotations ?? {})) {
    checkKey(k, `metadata.annotations[${JSON.stringify(k)}]`);
    size += k.length + v.length;
  }
  if (size > MAX_ANNOTATIONS_BYTES) throw new InputError('metadata.annotations', `are ${size} bytes; at most ${MAX_ANNOTATIONS_BYTES} are allowed`);
  return { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) };
}

/** JSON with sorted keys, for comparing specs and metadata regardless of key order. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** Whether two objects carry the same labels and annotations (absent and empty are the same). */
export function sameMeta(a: ObjectMeta, b: Record<string, unknown>): boolean {
  const norm = (m: unknown) => stableJson(isRecord(m) && Object.keys(m).length > 0 ? m : {});
  const fields = (m: unknown) => stableJson(Array.isArray(m) ? m : []);
  return norm(a.labels) === norm(b.labels) && norm(a.annotations) === norm(b.annotations) && fields(a.managedFields) === fields(b.managedFields);
}
