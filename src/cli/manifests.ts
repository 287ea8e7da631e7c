// The YAML users already write for Spiderpool and Whereabouts, read into the engine's vocabulary.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import type { ObjectMeta } from '../../events/catalogue.js';
import { InputError } from '../net/errors.js';

export type ManifestKind = 'SpiderSubnet' | 'SpiderIPPool' | 'SpiderReservedIP' | 'IPPool';

export interface Manifest {
  readonly kind: ManifestKind;
  readonly apiVersion: string;
  readonly name: string;
  readonly namespace?: string;
  readonly metadata: ObjectMeta;
  readonly spec: Record<string, unknown>;
  /** The object as written (for the Kubernetes-style API). */
  readonly object: Record<string, unknown>;
  /** Where it came from, for messages: "file.yaml#2". */
  readonly source: string;
}

/** Kubernetes resource paths of each kind on the daemon's Kubernetes-style API. */
export const RESOURCES: Record<ManifestKind, { group: string; version: string; plural: string; namespaced: boolean }> = {
  SpiderSubnet: { group: 'spiderpool.spidernet.io', version: 'v2beta1', plural: 'spidersubnets', namespaced: false },
  SpiderIPPool: { group: 'spiderpool.spidernet.io', version: 'v2beta1', plural: 'spiderippools', namespaced: false },
  SpiderReservedIP: { group: 'spiderpool.spidernet.io', version: 'v2beta1', plural: 'spiderreservedips', namespaced: false },
  IPPool: { group: 'whereabouts.cni.cncf.io', version: 'v1alpha1', plural: 'ippools', namespaced: true },
};

const KINDS = new Set(Object.keys(RESOURCES));

function stringMap(v: unknown, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(field, 'must be a map of strings');
  for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') throw new InputError(`${field}.${k}`, 'must be a string');
  return v as Record<string, string>;
}

/** Every document of a YAML (or JSON) text; a clear error naming the document and field otherwise. */
export function parseManifests(text: string, file: string): Manifest[] {
  const docs = parseAllDocuments(text);
  const out: Manifest[] = [];
  docs.forEach((doc, i) => {
    const where = `${file}#${i + 1}`;
    if (doc.errors.length > 0) throw new InputError(where, `not valid YAML: ${doc.errors[0]!.message}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) return; // an empty document (e.g. a trailing ---)
    if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(where, 'must be a Kubernetes object (a map with apiVersion, kind, metadata, spec)');
    const o = v as Record<string, unknown>;
    if (o.kind === 'List' && Array.isArray(o.items)) {
      for (const item of o.items) out.push(...parseManifests(JSON.stringify(item), `${where}.items`));
      return;
    }
    const kind = o.kind;
    if (typeof kind !== 'string' || !KINDS.has(kind)) throw new InputError(`${where}: kind`, `must be one of ${[...KINDS].join(', ')} (got ${JSON.stringify(kind)})`);
    const r = RESOURCES[kind as ManifestKind];
    if (o.apiVersion !== `${r.group}/${r.version}`) throw new InputError(`${where}: apiVersion`, `must be ${r.group}/${r.version} for ${kind} (got ${JSON.stringify(o.apiVersion)})`);
    const md = o.metadata as Record<string, unknown> | undefined;
    if (!md || typeof md.name !== 'string' || md.name === '') throw new InputError(`${where}: metadata.name`, 'is required');
    if (o.spec === undefined || typeof o.spec !== 'object' || o.spec === null || Array.isArray(o.spec)) throw new InputError(`${where}: spec`, 'is required (an object)');
    const labels = stringMap(md.labels, `${where}: metadata.labels`);
    const annotations = stringMap(md.annotations, `${where}: metadata.annotations`);
    out.push({
      kind: kind as ManifestKind,
      apiVersion: o.apiVersion as string,
      name: md.name,
      ...(r.namespaced ? { namespace: typeof md.namespace === 'string' && md.namespace ? md.namespace : 'default' } : {}),
      metadata: { ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
      spec: o.spec as Record<string, unknown>,
      object: o,
      source: where,
    });
  });
  return out;
}

export function readManifests(file: string): Manifest[] {
  const text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  return parseManifests(text, file === '-' ? 'stdin' : file);
}
