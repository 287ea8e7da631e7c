// A minimal OpenAPI v3 discovery: /openapi/v3 lists one document per group-version, each naming its operations'
// group-version-kind and the dryRun/fieldValidation parameters. kubectl apply reads it to learn that the server
// validates fields itself (it then sends fieldValidation=Strict instead of validating against a schema it lacks).
import { createHash } from 'node:crypto';
import { groups, verbsOf, type ResourceDef } from './resources.js';

const query = (name: string, description: string) => ({ name, in: 'query', description, schema: { type: 'string', uniqueItems: true } });
const WRITE_PARAMS = [
  query('dryRun', 'When present, indicates that modifications should not be persisted. Valid values are: - All'),
  query('fieldValidation', 'How unknown or duplicate fields are handled: Ignore, Warn (default) or Strict'),
];
const READ_PARAMS = [query('resourceVersion', ''), query('labelSelector', ''), query('fieldSelector', ''), query('watch', ''), query('allowWatchBookmarks', ''), query('timeoutSeconds', '')];

const schemaName = (r: ResourceDef) => `${r.group.split('.').reverse().join('.')}.${r.version}.${r.kind}`;

function operation(r: ResourceDef, action: string, params: object[]) {
  const ref = { $ref: `#/components/schemas/${schemaName(r)}` };
  return {
    operationId: `${action}${r.kind}`,
    parameters: params,
    responses: { '200': { description: 'OK', content: { 'application/json': { schema: ref } } } },
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': { group: r.group, version: r.version, kind: r.kind },
  };
}

function paths(r: ResourceDef): Record<string, object> {
  const base = `/apis/${r.group}/${r.version}/${r.namespaced ? 'namespaces/{namespace}/' : ''}${r.plural}`;
  const verbs = verbsOf(r);
  const collection: Record<string, object> = { get: operation(r, 'list', READ_PARAMS) };
  if (verbs.includes('create')) collection.post = operation(r, 'post', WRITE_PARAMS);
  const item: Record<string, object> = { get: operation(r, 'get', [query('resourceVersion', '')]) };
  if (verbs.includes('update')) item.put = operation(r, 'put', WRITE_PARAMS);
  if (verbs.includes('patch')) item.patch = operation(r, 'patch', WRITE_PARAMS);
  if (verbs.includes('delete')) item.delete = operation(r, 'delete', [query('dryRun', '')]);
  const name = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };
  const ns = r.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [];
  return { [base]: { ...collection, parameters: ns }, [`${base}/{name}`]: { ...item, parameters: [name, ...ns] } };
}

function schema(r: ResourceDef) {
  const open = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };
  return {
    type: 'object',
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, spec: open, status: open },
    'x-kubernetes-group-version-kind': [{ group: r.group, version: r.version, kind: r.kind }],
  };
}

function groupVersionDoc(g: { group: string; version: string; resources: ResourceDef[] }) {
  return {
    openapi: '3.0.0',
    info: { title: 'ipam-es', version: `${g.group}/${g.version}` },
    paths: Object.assign({}, ...g.resources.map(paths)) as Record<string, object>,
    components: { schemas: Object.fromEntries(g.resources.map((r) => [schemaName(r), schema(r)])) },
  };
}

const docs = new Map(groups().map((g) => [`apis/${g.group}/${g.version}`, groupVersionDoc(g)]));
const hashes = new Map([...docs].map(([k, d]) => [k, createHash('sha256').update(JSON.stringify(d)).digest('hex').slice(0, 32).toUpperCase()]));

/** The document at /openapi/<parts...>, or undefined. */
export function openApi(parts: readonly string[]): object | undefined {
  if (parts[0] !== 'v3') return undefined;
  if (parts.length === 1) {
    return { paths: Object.fromEntries([...docs.keys()].map((k) => [k, { serverRelativeURL: `/openapi/v3/${k}?hash=${hashes.get(k)}` }])) };
  }
  return docs.get(parts.slice(1).join('/'));
}
