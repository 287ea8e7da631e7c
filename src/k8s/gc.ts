// Pod garbage collection as BullMQ jobs. A `pod` job (one pending per pod) re-checks one pod after the grace period
// and releases what it no longer needs, each allocation by id (ABA-safe: an allocation released by another worker,
// or a retried job, is never released twice). A repeatable `sweep` job lists every pod and enqueues `pod` jobs for
// the allocations whose pod is gone, replaced or finished; the pod informer enqueues them as pods go.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { Queue, type Job } from 'bullmq';
import type { ReleaseReason } from '../../events/catalogue.js';
import type { Allocator } from '../alloc/allocator.js';
import { isAllocError } from '../alloc/errors.js';
import type { AllocationRecord, AllocatorModel } from '../alloc/model.js';
import { judge, statefulSetKeeps, type PodFacts } from './gc-decide.js';
import { runInformer, type RunningInformer } from './informer.js';
import { isNotFound } from './kube.js';
import { VirtualMachineInstance } from './resources.js';

export const GC_QUEUE = 'ipam-gc';

export type GcJobData = { readonly kind: 'pod'; readonly namespace: string; readonly name: string; readonly seenRevision: number } | { readonly kind: 'sweep' };

export interface GcResult {
  readonly released: number;
  readonly enqueued: number;
}

export function gcPodJobId(namespace: string, name: string): string {
  return `gc-pod-${encodeURIComponent(`${namespace}/${name}`)}`;
}

export interface GcQueueOptions {
  /** How long a pod must stay gone (or replaced, or finished) before its addresses go (ms). */
  readonly graceMs: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
}

/** Enqueues a re-check of one pod after the grace period; one pending per pod. */
export function enqueuePodCheck(queue: Queue<GcJobData>, o: GcQueueOptions, namespace: string, name: string, seenRevision: number): Promise<unknown> {
  const id = gcPodJobId(namespace, name);
  return queue.add(
    'pod',
    { kind: 'pod', namespace, name, seenRevision },
    {
      deduplication: { id, keepLastIfActive: true },
      delay: o.graceMs,
      attempts: o.attempts ?? 6,
      backoff: { type: 'exponential', delay: o.backoffMs ?? 1000 },
      removeOnComplete: true,
      removeOnFail: 1000,
    },
  );
}

/** Every allocation made for this pod (by pod name, not by endpoint identity). */
function recordsOfPod(m: AllocatorModel, namespace: string, name: string): AllocationRecord[] {
  const out: AllocationRecord[] = [];
  for (const r of m.byId.values()) if (r.endpoint.name === name && r.endpoint.namespace === namespace) out.push(r);
  return out;
}

const podFacts = (p: V1Pod | undefined): PodFacts | undefined =>
  p?.metadata?.uid === undefined ? undefined : { uid: p.metadata.uid, ...(p.status?.phase ? { phase: p.status.phase } : {}) };

export interface GcProcessorDeps {
  readonly kc: KubeConfig;
  readonly allocator: Allocator;
  readonly queue: Queue<GcJobData>;
  readonly queueOptions: GcQueueOptions;
  /** Called after each release commits (metrics, logs; tests stop a worker here). */
  readonly afterRelease?: (rec: AllocationRecord, reason: ReleaseReason) => void | Promise<void>;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

export function gcProcessor(d: GcProcessorDeps): (job: Job<GcJobData>) => Promise<GcResult> {
  const core = d.kc.makeApiClient(CoreV1Api);
  const apps = d.kc.makeApiClient(AppsV1Api);
  const custom = d.kc.makeApiClient(CustomObjectsApi);

  async function readPod(namespace: string, name: string): Promise<PodFacts | undefined> {
    try {
      return podFacts(await core.readNamespacedPod({ namespace, name }));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  /** For a reuse kind whose pod is gone: does its owner still want the address? Errors propagate (never guess). */
  async function ownerKeeps(rec: AllocationRecord): Promise<boolean> {
    const owner = rec.endpoint.owner!;
    const namespace = rec.endpoint.namespace;
    try {
      if (owner.kind === 'StatefulSet') {
        const set = await apps.readNamespacedStatefulSet({ namespace, name: owner.name });
        return statefulSetKeeps(rec.endpoint.name, owner.name, set.spec?.replicas);
      }
      const v = VirtualMachineInstance;
      await custom.getNamespacedCustomObject({ group: v.group, version: v.version, plural: v.plural, namespace, name: owner.name });
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  async function checkPod(namespace: string, name: string, seenRevision: number): Promise<GcResult> {
    const a = d.allocator;
    await a.sync(); // releases by other workers (or by an earlier run of this job) are in the model
    const recs = recordsOfPod(a.model, namespace, name).filter((r) => r.revision <= seenRevision);
    if (recs.length === 0) return { released: 0, enqueued: 0 };
    const pod = await readPod(namespace, name);
    let released = 0;
    for (const rec of recs) {
      const v = judge(rec, pod);
      if (v.release === false) continue;
      if (v.release === 'ask-owner' && (await ownerKeeps(rec))) continue;
      const reason: ReleaseReason = v.release === true ? v.reason : 'pod-gone';
      try {
        await a.releaseById(rec.allocationId, reason, new Date().toISOString());
      } catch (e) {
        if (isAllocError(e) && e.code === 'StaleRelease') continue; // released meanwhile: nothing to do
        throw e;
      }
      released++;
      d.log?.('info', `gc: released ${rec.address} (${rec.pool}) of ${namespace}/${name}: ${v.why}`);
      await d.afterRelease?.(rec, reason);
    }
    return { released, enqueued: 0 };
  }

  async function sweep(): Promise<GcResult> {
    const a = d.allocator;
    await a.sync();
    const seen = a.revision;
    const recs = [...a.model.byId.values()];
    if (recs.length === 0) return { released: 0, enqueued: 0 };
    const pods = new Map<string, PodFacts>();
    let cont: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const res = await core.listPodForAllNamespaces({ limit: 500, ...(cont ? { _continue: cont } : {}) });
      for (const p of res.items) {
        const f = podFacts(p);
        if (f) pods.set(`${p.metadata?.namespace}/${p.metadata?.name}`, f);
      }
      cont = res.metadata?._continue;
      if (!cont) break;
    }
    const candidates = new Set<string>();
    for (const rec of recs) {
      const key = `${rec.endpoint.namespace}/${rec.endpoint.name}`;
      if (!candidates.has(key) && judge(rec, pods.get(key)).release !== false) candidates.add(key);
    }
    for (const key of candidates) {
      const slash = key.indexOf('/');
      await enqueuePodCheck(d.queue, d.queueOptions, key.slice(0, slash), key.slice(slash + 1), seen);
    }
    return { released: 0, enqueued: candidates.size };
  }

  return (job) => (job.data.kind === 'sweep' ? sweep() : checkPod(job.data.namespace, job.data.name, job.data.seenRevision));
}

/** Watches pods and enqueues a re-check for each that is deleted or finishes. */
export function watchPods(kc: KubeConfig, allocator: Allocator, queue: Queue<GcJobData>, o: GcQueueOptions, log?: (level: 'info' | 'warn', msg: string) => void): RunningInformer<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const enqueue = (p: V1Pod) => {
    const ns = p.metadata?.namespace;
    const name = p.metadata?.name;
    if (!ns || !name) return;
    // Stamp the check with etcd's latest commit for this prefix, not this process's model: another controller (or
    // the daemon) may have allocated for the pod in commits this model has not applied yet.
    allocator.store
      .headRevision()
      .then((head) => enqueuePodCheck(queue, o, ns, name, Math.max(head, allocator.revision)))
      .catch((e: unknown) => log?.('warn', `gc: cannot enqueue ${ns}/${name}: ${(e as Error).message}`));
  };
  return runInformer<V1Pod>(kc, '/api/v1/pods', () => core.listPodForAllNamespaces(), {
    deleted: enqueue,
    upsert: (p) => {
      if (p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') enqueue(p);
    },
    error: (e) => log?.('warn', `gc: pod watch: ${(e as Error)?.message ?? String(e)}; restarting`),
  });
}

/** The repeatable sweep (one schedule per queue, whatever the number of controllers). */
export function scheduleSweep(queue: Queue<GcJobData>, everyMs: number): Promise<unknown> {
  return queue.upsertJobScheduler('gc-sweep', { every: everyMs }, { name: 'sweep', data: { kind: 'sweep' }, opts: { removeOnComplete: true, removeOnFail: 100 } });
}
