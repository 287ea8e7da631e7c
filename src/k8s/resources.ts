// The custom resources the controller reads and writes, and where they live in the Kubernetes API.
export interface ResourceKind {
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespaced: boolean;
  /** The status fields the controller writes (a field absent from the rendered status is removed from the CR). */
  readonly statusFields?: readonly string[];
}

export const SPIDERPOOL_GROUP = 'spiderpool.spidernet.io';
export const SPIDERPOOL_VERSION = 'v2beta1';
export const WHEREABOUTS_GROUP = 'whereabouts.cni.cncf.io';

export const SpiderSubnet: ResourceKind = {
  kind: 'SpiderSubnet', group: SPIDERPOOL_GROUP, version: SPIDERPOOL_VERSION, plural: 'spidersubnets', namespaced: false,
  statusFields: ['controlledIPPools', 'totalIPCount', 'allocatedIPCount'],
};
export const SpiderIPPool: ResourceKind = {
  kind: 'SpiderIPPool', group: SPIDERPOOL_GROUP, version: SPIDERPOOL_VERSION, plural: 'spiderippools', namespaced: false,
  statusFields: ['allocatedIPs', 'totalIPCount', 'allocatedIPCount'],
};
export const SpiderReservedIP: ResourceKind = { kind: 'SpiderReservedIP', group: SPIDERPOOL_GROUP, version: SPIDERPOOL_VERSION, plural: 'spiderreservedips', namespaced: false };
export const SpiderEndpoint: ResourceKind = { kind: 'SpiderEndpoint', group: SPIDERPOOL_GROUP, version: SPIDERPOOL_VERSION, plural: 'spiderendpoints', namespaced: true };
export const WhereaboutsIPPool: ResourceKind = { kind: 'IPPool', group: WHEREABOUTS_GROUP, version: 'v1alpha1', plural: 'ippools', namespaced: true };
export const VirtualMachineInstance: ResourceKind = { kind: 'VirtualMachineInstance', group: 'kubevirt.io', version: 'v1', plural: 'virtualmachineinstances', namespaced: true };

/** The path listing (and watching) every object of a kind, across namespaces. */
export function listPath(r: ResourceKind): string {
  return `/apis/${r.group}/${r.version}/${r.plural}`;
}

/** Kinds whose status the controller writes back, by the projection that renders them. */
export const STATUS_TARGETS: Readonly<Record<string, ResourceKind>> = {
  'spider-ippool': SpiderIPPool,
  'spider-subnet': SpiderSubnet,
};

/** A minimal Kubernetes object as read from the API. */
export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly resourceVersion?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly spec?: unknown;
  readonly status?: unknown;
}
