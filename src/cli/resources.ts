// The resources `ipam get` knows: their projection, their Kubernetes-style path, and kubectl-like columns.
import type { K8sObject } from '../../projections/types.js';

type Row = (o: K8sObject) => string;

export interface ResourceInfo {
  readonly plural: string;
  readonly aliases: readonly string[];
  readonly projection: string;
  readonly group: string;
  readonly version: string;
  readonly namespaced: boolean;
  readonly columns: readonly (readonly [string, Row])[];
  readonly wide: readonly (readonly [string, Row])[];
}

const get = (o: unknown, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
const text = (v: unknown): string => (v === undefined || v === null || v === '' ? '<none>' : Array.isArray(v) ? v.join(',') : String(v));
const at = (path: string): Row => (o) => text(get(o, path));
const name: Row = (o) => o.metadata.name;
const ips = (family: 'ipv4' | 'ipv6', what: 'Pool' | ''): Row => (o) => {
  const list = (get(o, 'status.current.ips') as Record<string, unknown>[] | undefined) ?? [];
  return text(list.map((x) => x[`${family}${what}`]).filter(Boolean));
};

export const RESOURCE_INFO: readonly ResourceInfo[] = [
  {
    plural: 'spidersubnets',
    aliases: ['spidersubnet', 'ss', 'subnets', 'subnet'],
    projection: 'spider-subnet',
    group: 'spiderpool.spidernet.io',
    version: 'v2beta1',
    namespaced: false,
    columns: [['NAME', name], ['VERSION', at('spec.ipVersion')], ['SUBNET', at('spec.subnet')], ['ALLOCATED-IP-COUNT', at('status.allocatedIPCount')], ['TOTAL-IP-COUNT', at('status.totalIPCount')]],
    wide: [['GATEWAY', at('spec.gateway')], ['VLAN', at('spec.vlan')]],
  },
  {
    plural: 'spiderippools',
    aliases: ['spiderippool', 'sp', 'ippools-spider', 'pools', 'pool'],
    projection: 'spider-ippool',
    group: 'spiderpool.spidernet.io',
    version: 'v2beta1',
    namespaced: false,
    columns: [['NAME', name], ['VERSION', at('spec.ipVersion')], ['SUBNET', at('spec.subnet')], ['ALLOCATED-IP-COUNT', at('status.allocatedIPCount')], ['TOTAL-IP-COUNT', at('status.totalIPCount')], ['DEFAULT', (o) => String(get(o, 'spec.default') === true)]],
    wide: [['GATEWAY', at('spec.gateway')], ['DISABLE', (o) => String(get(o, 'spec.disable') === true)], ['VLAN', at('spec.vlan')]],
  },
  {
    plural: 'spiderendpoints',
    aliases: ['spiderendpoint', 'se', 'endpoints', 'endpoint'],
    projection: 'spider-endpoints',
    group: 'spiderpool.spidernet.io',
    version: 'v2beta1',
    namespaced: true,
    columns: [['NAME', name], ['INTERFACE', (o) => text(((get(o, 'status.current.ips') as { interface?: string }[] | undefined) ?? []).map((x) => x.interface))], ['IPV4POOL', ips('ipv4', 'Pool')], ['IPV4', ips('ipv4', '')], ['IPV6POOL', ips('ipv6', 'Pool')], ['IPV6', ips('ipv6', '')], ['NODE', at('status.current.node')]],
    wide: [['UID', at('status.current.uid')], ['OWNER', (o) => `${text(get(o, 'status.ownerControllerType'))}/${text(get(o, 'status.ownerControllerName'))}`]],
  },
  {
    plural: 'ippools',
    aliases: ['ippool', 'whereabouts'],
    projection: 'whereabouts-ippool',
    group: 'whereabouts.cni.cncf.io',
    version: 'v1alpha1',
    namespaced: true,
    columns: [['NAME', name], ['RANGE', at('spec.range')], ['ALLOCATIONS', (o) => String(Object.keys((get(o, 'spec.allocations') as object | undefined) ?? {}).length)]],
    wide: [],
  },
  {
    plural: 'workloadendpoints',
    aliases: ['workloadendpoint', 'wep', 'weps'],
    projection: 'calico-workload-endpoints',
    group: 'projectcalico.org',
    version: 'v3',
    namespaced: true,
    columns: [['NAME', name], ['NODE', at('spec.node')], ['POD', at('spec.pod')], ['NETWORKS', at('spec.ipNetworks')], ['INTERFACE', at('spec.interfaceName')]],
    wide: [['CONTAINER', at('spec.containerID')]],
  },
];

export function resourceInfo(kind: string): ResourceInfo {
  const k = kind.toLowerCase();
  const r = RESOURCE_INFO.find((x) => x.plural === k || x.aliases.includes(k));
  if (!r) throw new Error(`unknown resource "${kind}": one of ${RESOURCE_INFO.map((x) => x.plural).join(', ')}`);
  return r;
}

/** A kubectl-like table: columns padded to their widest cell, three spaces apart. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd()).join('\n') + '\n';
}
