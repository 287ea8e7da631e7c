// Spiderpool's SpiderSubnet auto pools ("Automatically create IPPool", docs/usage/spider-subnet.md) as its source
// makes them: the pool's name (applicationinformers.AutoPoolName), labels and pod affinity (subnetmanager
// ReconcileAutoIPPool, ippoolmanager.NewAutoPoolPodAffinity), the desired number of IPs (GetSubnetAnnoConfig,
// ippool-ip-number "N" or "+N" over the workload's replicas, GetAppReplicas / CalculateJobPodNum) and which workloads
// get one (app_controller.go: Deployment, ReplicaSet not owned by a Deployment, StatefulSet, DaemonSet, Job not owned
// by a CronJob, CronJob; never hostNetwork). Pure: no Kubernetes client here.
import type { IpVersion, LabelSelector } from '../../../events/catalogue.js';
import { parseSubnetAnnotation, type SubnetAnnotation } from './selection-annotations.js';

export const AutoPoolLabel = {
  OwnerSubnet: 'ipam.spidernet.io/owner-spider-subnet',
  OwnerGV: 'ipam.spidernet.io/owner-application-gv',
  OwnerKind: 'ipam.spidernet.io/owner-application-kind',
  OwnerNamespace: 'ipam.spidernet.io/owner-application-namespace',
  OwnerName: 'ipam.spidernet.io/owner-application-name',
  OwnerUID: 'ipam.spidernet.io/owner-application-uid',
  Interface: 'ipam.spidernet.io/interface',
  IPVersion: 'ipam.spidernet.io/ip-version',
  Reclaim: 'ipam.spidernet.io/ippool-reclaim',
  PoolCIDR: 'ipam.spidernet.io/ippool-cidr',
} as const;

/** The pod affinity an auto pool gets: it matches the pod's top controller, not the pod's own labels. */
export const AutoPoolAffinity = {
  APIGroup: 'ipam.spidernet.io/app-api-group',
  APIVersion: 'ipam.spidernet.io/app-api-version',
  Kind: 'ipam.spidernet.io/app-kind',
  Namespace: 'ipam.spidernet.io/app-namespace',
  Name: 'ipam.spidernet.io/app-name',
} as const;

/** The annotation an auto pool carries: its ippool-ip-number, "+N" (flexible) or "N" (fixed). */
export const AUTO_POOL_IP_NUMBER_ANNOTATION = 'ipam.spidernet.io/ippool-ip-number';

/** Helm's ipam.spiderSubnet.autoPool.defaultRedundantIPNumber: "+1" when the workload does not say. */
export const DEFAULT_REDUNDANT_IP_NUMBER = 1;

export const WorkloadKind = {
  Deployment: 'Deployment',
  ReplicaSet: 'ReplicaSet',
  StatefulSet: 'StatefulSet',
  DaemonSet: 'DaemonSet',
  Job: 'Job',
  CronJob: 'CronJob',
} as const;
export type WorkloadKind = (typeof WorkloadKind)[keyof typeof WorkloadKind];

/** The workload an auto pool belongs to (upstream's PodTopController). */
export interface App {
  readonly apiVersion: string;
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

const MAX_NAME = 253; // DNS1123SubdomainMaxLength
const RANDOM_LENGTH = 5;

/** auto{4|6}-{app}-{nic}-{up to 5 characters of the uid's last group}, lower case (app + nic cut to 253 - len(uid part) - 7, as upstream). */
export function autoPoolName(app: string, ipVersion: IpVersion, nic: string, uid: string): string {
  const groups = uid.split('-');
  let last = groups[groups.length - 1] ?? '';
  if (last.length > RANDOM_LENGTH) last = last.slice(0, RANDOM_LENGTH);
  const maxCustom = MAX_NAME - last.length - 7;
  let name = app;
  if ((name + nic).length > maxCustom) name = name.slice(0, maxCustom - nic.length);
  return `auto${ipVersion}-${name.toLowerCase()}-${nic.toLowerCase()}-${last.toLowerCase()}`;
}

/** ApplicationLabelGV: "apps/v1" -> "apps_v1", "v1" -> "v1". */
export function applicationLabelGV(apiVersion: string): string {
  const i = apiVersion.indexOf('/');
  return i < 0 ? apiVersion : `${apiVersion.slice(0, i)}_${apiVersion.slice(i + 1)}`;
}

/** NewAutoPoolPodAffinity: matchLabels naming the app's group, version, kind, namespace and name. */
export function autoPoolPodAffinity(app: App): LabelSelector {
  return { matchLabels: appAffinityLabels(app) };
}

/**
 * The labels a pod of `app` is judged by against an auto pool's pod affinity (IsMatchAutoPoolAffinity compares the
 * pool's matchLabels with the pod's top controller; given to the allocator as pod labels, the same check).
 */
export function appAffinityLabels(app: App): Record<string, string> {
  const i = app.apiVersion.indexOf('/');
  return {
    [AutoPoolAffinity.APIGroup]: i < 0 ? '' : app.apiVersion.slice(0, i),
    [AutoPoolAffinity.APIVersion]: i < 0 ? app.apiVersion : app.apiVersion.slice(i + 1),
    [AutoPoolAffinity.Kind]: app.kind,
    [AutoPoolAffinity.Namespace]: app.namespace,
    [AutoPoolAffinity.Name]: app.name,
  };
}

/** CIDRToLabelValue: "10.6.0.0/16" -> "10-6-0-0-16". */
export const cidrLabelValue = (cidr: string): string => cidr.replace(/[.:/]/g, '-');

/** The labels that find an app's pool for one subnet, interface and family, whatever its uid (applyAutoIPPool). */
export function autoPoolKey(o: { subnet: string; app: App; nic: string; ipVersion: IpVersion }): Record<string, string> {
  return {
    [AutoPoolLabel.OwnerSubnet]: o.subnet,
    [AutoPoolLabel.OwnerGV]: applicationLabelGV(o.app.apiVersion),
    [AutoPoolLabel.OwnerKind]: o.app.kind,
    [AutoPoolLabel.OwnerNamespace]: o.app.namespace,
    [AutoPoolLabel.OwnerName]: o.app.name,
    [AutoPoolLabel.Interface]: o.nic,
    [AutoPoolLabel.IPVersion]: o.ipVersion === 4 ? 'IPv4' : 'IPv6',
  };
}

/** The labels of an auto pool (ReconcileAutoIPPool): its key, and uid and reclaim refreshed on every reconcile. */
export function autoPoolLabels(o: { subnet: string; cidr: string; app: App; uid: string; nic: string; ipVersion: IpVersion; reclaim: boolean }): Record<string, string> {
  return {
    ...autoPoolKey(o),
    [AutoPoolLabel.OwnerUID]: o.uid,
    [AutoPoolLabel.Reclaim]: o.reclaim ? 'true' : 'false',
    [AutoPoolLabel.PoolCIDR]: cidrLabelValue(o.cidr),
  };
}

export const isAutoPool = (labels: Readonly<Record<string, string>> | undefined): boolean => labels?.[AutoPoolLabel.OwnerName] !== undefined;

/** Desired IPs: replicas + N for "+N" (and for no annotation, with the cluster's redundant number), N for "N". */
export function desiredIPNumber(cfg: SubnetAnnotation, replicas: number, defaultRedundant = DEFAULT_REDUNDANT_IP_NUMBER): number {
  if (!cfg.ipNumber) return replicas + defaultRedundant;
  return cfg.ipNumber.flexible ? replicas + cfg.ipNumber.n : cfg.ipNumber.n;
}

/** ippool-ip-number as the auto pool's annotation records it. */
export function ipNumberAnnotation(cfg: SubnetAnnotation, defaultRedundant = DEFAULT_REDUNDANT_IP_NUMBER): string {
  if (!cfg.ipNumber) return `+${defaultRedundant}`;
  return cfg.ipNumber.flexible ? `+${cfg.ipNumber.n}` : String(cfg.ipNumber.n);
}

/** The fields of a workload object the auto-pool controller reads. */
export interface WorkloadObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly uid?: string;
    readonly ownerReferences?: readonly { readonly apiVersion: string; readonly kind: string; readonly controller?: boolean }[];
  };
  readonly spec?: Record<string, unknown>;
  readonly status?: Record<string, unknown>;
}

/** What the controller keeps of a workload that wants auto pools (nothing for the others: they are not kept). */
export interface Workload {
  readonly app: App;
  readonly uid: string;
  readonly replicas: number;
  /** The pod template's subnet annotations, parsed; a malformed one is kept as its error, reported by the controller. */
  readonly subnets: SubnetAnnotation | { readonly error: string };
}

const API_VERSION: Record<WorkloadKind, string> = {
  Deployment: 'apps/v1',
  ReplicaSet: 'apps/v1',
  StatefulSet: 'apps/v1',
  DaemonSet: 'apps/v1',
  Job: 'batch/v1',
  CronJob: 'batch/v1',
};

type Rec = Record<string, unknown>;
const rec = (v: unknown): Rec => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Rec) : {});
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined);

/** CalculateJobPodNum: completions when given (0 -> 1), else parallelism (0 -> 1), else 1. */
function jobPods(spec: Rec): number {
  const p = int(spec.parallelism);
  const c = int(spec.completions);
  if (c !== undefined) return c === 0 ? 1 : c;
  if (p !== undefined) return p === 0 ? 1 : p;
  return 1;
}

/**
 * The workload as the auto-pool controller sees it, or undefined when it gets no auto pool: no subnet annotation on
 * its pod template, hostNetwork, or a ReplicaSet/Job whose controller (Deployment/CronJob) is the top controller.
 */
export function workloadOf(kind: WorkloadKind, obj: WorkloadObject): Workload | undefined {
  const spec = rec(obj.spec);
  const template = kind === WorkloadKind.CronJob ? rec(rec(rec(rec(spec.jobTemplate).spec).template)) : rec(spec.template);
  const annotations = rec(rec(template.metadata).annotations) as Record<string, string>;
  if (annotations['ipam.spidernet.io/subnets'] === undefined && annotations['ipam.spidernet.io/subnet'] === undefined) return undefined;
  if (rec(template.spec).hostNetwork === true) return undefined;
  const owner = obj.metadata?.ownerReferences?.find((r) => r.controller);
  if (kind === WorkloadKind.ReplicaSet && owner?.apiVersion === 'apps/v1' && owner.kind === WorkloadKind.Deployment) return undefined;
  if (kind === WorkloadKind.Job && owner?.apiVersion === 'batch/v1' && owner.kind === WorkloadKind.CronJob) return undefined;
  let replicas: number;
  if (kind === WorkloadKind.Job) replicas = jobPods(spec);
  else if (kind === WorkloadKind.CronJob) replicas = jobPods(rec(rec(spec.jobTemplate).spec));
  else if (kind === WorkloadKind.DaemonSet) replicas = int(rec(obj.status).desiredNumberScheduled) ?? 0;
  else replicas = int(spec.replicas) ?? 0;
  let subnets: Workload['subnets'];
  try {
    subnets = parseSubnetAnnotation(annotations)!;
  } catch (e) {
    subnets = { error: (e as Error).message };
  }
  const md = obj.metadata ?? {};
  return { app: { apiVersion: API_VERSION[kind], kind, namespace: md.namespace ?? '', name: md.name ?? '' }, uid: md.uid ?? '', replicas, subnets };
}

/**
 * Whether a pool is `app`'s auto pool for interface `nic` and family `ipVersion`, read from what the pool itself
 * says (its name's auto{v}-{app}-{nic}- prefix and its pod affinity): how a daemon finds it without the labels.
 */
export function isAppAutoPool(pool: { readonly name: string; readonly podAffinity?: LabelSelector }, app: App, nic: string, ipVersion: IpVersion): boolean {
  const prefix = autoPoolName(app.name, ipVersion, nic, 'xxxxx').slice(0, -RANDOM_LENGTH);
  if (!pool.name.startsWith(prefix)) return false;
  const want = appAffinityLabels(app);
  const got = pool.podAffinity?.matchLabels ?? {};
  return Object.entries(want).every(([k, v]) => got[k] === v);
}
