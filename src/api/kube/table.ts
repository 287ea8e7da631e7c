// meta.k8s.io/v1 Table responses, which kubectl asks for (Accept: ...;as=Table) to print its columns; the columns
// are the upstream CRDs' additionalPrinterColumns.
import type { K8sObject } from '../../../projections/types.js';
import { printerColumns, type PrinterColumn, type ResourceDef } from './resources.js';
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

/** A printer column's JSONPath (`.status.current.ips[0].node`, `.spec.podAffinity.matchLabels['a\.b/c']`); undefined when absent. */
export function valueAt(o: unknown, jsonPath: string): unknown {
  let cur: unknown = o;
  for (const m of jsonPath.matchAll(/\.([A-Za-z0-9_-]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]/g)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    if (m[1] !== undefined) cur = (cur as Record<string, unknown>)[m[1]];
    else if (m[2] !== undefined) cur = (cur as unknown[])[Number(m[2])];
    else cur = (cur as Record<string, unknown>)[m[3]!.replace(/\\(.)/g, '$1')];
  }
  return cur;
}

/** k8s.io/apimachinery's duration.HumanDuration: how the API server prints a date column (AGE). */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) return seconds % 60 === 0 ? `${minutes}m` : `${minutes}m${seconds % 60}s`;
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return minutes % 60 === 0 ? `${hours}h` : `${hours}h${minutes % 60}m`;
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) return hours % 24 === 0 ? `${hours / 24}d` : `${Math.floor(hours / 24)}d${hours % 24}h`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 365 * 8) return days % 365 === 0 ? `${days / 365}y` : `${Math.floor(days / 365)}y${days % 365}d`;
  return `${Math.floor(days / 365)}y`;
}

function cell(o: K8sObject, c: PrinterColumn): unknown {
  const v = valueAt(o, c.jsonPath);
  if (v === undefined || v === null) return null;
  if (c.type === 'date') return typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? humanDuration(Date.now() - Date.parse(v)) : '<unknown>';
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
    ...printerColumns(def).map((c) => ({ name: c.name, type: c.type, format: '', description: c.description, priority: c.priority ?? 0 })),
  ];
}

function row(def: ResourceDef, o: K8sObject, include: IncludeObject) {
  const object =
    include === 'Object'
      ? o
      : include === 'Metadata'
        ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
        : undefined;
  return { cells: [o.metadata.name, ...printerColumns(def).map((c) => cell(o, c))], ...(object ? { object } : {}) };
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
