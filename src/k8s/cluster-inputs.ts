// What pool selection reads from the cluster, kept by one daemon: the Pods on its node, every Namespace, and its own
// Node, each as a slim record (labels, the annotations selection reads, the controller reference). A CNI ADD answers
// from these caches without asking the API server; a miss (a pod the watch has not delivered yet) fetches that one
// object once with a short deadline, and the error names what was missing.
import { CoreV1Api, type KubeConfig, type KubernetesObject, type V1OwnerReference } from '@kubernetes/client-node';
import { isNotFound, withTimeout } from './kube.js';
import type { CacheLiveness, CacheSource } from './cache-metrics.js';
import { LIST_PAGE_SIZE, objectKey, SlimCache, type SlimCacheStats } from './slim-cache.js';
import { ClusterLookupError } from './cluster-lookup-error.js';

type Labels = Readonly<Record<string, string>>;

export interface ControllerRef {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface PodFacts {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly labels: Labels;
  /** Only the annotations selection reads (SELECTION_ANNOTATION_PREFIXES, MULTUS_ANNOTATIONS). */
  readonly annotations: Labels;
  /** Kept annotations dropped for being larger than MAX_ANNOTATION_BYTES (selection refuses to guess them). */
  readonly oversized: readonly string[];
  readonly controller?: ControllerRef;
}

export interface NamespaceFacts {
  readonly name: string;
  readonly labels: Labels;
  readonly annotations: Labels;
  readonly oversized: readonly string[];
}

export interface NodeFacts {
  readonly name: string;
  readonly labels: Labels;
}

/** The cluster as selection sees it. Every method answers from the cache when it can. */
export interface ClusterInputs {
  /** `uid`, when the runtime gave one (K8S_POD_UID), must match: a recreated pod of the same name is fetched anew. */
  pod(namespace: string, name: string, uid?: string): Promise<PodFacts>;
  namespace(name: string): Promise<NamespaceFacts>;
  /** This daemon's node. */
  node(): Promise<NodeFacts>;
}

export const SELECTION_ANNOTATION_PREFIXES = ['ipam.spidernet.io/', 'cni.projectcalico.org/'] as const;
export const MULTUS_ANNOTATIONS = ['k8s.v1.cni.cncf.io/networks', 'v1.multus-cni.io/default-network'] as const;
/** A kept annotation value larger than this is not cached (Kubernetes allows 256 KiB of annotations per object). */
export const MAX_ANNOTATION_BYTES = 16 * 1024;

export interface ClusterCacheOptions {
  readonly node: string;
  /** Pods kept (this node's; kubelet's default limit is 110 per node). */
  readonly maxPods?: number;
  readonly maxNamespaces?: number;
  /** Deadline of the one fetch a cache miss makes (ms). */
  readonly missTimeoutMs?: number;
  readonly resyncMs?: number;
  readonly backoffMs?: number;
  readonly onError?: (what: string, e: unknown) => void;
}

export { ClusterLookupError, isClusterLookupError } from './cluster-lookup-error.js';

export const DEFAULT_MAX_PODS = 2048;
export const DEFAULT_MAX_NAMESPACES = 10_000;

function keptAnnotations(all: Readonly<Record<string, string>> | undefined): { annotations: Record<string, string>; oversized: string[] } {
  const annotations: Record<string, string> = {};
  const oversized: string[] = [];
  for (const [k, v] of Object.entries(all ?? {})) {
    const wanted = SELECTION_ANNOTATION_PREFIXES.some((p) => k.startsWith(p)) || (MULTUS_ANNOTATIONS as readonly string[]).includes(k);
    if (!wanted) continue;
    if (Buffer.byteLength(v) > MAX_ANNOTATION_BYTES) oversized.push(k);
    else annotations[k] = v;
  }
  return { annotations, oversized };
}

const controllerOf = (refs: readonly V1OwnerReference[] | undefined): V1OwnerReference | undefined => refs?.find((r) => r.controller) ?? refs?.[0];

export function slimPod(obj: KubernetesObject): PodFacts {
  const md = obj.metadata ?? {};
  const ref = controllerOf(md.ownerReferences);
  return {
    namespace: md.namespace ?? '',
    name: md.name ?? '',
    uid: md.uid ?? '',
    labels: { ...(md.labels ?? {}) },
    ...keptAnnotations(md.annotations),
    ...(ref ? { controller: { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid } } : {}),
  };
}

export function slimNamespace(obj: KubernetesObject): NamespaceFacts {
  const md = obj.metadata ?? {};
  return { name: md.name ?? '', labels: { ...(md.labels ?? {}) }, ...keptAnnotations(md.annotations) };
}

export function slimNode(obj: KubernetesObject): NodeFacts {
  const md = obj.metadata ?? {};
  return { name: md.name ?? '', labels: { ...(md.labels ?? {}) } };
}

/** The daemon's caches (one set per daemon), started by `serve --kubeconfig`. */
export class ClusterCache implements ClusterInputs, CacheSource {
  readonly pods: SlimCache<PodFacts>;
  readonly namespaces: SlimCache<NamespaceFacts>;
  readonly nodes: SlimCache<NodeFacts>;
  private readonly core: CoreV1Api;
  private readonly missTimeoutMs: number;
  /** Misses being fetched, so concurrent ADDs of one pod fetch it once (bounded by the calls in flight). */
  private readonly fetching = new Map<string, Promise<unknown>>();
  /** Lookups answered by a fetch instead of the cache (since start). */
  private missCount = 0;

  constructor(kc: KubeConfig, private readonly o: ClusterCacheOptions) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.missTimeoutMs = o.missTimeoutMs ?? 1500;
    const common = { kc, ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}), ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}) };
    const podSelector = `spec.nodeName=${o.node}`;
    this.pods = new SlimCache<PodFacts>({
      ...common,
      what: `pods on node ${o.node}`,
      path: '/api/v1/pods',
      fieldSelector: podSelector,
      list: (cont) => this.core.listPodForAllNamespaces({ fieldSelector: podSelector, limit: LIST_PAGE_SIZE, ...(cont ? { _continue: cont } : {}) }),
      slim: slimPod,
      maxEntries: o.maxPods ?? DEFAULT_MAX_PODS,
      onError: (e) => o.onError?.('pods', e),
    });
    this.namespaces = new SlimCache<NamespaceFacts>({
      ...common,
      what: 'namespaces',
      path: '/api/v1/namespaces',
      list: (cont) => this.core.listNamespace({ limit: LIST_PAGE_SIZE, ...(cont ? { _continue: cont } : {}) }),
      slim: slimNamespace,
      maxEntries: o.maxNamespaces ?? DEFAULT_MAX_NAMESPACES,
      onError: (e) => o.onError?.('namespaces', e),
    });
    const nodeSelector = `metadata.name=${o.node}`;
    this.nodes = new SlimCache<NodeFacts>({
      ...common,
      what: `node ${o.node}`,
      path: '/api/v1/nodes',
      fieldSelector: nodeSelector,
      list: (cont) => this.core.listNode({ fieldSelector: nodeSelector, ...(cont ? { _continue: cont } : {}) }),
      slim: slimNode,
      maxEntries: 1,
      onError: (e) => o.onError?.('node', e),
    });
  }

  /** Resolves once every cache has listed once. */
  get ready(): Promise<void> {
    return Promise.all([this.pods.ready, this.namespaces.ready, this.nodes.ready]).then(() => undefined);
  }

  /** Milliseconds since the quietest cache last heard from the API server (liveness). */
  idleMs(): number {
    return Math.max(this.pods.idleMs(), this.namespaces.idleMs(), this.nodes.idleMs());
  }

  stats(): { pods: SlimCacheStats; namespaces: SlimCacheStats; nodes: SlimCacheStats; misses: number } {
    return { pods: this.pods.stats(), namespaces: this.namespaces.stats(), nodes: this.nodes.stats(), misses: this.missCount };
  }

  liveness(): CacheLiveness[] {
    return (
      [
        ['pods', this.pods],
        ['namespaces', this.namespaces],
        ['node', this.nodes],
      ] as const
    ).map(([cache, c]) => ({ cache, idleMs: c.idleMs(), ...c.stats() }));
  }

  misses(): number {
    return this.missCount;
  }

  async pod(namespace: string, name: string, uid?: string): Promise<PodFacts> {
    const hit = this.pods.get(objectKey(namespace, name));
    if (hit && (!uid || hit.uid === uid)) return hit;
    const what = `pod ${namespace}/${name}${uid ? ` (uid ${uid})` : ''}`;
    const got = await this.fetchOnce(`pod:${namespace}/${name}`, what, hit ? 'is cached with another uid' : 'is not in this daemon\'s cache of pods on its node', async () => {
      const obj = await this.core.readNamespacedPod({ namespace, name });
      return this.pods.remember(obj) ?? slimPod(obj);
    });
    if (uid && got.uid !== uid) throw new ClusterLookupError(what, `the API server has uid ${got.uid}: the pod was replaced; the runtime will call again for the new one`);
    return got;
  }

  async namespace(name: string): Promise<NamespaceFacts> {
    const hit = this.namespaces.get(name);
    if (hit) return hit;
    return this.fetchOnce(`ns:${name}`, `namespace ${name}`, 'is not in this daemon\'s cache of namespaces', async () => {
      const obj = await this.core.readNamespace({ name });
      return this.namespaces.remember(obj) ?? slimNamespace(obj);
    });
  }

  async node(): Promise<NodeFacts> {
    const hit = this.nodes.get(this.o.node);
    if (hit) return hit;
    return this.fetchOnce(`node:${this.o.node}`, `node ${this.o.node}`, 'is not in this daemon\'s cache', async () => {
      const obj = await this.core.readNode({ name: this.o.node });
      return this.nodes.remember(obj) ?? slimNode(obj);
    });
  }

  async stop(): Promise<void> {
    await Promise.all([this.pods.stop(), this.namespaces.stop(), this.nodes.stop()]);
  }

  private fetchOnce<T>(key: string, what: string, why: string, fetch: () => Promise<T>): Promise<T> {
    const running = this.fetching.get(key) as Promise<T> | undefined;
    if (running) return running;
    this.missCount++;
    const p = withTimeout(fetch(), this.missTimeoutMs, 'fetch').catch((e: unknown) => {
      const reason = isNotFound(e) ? 'the API server does not know it either (404)' : `fetching it from the API server failed: ${(e as Error).message}`;
      throw new ClusterLookupError(what, `${why}, and ${reason}`);
    });
    this.fetching.set(key, p);
    void p.catch(() => undefined).finally(() => this.fetching.delete(key));
    return p;
  }
}
