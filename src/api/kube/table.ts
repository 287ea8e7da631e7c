// meta.k8s.io/v1 Table responses, which kubectl asks for (Accept: ...;as=Table) to print its columns; the columns
// are the upstream CRDs' additionalPrinterColumns.
import type { K8sObject } from '../../../projections/types.js';
import type { PrinterColumn, ResourceDef } from './resources.js';
import { StatusError } from './status.js';

export type Representation = 'json' | 'table';

/** What the client accepts: a Table, or the object itself. */
export function negotiate(accept: string | undefined): Representation {
  if (!accept) return 'json';
  const types = accept.split(',').map((t) => t.trim().toLowerCase());
  for (const t of types) {
    const [base, ...params] = t.split(';').map((p) => p.trim());
    const p = new Map(params.map((x) => x.split('=') as [string, string]));
    if (base === 'application/json' && p.get('as') === 'table' && p.get('g') === 'meta.k8s.io') return 'table';
    if (base === 'application/json' && p.get('as') === undefined) return 'json';
    if (base === '*/*' || base === 'application/*') return 'json';
  }
  throw new StatusError(406, 'NotAcceptable', `only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io (asked for ${accept})`);
}

/** A printer column's JSONPath (`.status.current.ips[0].node`); undefined when absent. */
export function valueAt(o: unknown, jsonPath: string): unknown {
  let cur: unknown = o;
  for (const m of jsonPath.matchAll(/\.([A-Za-z0-9_-]+)|\[(\d+)\]/g)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = m[1] !== undefined ? (cur as Record<string, unknown>)[m[1]] : (cur as unknown[])[Number(m[2])];
  }
  return cur;
}

function cell(o: K8sObject, c: PrinterColumn): unknown {
  const v = valueAt(o, c.jsonPath);
  if (v === undefined || v === null) return null;
  if (typeof v === 'object') return Array.isArray(v) ? v.join(',') : JSON.stringify(v);
  return c.type === 'string' ? String(v) : v;
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function includeObjectOf(q: URLSearchParams): IncludeObject {
  const v = q.get('includeObject') ?? 'Metadata';
  if (v !== 'None' && v !== 'Metadata' && v !== 'Object') throw new StatusError(400, 'BadRequest', `includeObject must be None, Metadata or Object, got ${JSON.stringify(v)}`);
  return v;
}

function columnDefinitions(def: ResourceDef) {
  return [
    { name: 'Name', type: 'string', format: 'name', description: 'Name must be unique within a namespace.', priority: 0 },
    ...def.columns.map((c) => ({ name: c.name, type: c.type, format: '', description: c.description, priority: c.priority ?? 0 })),
  ];
}

function row(def: ResourceDef, o: K8sObject, include: IncludeObject) {
  const object =
    include === 'Object'
      ? o
      : include === 'Metadata'
        ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
        : undefined;
  return { cells: [o.metadata.name, ...def.columns.map((c) => cell(o, c))], ...(object ? { object } : {}) };
}

export function table(def: ResourceDef, objects: readonly K8sObject[], resourceVersion: string, include: IncludeObject, headers = true) {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: { resourceVersion },
    ...(headers ? { columnDefinitions: columnDefinitions(def) } : { columnDefinitions: [] }),
    rows: objects.map((o) => row(def, o, include)),
  };
}
