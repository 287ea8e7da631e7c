// What a CNI ADD asks of the cluster before it allocates: the pod, its namespace and this node (from the daemon's
// caches), turned into the request's candidate pools (Spiderpool's order of precedence, with Calico's per-pod pools),
// the labels pool affinity is judged against, the pod's controller, and any requested addresses. Every refusal here
// happens before anything is written and names the annotation or field at fault.
import type { Owner } from '../../events/catalogue.js';
import type { AllocatorModel } from '../alloc/model.js';
import type { AffinityContext, AllocateRequest } from '../alloc/types.js';
import { isAllocError } from '../alloc/errors.js';
import type { ClusterInputs, NamespaceFacts, NodeFacts, PodFacts } from '../k8s/cluster-inputs.js';
import { isClusterLookupError } from '../k8s/cluster-lookup-error.js';
import { parseAddress, parseCidr } from '../net/address.js';
import { calicoIpAddrs, calicoPools } from '../upstream/calico/selection.js';
import { appAffinityLabels, isAppAutoPool, type App } from '../upstream/spiderpool/auto-pool.js';
import { hasSubnetAnnotation, isSelectionError, parseSubnetAnnotation, SelectionError, SpiderpoolAnnotation, type PoolNames } from '../upstream/spiderpool/selection-annotations.js';
import { selectPools, SelectionLevel, type Selection } from '../upstream/spiderpool/selection.js';
import type { CniCall } from './call.js';
import type { IpamConf, NetConf } from './config.js';
import { CniError, CniErrorCode } from './protocol.js';
import { requestedAddresses, type Requested, type RequestedAddress } from './requested.js';

export interface PodSelection {
  /** Candidate pools (undefined: the cluster's default pools, or the range pools in range mode). */
  readonly pools?: PoolNames;
  readonly affinity: AffinityContext;
  readonly owner?: Owner;
  readonly addresses?: NonNullable<AllocateRequest['addresses']>;
  readonly cleanGateway: boolean;
  /** Where the pools came from, for errors ("annotation ipam.spidernet.io/ippool"). */
  readonly source: string;
  readonly level: SelectionLevel | 'range';
}

interface ClusterFacts {
  readonly pod?: PodFacts;
  readonly namespace?: NamespaceFacts;
  readonly node?: NodeFacts;
}

const NO_LABELS: Readonly<Record<string, string>> = {};

/** The pod, namespace and node facts, or none outside Kubernetes (no caches, or no K8S_POD_* arguments). */
async function clusterFacts(cluster: ClusterInputs | undefined, call: CniCall): Promise<ClusterFacts> {
  const { podNamespace, podName, podUid } = call.args;
  if (!cluster || !podNamespace || !podName) return {};
  try {
    const [pod, namespace, node] = await Promise.all([cluster.pod(podNamespace, podName, podUid), cluster.namespace(podNamespace), cluster.node()]);
    return { pod, namespace, node };
  } catch (e) {
    if (isClusterLookupError(e)) throw new CniError(CniErrorCode.TryAgainLater, 'cannot read the pod\'s selection inputs', `${e.message}; try again`);
    throw e;
  }
}

/** A ReplicaSet named "<deployment>-<pod-template-hash>" is a Deployment's (no lookup on the ADD path). */
function ownerOf(pod: PodFacts | undefined): Owner | undefined {
  const c = pod?.controller;
  if (!c) return undefined;
  const hash = pod.labels['pod-template-hash'];
  if (c.kind === 'ReplicaSet' && hash && c.name.endsWith(`-${hash}`)) return { kind: 'Deployment', name: c.name.slice(0, -hash.length - 1) };
  return { kind: c.kind, name: c.name };
}

function selectionError(source: string, reason: string): CniError {
  return new CniError(CniErrorCode.InvalidConfig, `invalid pool selection: ${source}`, `${source}: ${reason}; nothing was allocated`);
}

/** How long an ADD waits for its workload's auto pool (upstream: 25 tries 2 s apart; here within the CNI deadline). */
export const AUTO_POOL_WAIT_MS = 15_000;
const AUTO_POOL_POLL_MS = 100;

/** The workload's auto pool is not (yet) in the model: the controller creates it from the workload. */
class AutoPoolPending extends Error {}

export async function selectForAdd(model: AllocatorModel, cluster: ClusterInputs | undefined, call: CniCall, conf: NetConf, ipam: IpamConf, autoPoolWaitMs = AUTO_POOL_WAIT_MS): Promise<PodSelection> {
  const facts = await clusterFacts(cluster, call);
  const deadline = Date.now() + autoPoolWaitMs;
  for (;;) {
    try {
      return decide(model, call, conf, ipam, facts);
    } catch (e) {
      if (isSelectionError(e)) throw selectionError(e.source, e.reason);
      if (!(e instanceof AutoPoolPending)) throw e;
      if (Date.now() >= deadline) throw new CniError(CniErrorCode.TryAgainLater, 'the workload\'s auto pool is not there yet', `${e.message} within ${autoPoolWaitMs} ms (\`ipam controller\` creates it from the workload); try again`);
      await new Promise((r) => setTimeout(r, AUTO_POOL_POLL_MS));
    }
  }
}

/**
 * The pod's top controller as Spiderpool names it, most likely first: a Deployment's ReplicaSet is the Deployment; a
 * Job named "<cronjob>-<minutes>" (the CronJob controller's naming) may be a CronJob's, tried after the Job itself.
 */
function appsOf(pod: PodFacts): App[] {
  const owner = ownerOf(pod);
  if (!owner || !pod.controller) return [];
  const apps: App[] = [{ apiVersion: pod.controller.apiVersion, kind: owner.kind, namespace: pod.namespace, name: owner.name }];
  const cron = owner.kind === 'Job' && pod.controller.apiVersion === 'batch/v1' ? /^(.+)-[0-9]+$/.exec(owner.name) : null;
  if (cron) apps.push({ apiVersion: 'batch/v1', kind: 'CronJob', namespace: pod.namespace, name: cron[1]! });
  return apps;
}

/**
 * getPoolFromSubnetAnno: the interface's subnet item, then for each family it names the workload's auto pool (not one
 * being reclaimed). None yet: AutoPoolPending (the caller waits). Refusals as upstream's: no controller, no item.
 */
function autoPools(model: AllocatorModel, pod: PodFacts, nic: string): { pools: PoolNames; app: App; source: string } {
  const cfg = parseSubnetAnnotation(pod.annotations)!;
  const source = pod.annotations[SpiderpoolAnnotation.Subnets] !== undefined ? SpiderpoolAnnotation.Subnets : SpiderpoolAnnotation.Subnet;
  const apps = appsOf(pod);
  if (apps.length === 0) throw new SelectionError(source, "SpiderSubnet feature doesn't support no-controller pod");
  const item = cfg.items.find((i) => i.interface === nic);
  if (!item) throw new SelectionError(source, `no subnet is named for interface ${nic} (it names ${cfg.items.map((i) => i.interface).join(', ')})`);
  const poolOf = (app: App, family: 4 | 6, subnet: string): string | undefined => {
    const s = model.subnets.get(subnet);
    if (!s) throw new AutoPoolPending(`SpiderSubnet ${subnet} does not exist`);
    for (const p of model.pools.values()) {
      const c = p.compiled;
      if (c.ipVersion === family && c.subnet === s.subnet && !c.spec.disable && isAppAutoPool({ name: c.name, ...(c.spec.podAffinity ? { podAffinity: c.spec.podAffinity } : {}) }, app, nic, family)) return c.name;
    }
    return undefined;
  };
  const named = [[4, item.ipv4], [6, item.ipv6]] as const;
  for (const app of apps) {
    const found = named.map(([family, subnet]) => (subnet === undefined ? null : poolOf(app, family, subnet)));
    if (found.some((f) => f === undefined)) continue; // not (all) there for this app
    const [ipv4, ipv6] = found;
    return { pools: { ...(ipv4 ? { ipv4: [ipv4] } : {}), ...(ipv6 ? { ipv6: [ipv6] } : {}) }, app, source: `annotation ${source}` };
  }
  const app = apps[0]!;
  throw new AutoPoolPending(`no auto pool of ${app.kind} ${app.namespace}/${app.name}${apps.length > 1 ? ` (or ${apps[1]!.kind} ${apps[1]!.name})` : ''} for interface ${nic} from SpiderSubnet ${[item.ipv4, item.ipv6].filter(Boolean).join(' and ')}`);
}

function decide(model: AllocatorModel, call: CniCall, conf: NetConf, ipam: IpamConf, facts: ClusterFacts): PodSelection {
  const podAnn = facts.pod?.annotations ?? NO_LABELS;
  const nsAnn = facts.namespace?.annotations ?? NO_LABELS;
  const oversized = [...(facts.pod?.oversized ?? []), ...(facts.namespace?.oversized ?? [])][0];
  if (oversized) throw selectionError(`annotation ${oversized}`, 'its value is larger than this daemon caches (16 KiB)');
  const auto = ipam.kind === 'pools' && facts.pod && hasSubnetAnnotation(podAnn) ? autoPools(model, facts.pod, call.ifname) : undefined;
  const affinity: AffinityContext = {
    multusName: conf.name,
    // IsMatchAutoPoolAffinity: an auto pool's pod affinity names the pod's top controller, not the pod's labels.
    ...(facts.pod ? { podLabels: auto ? { ...facts.pod.labels, ...appAffinityLabels(auto.app) } : facts.pod.labels } : {}),
    ...(facts.namespace ? { namespaceLabels: facts.namespace.labels } : {}),
    ...(facts.node ? { nodeLabels: facts.node.labels } : {}),
  };
  const owner = ownerOf(facts.pod);
  const requested = requestedAddresses(conf.raw, call.args.ip) ?? fromCalico(calicoIpAddrs(podAnn));
  const addresses = requested ? { ...(requested.ipv4 ? { ipv4: requested.ipv4.address } : {}), ...(requested.ipv6 ? { ipv6: requested.ipv6.address } : {}) } : undefined;
  const common = { affinity, ...(owner ? { owner } : {}), ...(addresses ? { addresses } : {}) };
  if (ipam.kind === 'range') {
    checkPrefixes(model, requested, undefined);
    return { ...common, cleanGateway: ipam.cleanGateway ?? false, source: 'ipam.range', level: 'range' };
  }
  const withSubnet = (cidr: string) => poolsWithSubnet(model, cidr);
  const calicoPod = calicoPools(podAnn, 'pod', withSubnet);
  const calicoNs = calicoPools(nsAnn, 'namespace', withSubnet);
  const sel = selectPools({
    nic: call.ifname,
    podAnnotations: podAnn,
    namespaceAnnotations: nsAnn,
    calico: { pod: calicoPod, namespace: calicoNs, podSource: calicoPod.source ?? '', namespaceSource: calicoNs.source ?? '' },
    ...(ipam.pools ? { netConf: { ...ipam.pools, source: ipam.poolsField ?? 'ipam.pools', ...(ipam.cleanGateway ? { cleanGateway: true } : {}) } } : {}),
    poolNames: (family) => [...model.pools.values()].filter((p) => p.compiled.ipVersion === family).map((p) => p.compiled.name).sort(),
    ...(auto ? { autoPools: { ...auto.pools, source: auto.source } } : {}),
  });
  checkNames(model, sel);
  checkPrefixes(model, requested, sel.pools);
  const pools = sel.level === SelectionLevel.ClusterDefault ? undefined : sel.pools;
  return { ...common, ...(pools ? { pools } : {}), cleanGateway: sel.cleanGateway || (ipam.cleanGateway ?? false), source: sel.source, level: sel.level };
}

function fromCalico(a: { ipv4?: string; ipv6?: string } | undefined): Requested | undefined {
  if (!a) return undefined;
  const source = 'annotation cni.projectcalico.org/ipAddrs';
  return { ...(a.ipv4 ? { ipv4: { address: a.ipv4, source } } : {}), ...(a.ipv6 ? { ipv6: { address: a.ipv6, source } } : {}) };
}

function poolsWithSubnet(model: AllocatorModel, cidr: string): string[] {
  let norm: string;
  try {
    const c = parseCidr(cidr, 'cidr');
    norm = `${c.text}`;
  } catch {
    return [];
  }
  return [...model.pools.values()].filter((p) => p.compiled.subnet === norm).map((p) => p.compiled.name).sort();
}

/** Every named pool exists and is of the family it is named for (upstream: "failed to get original IPPool"). */
function checkNames(model: AllocatorModel, sel: Selection): void {
  for (const [family, list] of [[4, sel.pools.ipv4], [6, sel.pools.ipv6]] as const) {
    (list ?? []).forEach((name, i) => {
      // A CNI config field is named down to the entry (ipam.pools.ipv4[0]); an annotation by its key.
      const field = sel.source === 'ipam.pools' ? `ipam.pools.ipv${family}[${i}]` : sel.source.startsWith('ipam.default_') ? `ipam.default_ipv${family}_ippool[${i}]` : sel.source;
      const p = model.pools.get(name);
      if (!p) throw selectionError(field, `failed to get original IPPool ${name}: pool ${name} does not exist`);
      if (p.compiled.ipVersion !== family) throw selectionError(field, `expect an IPv${family} IPPool, but the version of the IPPool ${name} is IPv${p.compiled.ipVersion}`);
    });
  }
}

/** A requested address written with a prefix length must match the pool that owns it. */
function checkPrefixes(model: AllocatorModel, req: Requested | undefined, names: PoolNames | undefined): void {
  for (const r of [req?.ipv4, req?.ipv6]) {
    if (!r || r.prefixLength === undefined) continue;
    const owner = owningPool(model, r, names);
    if (owner && owner.prefixLength !== r.prefixLength) {
      throw new CniError(CniErrorCode.InvalidConfig, `invalid requested address: ${r.source}`, `${r.source}: ${r.address}/${r.prefixLength} is in pool ${owner.name}, whose subnet ${owner.subnet} has prefix length ${owner.prefixLength}; nothing was allocated`);
    }
  }
}

function owningPool(model: AllocatorModel, r: RequestedAddress, names: PoolNames | undefined) {
  const { family, value } = parseAddress(r.address, r.source);
  const allowed = names?.[family === 4 ? 'ipv4' : 'ipv6'];
  for (const p of model.pools.values()) {
    if (p.compiled.ipVersion !== family || (allowed && !allowed.includes(p.compiled.name))) continue;
    if (p.compiled.owned.contains(value)) return p.compiled;
  }
  return undefined;
}

/** The allocator's refusals, said in terms of where the pools came from. */
export function explainRefusal(e: unknown, sel: PodSelection): unknown {
  if (!isAllocError(e)) return e;
  if (e.code === 'AddressUnavailable') return new CniError(e.retryable ? CniErrorCode.TryAgainLater : CniErrorCode.AddressUnavailable, 'requested address unavailable', e.message);
  if (e.code === 'NoPoolMatches' || e.code === 'PoolNotFound') return new CniError(CniErrorCode.NoPoolMatches, 'no pool can serve this pod', `pools from ${sel.source}: ${e.message}`);
  return e;
}
