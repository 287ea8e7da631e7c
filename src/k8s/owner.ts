// The controller that owns a pod, for SpiderEndpoint's ownerControllerType/Name: Pod -> ReplicaSet -> Deployment,
// StatefulSet, Job, DaemonSet, KubeVirt VirtualMachineInstance. Cached (owners rarely change) and bounded in time,
// because it is called on the allocation path.
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1OwnerReference } from '@kubernetes/client-node';
import type { Owner } from '../../events/catalogue.js';
import { isNotFound, withTimeout } from './kube.js';

export type OwnerResolver = (namespace: string, podName: string) => Promise<Owner | undefined>;

export interface OwnerResolverOptions {
  /** How long an answer is reused (ms). */
  readonly ttlMs?: number;
  /** Most entries kept; the oldest go first. */
  readonly maxEntries?: number;
  /** Longest wait for the API server (ms); after it the owner is unknown. */
  readonly timeoutMs?: number;
  readonly onError?: (e: unknown) => void;
}

const controllerOf = (refs: readonly V1OwnerReference[] | undefined): V1OwnerReference | undefined => refs?.find((r) => r.controller) ?? refs?.[0];

class TtlCache<V> {
  private readonly m = new Map<string, { v: V; until: number }>();
  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}
  get(k: string): V | undefined {
    const e = this.m.get(k);
    if (!e) return undefined;
    if (e.until < Date.now()) {
      this.m.delete(k);
      return undefined;
    }
    return e.v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    if (this.m.size >= this.max) this.m.delete(this.m.keys().next().value as string);
    this.m.set(k, { v, until: Date.now() + this.ttlMs });
  }
}

/** Undefined when the pod is not found, has no controller, or the API server does not answer in time. */
export function createOwnerResolver(kc: KubeConfig, o: OwnerResolverOptions = {}): OwnerResolver {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const pods = new TtlCache<Owner | null>(o.ttlMs ?? 60_000, o.maxEntries ?? 10_000);
  // A ReplicaSet's Deployment never changes: cache longer.
  const replicaSets = new TtlCache<Owner>((o.ttlMs ?? 60_000) * 10, o.maxEntries ?? 10_000);

  async function fromReplicaSet(namespace: string, name: string): Promise<Owner> {
    const key = `${namespace}/${name}`;
    const hit = replicaSets.get(key);
    if (hit) return hit;
    let owner: Owner = { kind: 'ReplicaSet', name };
    try {
      const rs = await apps.readNamespacedReplicaSet({ namespace, name });
      const ref = controllerOf(rs.metadata?.ownerReferences);
      if (ref?.kind === 'Deployment') owner = { kind: 'Deployment', name: ref.name };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    replicaSets.set(key, owner);
    return owner;
  }

  async function resolve(namespace: string, podName: string): Promise<Owner | undefined> {
    const key = `${namespace}/${podName}`;
    const hit = pods.get(key);
    if (hit !== undefined) return hit ?? undefined;
    let pod;
    try {
      pod = await core.readNamespacedPod({ namespace, name: podName });
    } catch (e) {
      if (isNotFound(e)) return undefined; // not cached: the pod may appear in a moment
      throw e;
    }
    const ref = controllerOf(pod.metadata?.ownerReferences);
    const owner = ref === undefined ? null : ref.kind === 'ReplicaSet' ? await fromReplicaSet(namespace, ref.name) : { kind: ref.kind, name: ref.name };
    pods.set(key, owner);
    return owner ?? undefined;
  }

  return async (namespace, podName) => {
    try {
      return await withTimeout(resolve(namespace, podName), o.timeoutMs ?? 2000, `owner of pod ${namespace}/${podName}`);
    } catch (e) {
      o.onError?.(e);
      return undefined;
    }
  };
}
