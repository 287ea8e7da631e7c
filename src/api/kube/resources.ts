// The resources served, as the upstream CRDs (Spiderpool, Whereabouts) and Calico's API server declare them.
import {
  calicoWorkloadEndpointProjection,
  spiderEndpointProjection,
  spiderIPPoolProjection,
  spiderReservedIPProjection,
  spiderSubnetProjection,
  whereaboutsIPPoolProjection,
} from '../../../projections/index.js';
import { crdKey, crds } from './crds.js';

export const SPIDERPOOL_GROUP = 'spiderpool.spidernet.io';
export const WHEREABOUTS_GROUP = 'whereabouts.cni.cncf.io';
export const CALICO_GROUP = 'projectcalico.org';

export interface PrinterColumn {
  readonly name: string;
  readonly type: 'string' | 'integer' | 'number' | 'boolean' | 'date';
  readonly jsonPath: string;
  readonly description: string;
  /** 0: always shown; higher: only with -o wide. */
  readonly priority?: number;
}

/** Where a resource's objects come from. */
export type ResourceSource = { readonly kind: 'projection'; readonly projection: string };

/** Which allocator object a writable resource is a view of. */
export type WriteTarget = 'pool' | 'subnet' | 'whereabouts-pool' | 'reservation';

export interface ResourceDef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly singular: string;
  readonly kind: string;
  readonly listKind: string;
  readonly namespaced: boolean;
  readonly shortNames: readonly string[];
  readonly categories: readonly string[];
  readonly source: ResourceSource;
  readonly writes?: WriteTarget;
  /** Whether PUT and PATCH are served. */
  readonly updatable: boolean;
  /** A read-only status subresource. */
  readonly statusSubresource: boolean;
  /** additionalPrinterColumns, for kubectl's tables, when no CRD file declares the kind (printerColumns() reads the files). */
  readonly columns: readonly PrinterColumn[];
}

const spider = { group: SPIDERPOOL_GROUP, version: 'v2beta1', categories: ['spiderpool'] } as const;
const addressColumns: PrinterColumn[] = [
  { name: 'VERSION', type: 'string', jsonPath: '.spec.ipVersion', description: 'ipVersion' },
  { name: 'SUBNET', type: 'string', jsonPath: '.spec.subnet', description: 'subnet' },
  { name: 'ALLOCATED-IP-COUNT', type: 'integer', jsonPath: '.status.allocatedIPCount', description: 'allocatedIPCount' },
  { name: 'TOTAL-IP-COUNT', type: 'integer', jsonPath: '.status.totalIPCount', description: 'totalIPCount' },
];

export const RESOURCES: readonly ResourceDef[] = [
  {
    ...spider,
    plural: 'spidersubnets',
    singular: 'spidersubnet',
    kind: 'SpiderSubnet',
    listKind: 'SpiderSubnetList',
    namespaced: false,
    shortNames: ['ss'],
    source: { kind: 'projection', projection: spiderSubnetProjection.name },
    writes: 'subnet',
    updatable: true,
    statusSubresource: true,
    columns: addressColumns,
  },
  {
    ...spider,
    plural: 'spiderippools',
    singular: 'spiderippool',
    kind: 'SpiderIPPool',
    listKind: 'SpiderIPPoolList',
    namespaced: false,
    shortNames: ['sp'],
    source: { kind: 'projection', projection: spiderIPPoolProjection.name },
    writes: 'pool',
    updatable: true,
    statusSubresource: true,
    columns: [
      ...addressColumns,
      { name: 'DEFAULT', type: 'boolean', jsonPath: '.spec.default', description: 'default' },
      { name: 'DISABLE', type: 'boolean', jsonPath: '.spec.disable', description: 'disable', priority: 10 },
      { name: 'NodeName', type: 'string', jsonPath: '.spec.nodeName', description: 'nodeName', priority: 10 },
      { name: 'MultusName', type: 'string', jsonPath: '.spec.multusName', description: 'multusName', priority: 10 },
    ],
  },
  {
    ...spider,
    plural: 'spiderendpoints',
    singular: 'spiderendpoint',
    kind: 'SpiderEndpoint',
    listKind: 'SpiderEndpointList',
    namespaced: true,
    shortNames: ['se'],
    source: { kind: 'projection', projection: spiderEndpointProjection.name },
    updatable: false,
    statusSubresource: false,
    columns: [
      { name: 'INTERFACE', type: 'string', jsonPath: '.status.current.ips[0].interface', description: 'interface' },
      { name: 'IPV4POOL', type: 'string', jsonPath: '.status.current.ips[0].ipv4Pool', description: 'ipv4Pool' },
      { name: 'IPV4', type: 'string', jsonPath: '.status.current.ips[0].ipv4', description: 'ipv4' },
      { name: 'IPV6POOL', type: 'string', jsonPath: '.status.current.ips[0].ipv6Pool', description: 'ipv6Pool' },
      { name: 'IPV6', type: 'string', jsonPath: '.status.current.ips[0].ipv6', description: 'ipv6' },
      { name: 'NODE', type: 'string', jsonPath: '.status.current.node', description: 'node' },
    ],
  },
  {
    ...spider,
    plural: 'spiderreservedips',
    singular: 'spiderreservedip',
    kind: 'SpiderReservedIP',
    listKind: 'SpiderReservedIPList',
    namespaced: false,
    shortNames: ['sr'],
    source: { kind: 'projection', projection: spiderReservedIPProjection.name },
    writes: 'reservation',
    updatable: true,
    statusSubresource: false,
    columns: [{ name: 'VERSION', type: 'string', jsonPath: '.spec.ipVersion', description: 'ipVersion' }],
  },
  {
    group: WHEREABOUTS_GROUP,
    version: 'v1alpha1',
    plural: 'ippools',
    singular: 'ippool',
    kind: 'IPPool',
    listKind: 'IPPoolList',
    namespaced: true,
    shortNames: [],
    categories: [],
    source: { kind: 'projection', projection: whereaboutsIPPoolProjection.name },
    writes: 'whereabouts-pool',
    updatable: true,
    statusSubresource: false,
    columns: [{ name: 'RANGE', type: 'string', jsonPath: '.spec.range', description: 'range' }],
  },
  {
    group: CALICO_GROUP,
    version: 'v3',
    plural: 'workloadendpoints',
    singular: 'workloadendpoint',
    kind: 'WorkloadEndpoint',
    listKind: 'WorkloadEndpointList',
    namespaced: true,
    shortNames: ['wep', 'weps'],
    categories: [],
    source: { kind: 'projection', projection: calicoWorkloadEndpointProjection.name },
    updatable: false,
    statusSubresource: false,
    columns: [
      { name: 'WORKLOAD', type: 'string', jsonPath: '.spec.pod', description: 'pod' },
      { name: 'NODE', type: 'string', jsonPath: '.spec.node', description: 'node' },
      { name: 'NETWORKS', type: 'string', jsonPath: '.spec.ipNetworks', description: 'ipNetworks' },
      { name: 'INTERFACE', type: 'string', jsonPath: '.spec.interfaceName', description: 'interfaceName' },
    ],
  },
];

export const groupVersion = (r: Pick<ResourceDef, 'group' | 'version'>) => `${r.group}/${r.version}`;

/** The verbs discovery lists, and the ones the router serves. */
export function verbsOf(r: ResourceDef): string[] {
  const reads = ['get', 'list', 'watch'];
  if (r.writes === undefined) return reads;
  return [...(r.updatable ? ['create', 'delete', 'patch', 'update'] : ['create', 'delete']), ...reads].sort();
}

/** The printer columns kubectl's tables show: the CRD file's (with the API server's default Age), else the built-in ones. */
export function printerColumns(r: ResourceDef): readonly PrinterColumn[] {
  return crds().get(crdKey(r.group, r.version, r.kind))?.columns ?? r.columns;
}

export function findResource(group: string, version: string, plural: string): ResourceDef | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.plural === plural);
}

export function groups(): { group: string; version: string; resources: ResourceDef[] }[] {
  const out = new Map<string, { group: string; version: string; resources: ResourceDef[] }>();
  for (const r of RESOURCES) {
    const g = out.get(r.group) ?? { group: r.group, version: r.version, resources: [] };
    g.resources.push(r);
    out.set(r.group, g);
  }
  return [...out.values()];
}
