// The CRD files under deploy/k8s/crds (upstream's, where we serve upstream's kinds), read once at start: each served
// kind's openAPIV3Schema and additionalPrinterColumns, so OpenAPI and kubectl's tables follow the files, not a copy.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export interface CrdColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description: string;
  readonly priority?: number;
  readonly format?: string;
}

export interface CrdVersion {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  /** openAPIV3Schema as the file gives it. */
  readonly schema: Record<string, unknown> | undefined;
  /** additionalPrinterColumns, or the API server's default (Age) when the version declares none. */
  readonly columns: readonly CrdColumn[];
  readonly file: string;
}

/** The repository's deploy/k8s/crds, from dist/src/api/kube (built) or src/api/kube (sources); IPAM_CRD_DIR overrides. */
export function crdDir(): string {
  return process.env.IPAM_CRD_DIR ?? fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../../../../deploy/k8s/crds/' : '../../../deploy/k8s/crds/', import.meta.url));
}

/** As apiextensions-apiserver serves a version without additionalPrinterColumns. */
const AGE: CrdColumn = {
  name: 'Age',
  type: 'date',
  jsonPath: '.metadata.creationTimestamp',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function columnsOf(v: Record<string, unknown>): CrdColumn[] {
  const cols = Array.isArray(v.additionalPrinterColumns) ? v.additionalPrinterColumns.filter(isRecord) : [];
  if (cols.length === 0) return [AGE];
  return cols.map((c) => ({
    name: String(c.name),
    type: (['string', 'integer', 'number', 'boolean', 'date'].includes(String(c.type)) ? c.type : 'string') as CrdColumn['type'],
    jsonPath: String(c.jsonPath),
    description: typeof c.description === 'string' ? c.description : '',
    ...(typeof c.priority === 'number' ? { priority: c.priority } : {}),
    ...(typeof c.format === 'string' ? { format: c.format } : {}),
  }));
}

export function loadCrds(dir = crdDir()): Map<string, CrdVersion> {
  const out = new Map<string, CrdVersion>();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  } catch {
    return out; // no CRD files (an install without them): open schemas and the built-in columns
  }
  for (const f of files) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, f), 'utf8'))) {
      const crd = doc.toJS() as unknown;
      if (!isRecord(crd) || crd.kind !== 'CustomResourceDefinition' || !isRecord(crd.spec)) continue;
      const spec = crd.spec;
      const names = isRecord(spec.names) ? spec.names : {};
      for (const v of Array.isArray(spec.versions) ? spec.versions.filter(isRecord) : []) {
        const schema = isRecord(v.schema) && isRecord(v.schema.openAPIV3Schema) ? v.schema.openAPIV3Schema : undefined;
        const entry: CrdVersion = { group: String(spec.group), version: String(v.name), kind: String(names.kind), plural: String(names.plural), schema, columns: columnsOf(v), file: join(dir, f) };
        out.set(crdKey(entry.group, entry.version, entry.kind), entry);
      }
    }
  }
  return out;
}

export const crdKey = (group: string, version: string, kind: string) => `${group}/${version}/${kind}`;

let loaded: Map<string, CrdVersion> | undefined;

/** The CRDs of this install, read on first use. */
export function crds(): Map<string, CrdVersion> {
  loaded ??= loadCrds();
  return loaded;
}
