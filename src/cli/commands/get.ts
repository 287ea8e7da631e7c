// `ipam get RESOURCE [NAME]`: the projections' objects, from a daemon or rebuilt from etcd, as a table, YAML or JSON.
import type { ReadModel } from '../../../projections/read-model.js';
import type { K8sObject } from '../../../projections/types.js';
import { CliError, daemonClient, wantsDirect, type GlobalOptions } from '../connection.js';
import { formatTable, resourceInfo, type ResourceInfo } from '../resources.js';

export interface GetOptions {
  readonly namespace?: string;
  readonly allNamespaces: boolean;
  readonly output?: 'wide' | 'yaml' | 'json';
}

async function fromDaemon(g: GlobalOptions, r: ResourceInfo, name: string | undefined, ns: string | undefined): Promise<K8sObject[]> {
  const c = daemonClient(g);
  const base = `/apis/${r.group}/${r.version}${r.namespaced && ns ? `/namespaces/${encodeURIComponent(ns)}` : ''}/${r.plural}`;
  if (name) return [(await c.send<K8sObject>('GET', `${base}/${encodeURIComponent(name)}`)).body];
  return (await c.send<{ items: K8sObject[] }>('GET', base)).body.items;
}

export function selectObjects(model: ReadModel, r: ResourceInfo, name: string | undefined, ns: string | undefined): K8sObject[] {
  let all = [...model.list(r.projection)];
  if (r.namespaced && ns) all = all.filter((o) => o.metadata.namespace === ns);
  if (name) all = all.filter((o) => o.metadata.name === name);
  return all.sort((a, b) => `${a.metadata.namespace ?? ''}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace ?? ''}/${b.metadata.name}`));
}

export async function printObjects(r: ResourceInfo, objects: readonly K8sObject[], o: GetOptions, single: boolean): Promise<void> {
  if (o.output === 'json') {
    process.stdout.write(JSON.stringify(single ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }, null, 2) + '\n');
    return;
  }
  if (o.output === 'yaml') {
    const { stringify } = await import('yaml'); // only -o yaml pays for the YAML library
    process.stdout.write(stringify(single ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects }));
    return;
  }
  if (objects.length === 0) {
    process.stderr.write(`No resources found${r.namespaced && !o.allNamespaces ? ` in ${o.namespace ?? 'default'} namespace` : ''}.\n`);
    return;
  }
  const cols = [...(r.namespaced && o.allNamespaces ? [['NAMESPACE', (x: K8sObject) => x.metadata.namespace ?? ''] as const] : []), ...r.columns, ...(o.output === 'wide' ? r.wide : [])];
  process.stdout.write(formatTable([cols.map((c) => c[0]), ...objects.map((x) => cols.map((c) => c[1](x)))]));
}

export async function get(g: GlobalOptions, kind: string, name: string | undefined, o: GetOptions): Promise<void> {
  let r: ResourceInfo;
  try {
    r = resourceInfo(kind);
  } catch (e) {
    throw new CliError((e as Error).message);
  }
  const ns = r.namespaced && !o.allNamespaces ? (o.namespace ?? 'default') : undefined;
  const objects = wantsDirect(g) ? selectObjects(await (await import('./direct-read.js')).directReadModel(g), r, name, ns) : await fromDaemon(g, r, name, ns);
  if (name && objects.length === 0) throw new CliError(`${r.plural} "${name}" not found${ns ? ` in namespace ${ns}` : ''}`);
  await printObjects(r, objects, o, Boolean(name));
}
