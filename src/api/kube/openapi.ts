// OpenAPI as the API server publishes it for CRDs: v3 (/openapi/v3 lists one document per group-version;
// /openapi/v3/apis/<group>/<version>) and v2 (/openapi/v2, JSON), with each kind's schema taken from its CRD file
// (deploy/k8s/crds, read at start) so `kubectl explain` lists the fields. The PATCH operations carry the
// fieldValidation parameter: kubectl then leaves validation to the server (fieldValidation=Strict) instead of
// validating against a downloaded schema.
import { createHash } from 'node:crypto';
import { crdKey, crds } from './crds.js';
import { groups, verbsOf, type ResourceDef } from './resources.js';

const META = 'io.k8s.apimachinery.pkg.apis.meta.v1';
const query = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  query('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All'),
  query('fieldManager', 'fieldManager is a name associated with the actor or entity that is making these changes.'),
  query('fieldValidation', 'How unknown or duplicate fields are handled: Ignore, Warn (default) or Strict'),
];
const PATCH_PARAMS = [...WRITE_PARAMS, { name: 'force', in: 'query', description: 'Force is going to "force" Apply requests.', schema: { type: 'boolean', uniqueItems: true } }];
const READ_PARAMS = [query('resourceVersion', ''), query('labelSelector', ''), query('fieldSelector', ''), query('watch', ''), query('allowWatchBookmarks', ''), query('timeoutSeconds', ''), query('limit', ''), query('continue', '')];

export const schemaName = (r: Pick<ResourceDef, 'group' | 'version' | 'kind'>) => `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;
const gvk = (r: ResourceDef, kind = r.kind) => ({ group: r.group, version: r.version, kind });

type Ref = (name: string) => string;
const refV3: Ref = (n) => `#/components/schemas/${n}`;
const refV2: Ref = (n) => `#/definitions/${n}`;

/** ObjectMeta as the API server's OpenAPI describes it (the fields this server sets or keeps). */
function objectMeta(ref: Ref) {
  const str = (description: string) => ({ type: 'string', description });
  const map = (description: string) => ({ type: 'object', additionalProperties: { type: 'string', default: '' }, description });
  return {
    description: 'ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.',
    type: 'object',
    properties: {
      name: str('Name must be unique within a namespace.'),
      generateName: str('GenerateName is an optional prefix, used by the server, to generate a unique name ONLY IF the Name field has not been provided.'),
      namespace: str('Namespace defines the space within which each name must be unique.'),
      uid: str('UID is the unique in time and space value for this object. Here: derived from the id of the event that defined the object.'),
      resourceVersion: str('An opaque value that represents the internal version of this object. Here: the etcd revision of its last change.'),
      generation: { type: 'integer', format: 'int64', description: 'A sequence number representing a specific generation of the desired state.' },
      creationTimestamp: { type: 'string', format: 'date-time', description: 'CreationTimestamp is a timestamp representing the server time when this object was created. Here: the time of the defining event.' },
      deletionTimestamp: { type: 'string', format: 'date-time', description: 'DeletionTimestamp is RFC 3339 date and time at which this resource will be deleted.' },
      labels: map('Map of string keys and values that can be used to organize and categorize (scope and select) objects.'),
      annotations: map('Annotations is an unstructured key value map stored with a resource that may be set by external tools to store and retrieve arbitrary metadata.'),
      finalizers: { type: 'array', items: { type: 'string', default: '' }, description: 'Must be empty before the object is deleted from the registry.' },
      ownerReferences: { type: 'array', items: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, description: 'List of objects depended by this object.' },
      managedFields: { type: 'array', items: { $ref: ref(`${META}.ManagedFieldsEntry`) }, description: 'ManagedFields maps workflow-id and version to the set of fields that are managed by that workflow.' },
    },
  };
}

function managedFieldsEntry() {
  return {
    description: 'ManagedFieldsEntry is a workflow-id, a FieldSet and the group version of the resource that the fieldset applies to.',
    type: 'object',
    properties: {
      apiVersion: { type: 'string' },
      fieldsType: { type: 'string' },
      fieldsV1: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
      manager: { type: 'string' },
      operation: { type: 'string' },
      subresource: { type: 'string' },
      time: { type: 'string', format: 'date-time' },
    },
  };
}

function listMeta() {
  return { type: 'object', properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer', format: 'int64' } } };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The kind's schema: its CRD's openAPIV3Schema (metadata as a reference to ObjectMeta, as the API server does), or an open one. */
function kindSchema(r: ResourceDef, ref: Ref, v2: boolean) {
  const crd = crds().get(crdKey(r.group, r.version, r.kind))?.schema;
  const base: Record<string, unknown> = crd
    ? structuredClone(crd)
    : { type: 'object', properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: {}, spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } };
  const props = isRecord(base.properties) ? base.properties : (base.properties = {});
  const metaRef = { $ref: ref(`${META}.ObjectMeta`) };
  (props as Record<string, unknown>).metadata = v2 ? { ...metaRef, description: "Standard object's metadata." } : { allOf: [metaRef], default: {}, description: "Standard object's metadata." };
  return { ...((v2 ? toV2(base) : base) as Record<string, unknown>), 'x-kubernetes-group-version-kind': [gvk(r)] } as Record<string, unknown>;
}

/** OpenAPI v2 has no nullable, anyOf/oneOf with types nor x-kubernetes-int-or-string shortcuts the same way: drop what v2 lacks. */
function toV2(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toV2);
  if (!isRecord(s)) return s;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === 'nullable' || k === 'oneOf' || k === 'anyOf' || k === 'not') continue;
    out[k] = toV2(v);
  }
  return out;
}

function listSchema(r: ResourceDef, ref: Ref) {
  return {
    type: 'object',
    required: ['items'],
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { $ref: ref(`${META}.ListMeta`) }, items: { type: 'array', items: { $ref: ref(schemaName(r)) } } },
    'x-kubernetes-group-version-kind': [gvk(r, `${r.kind}List`)],
  };
}

function operationV3(r: ResourceDef, action: string, params: object[], list = false) {
  const ref = { $ref: refV3(list ? `${schemaName(r)}List` : schemaName(r)) };
  return {
    operationId: `${action}${r.kind}`,
    parameters: params,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(r),
  };
}

function basePath(r: ResourceDef, v2: boolean): string {
  return `/apis/${r.group}/${r.version}/${r.namespaced ? 'namespaces/{namespace}/' : ''}${r.plural}`;
}

function pathsV3(r: ResourceDef): Record<string, object> {
  const base = basePath(r, false);
  const verbs = verbsOf(r);
  const collection: Record<string, object> = { get: operationV3(r, 'list', READ_PARAMS, true) };
  if (verbs.includes('create')) collection.post = operationV3(r, 'post', WRITE_PARAMS);
  const item: Record<string, object> = { get: operationV3(r, 'get', [query('resourceVersion', '')]) };
  if (verbs.includes('update')) item.put = operationV3(r, 'put', WRITE_PARAMS);
  if (verbs.includes('patch')) item.patch = operationV3(r, 'patch', PATCH_PARAMS);
  if (verbs.includes('delete')) item.delete = operationV3(r, 'delete', [query('dryRun', '')]);
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
  const ns = r.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [];
  return { [base]: { ...collection, parameters: ns }, [`${base}/{name}`]: { ...item, parameters: [name, ...ns] } };
}

function commonSchemas(ref: Ref) {
  return { [`${META}.ObjectMeta`]: objectMeta(ref), [`${META}.ManagedFieldsEntry`]: managedFieldsEntry(), [`${META}.ListMeta`]: listMeta() };
}

function groupVersionDoc(g: { group: string; version: string; resources: ResourceDef[] }) {
  return {
    openapi: '3.0.0',
    info: { title: 'ipam-es', version: `${g.group}/${g.version}` },
    paths: Object.assign({}, ...g.resources.map(pathsV3)) as Record<string, object>,
    components: {
      schemas: {
        ...Object.fromEntries(g.resources.flatMap((r) => [[schemaName(r), kindSchema(r, refV3, false)], [`${schemaName(r)}List`, listSchema(r, refV3)]])),
        ...commonSchemas(refV3),
      },
    },
  };
}

/** Swagger 2.0 parameters and operations (what /openapi/v2 clients read: paths with x-kubernetes-group-version-kind). */
function pathsV2(r: ResourceDef): Record<string, object> {
  const base = basePath(r, true);
  const verbs = verbsOf(r);
  const p2 = (ps: readonly { name: string; in: string; description?: string; schema: { type: string } }[]) => ps.map((p) => ({ name: p.name, in: p.in, type: p.schema.type, uniqueItems: true, ...(p.description ? { description: p.description } : {}) }));
  const op = (action: string, params: readonly { name: string; in: string; schema: { type: string } }[], list = false) => ({
    operationId: `${action}${r.kind}`,
    consumes: action === 'patch' ? ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'] : ['*/*'],
    produces: ['application/json', 'application/yaml'],
    parameters: p2(params),
    responses: { '200': { description: 'OK', schema: { $ref: refV2(list ? `${schemaName(r)}List` : schemaName(r)) } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(r),
  });
  const collection: Record<string, object> = { get: op('list', READ_PARAMS, true) };
  if (verbs.includes('create')) collection.post = op('post', WRITE_PARAMS);
  const item: Record<string, object> = { get: op('get', [query('resourceVersion', '')]) };
  if (verbs.includes('update')) item.put = op('put', WRITE_PARAMS);
  if (verbs.includes('patch')) item.patch = op('patch', PATCH_PARAMS);
  if (verbs.includes('delete')) item.delete = op('delete', [query('dryRun', '')]);
  const name = { name: 'name', in: 'path', required: true, type: 'string', uniqueItems: true };
  const ns = r.namespaced ? [{ name: 'namespace', in: 'path', required: true, type: 'string', uniqueItems: true }] : [];
  return { [base]: { ...collection, parameters: ns }, [`${base}/{name}`]: { ...item, parameters: [name, ...ns] } };
}

function v2Doc() {
  const all = groups().flatMap((g) => g.resources);
  return {
    swagger: '2.0',
    info: { title: 'ipam-es', version: 'v2' },
    paths: Object.assign({}, ...all.map(pathsV2)) as Record<string, object>,
    definitions: {
      ...Object.fromEntries(all.flatMap((r) => [[schemaName(r), kindSchema(r, refV2, true)], [`${schemaName(r)}List`, listSchema(r, refV2)]])),
      ...commonSchemas(refV2),
    },
  };
}

interface Docs {
  readonly v3: Map<string, object>;
  readonly hashes: Map<string, string>;
  readonly v2: object;
}
let built: Docs | undefined;

function docs(): Docs {
  if (built) return built;
  const v3 = new Map(groups().map((g) => [`apis/${g.group}/${g.version}`, groupVersionDoc(g) as object]));
  const hashes = new Map([...v3].map(([k, d]) => [k, createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 32).toUpperCase()]));
  built = { v3, hashes, v2: v2Doc() };
  return built;
}

/** The document at /openapi/<parts...>, or undefined. */
export function openApi(parts: readonly string[]): object | undefined {
  const d = docs();
  if (parts.length === 1 && parts[0] === 'v2') return d.v2;
  if (parts[0] !== 'v3') return undefined;
  if (parts.length === 1) {
    return { paths: Object.fromEntries([...d.v3.keys()].map((k) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${d.hashes.get(k)}` }])) };
  }
  return d.v3.get(parts.slice(1).join('/'));
}

/** Whether a client accepting `accept` can take JSON (the v2 document is served as JSON only, not protobuf). */
export function acceptsJson(accept: string | undefined): boolean {
  if (!accept) return true;
  return accept.split(',').some((t) => {
    const base = t.split(';')[0]!.trim().toLowerCase();
    return base === 'application/json' || base === '*/*' || base === 'application/*';
  });
}
