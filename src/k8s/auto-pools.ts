// SpiderSubnet auto pools, kept by `ipam controller` as Spiderpool's spiderpool-controller keeps them
// (pkg/applicationcontroller): every Deployment, ReplicaSet, StatefulSet, DaemonSet, Job and CronJob whose pod template
// names a SpiderSubnet gets a pool of its own per interface and family, sized by ippool-ip-number, resized when its
// replicas change, and removed when it goes (ippool-reclaim "true", the default) or kept for a same-named successor
// ("false"). Workloads are watched through slim caches (only what is read here, only annotated workloads, a bounded
// number); the work is serial and coalesced per workload; pools are written as conditional appends, so several
// controllers never carve the same IPs (a pool's name is a poolcfg: tag: a second create of it re-decides and finds it).
import { AppsV1Api, BatchV1Api, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { ObjectMeta } from '../../events/catalogue.js';
import type { Allocator } from '../alloc/allocator.js';
import { isAllocError } from '../alloc/errors.js';
import {
  AUTO_POOL_IP_NUMBER_ANNOTATION,
  AutoPoolLabel,
  autoPoolKey,
  autoPoolLabels,
  autoPoolName,
  autoPoolPodAffinity,
  desiredIPNumber,
  ipNumberAnnotation,
  workloadOf,
  WorkloadKind,
  type Workload,
  type WorkloadObject,
} from '../upstream/spiderpool/auto-pool.js';
import type { ConfigMetadataState } from './config-metadata.js';
import { LIST_PAGE_SIZE, SlimCache, type ListPage, type SlimCacheStats } from './slim-cache.js';

export interface AutoPoolOptions {
  readonly kc: KubeConfig;
  readonly allocator: Allocator;
  /** Labels and annotations recorded per pool (the config-metadata projection): how an app's pools are found. */
  readonly recorded: () => ConfigMetadataState;
  /** Resolves once the recorded metadata reflects this revision. */
  readonly waitFor: (revision: number) => Promise<void>;
  /** Annotated workloads kept per kind (default 20,000); beyond it a workload gets no pool and the overflow is counted. */
  readonly maxWorkloads?: number;
  /** Delay before retrying a reconcile that could not be done yet (subnet full, IPs still held, subnet missing). */
  readonly retryMs?: number;
  readonly resyncMs?: number;
  readonly backoffMs?: number;
  /** Helm's ipam.spiderSubnet.autoPool.defaultRedundantIPNumber (default 1). */
  readonly defaultRedundant?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

interface Work {
  readonly kind: WorkloadKind;
  /** Present: reconcile to it; absent: the workload is gone. */
  readonly now?: Workload;
  readonly before?: Workload;
}

const KINDS: readonly WorkloadKind[] = [WorkloadKind.Deployment, WorkloadKind.ReplicaSet, WorkloadKind.StatefulSet, WorkloadKind.DaemonSet, WorkloadKind.Job, WorkloadKind.CronJob];
const PATHS: Record<WorkloadKind, string> = {
  Deployment: '/apis/apps/v1/deployments',
  ReplicaSet: '/apis/apps/v1/replicasets',
  StatefulSet: '/apis/apps/v1/statefulsets',
  DaemonSet: '/apis/apps/v1/daemonsets',
  Job: '/apis/batch/v1/jobs',
  CronJob: '/apis/batch/v1/cronjobs',
};

const now = () => new Date().toISOString();
const same = (a: Workload | undefined, b: Workload | undefined) => JSON.stringify(a) === JSON.stringify(b);

export class AutoPoolController {
  /** Workload key -> why its last reconcile failed (cleared once it succeeds). */
  readonly problems = new Map<string, string>();
  /** Pool writes made (creates, resizes, removals), for diagnostics and tests. */
  writes = 0;
  private readonly caches = new Map<WorkloadKind, SlimCache<Workload>>();
  /** Bounded by the workloads kept (one entry per workload and uid at most). */
  private readonly pending = new Map<string, Work>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private draining: Promise<void> | undefined;
  private stopped = false;
  private started = false;

  constructor(private readonly o: AutoPoolOptions) {
    const apps = o.kc.makeApiClient(AppsV1Api);
    const batch = o.kc.makeApiClient(BatchV1Api);
    const page = (cont: string | undefined) => ({ limit: LIST_PAGE_SIZE, ...(cont ? { _continue: cont } : {}) });
    const lists: Record<WorkloadKind, (cont: string | undefined) => Promise<ListPage>> = {
      Deployment: (c) => apps.listDeploymentForAllNamespaces(page(c)),
      ReplicaSet: (c) => apps.listReplicaSetForAllNamespaces(page(c)),
      StatefulSet: (c) => apps.listStatefulSetForAllNamespaces(page(c)),
      DaemonSet: (c) => apps.listDaemonSetForAllNamespaces(page(c)),
      Job: (c) => batch.listJobForAllNamespaces(page(c)),
      CronJob: (c) => batch.listCronJobForAllNamespaces(page(c)),
    };
    for (const kind of KINDS) {
      this.caches.set(
        kind,
        new SlimCache<Workload>({
          kc: o.kc,
          what: `${kind}s`,
          path: PATHS[kind],
          list: lists[kind],
          slim: (obj: KubernetesObject) => workloadOf(kind, obj as WorkloadObject),
          onChange: (_key, nowW, before) => {
            if (this.started && !same(nowW, before)) this.changed(kind, nowW, before);
          },
          maxEntries: o.maxWorkloads ?? 20_000,
          ...(o.resyncMs ? { resyncMs: o.resyncMs } : {}),
          ...(o.backoffMs ? { backoffMs: o.backoffMs } : {}),
          onError: (e) => this.log('warn', `${kind} watch: ${(e as Error)?.message ?? String(e)}; restarting`),
        }),
      );
    }
  }

  /** Resolves once every kind has been listed and what the lists ask for is reconciled. */
  async start(): Promise<void> {
    await Promise.all([...this.caches.values()].map((c) => c.ready));
    this.started = true;
    for (const [kind, cache] of this.caches) for (const [, w] of cache.entries()) this.changed(kind, w, undefined);
    this.sweep();
    await this.idle();
  }

  /** Milliseconds since the quietest workload watch last heard from the API server. */
  idleMs(): number {
    return Math.max(...[...this.caches.values()].map((c) => c.idleMs()));
  }

  stats(): Record<WorkloadKind, SlimCacheStats> {
    return Object.fromEntries([...this.caches].map(([k, c]) => [k, c.stats()])) as Record<WorkloadKind, SlimCacheStats>;
  }

  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries.values()) clearTimeout(t);
    await Promise.all([...this.caches.values()].map((c) => c.stop()));
    await this.idle();
  }

  /** Pools left by workloads deleted while no controller ran: reclaimed like a deletion seen live. */
  private sweep(): void {
    if ([...this.caches.values()].some((c) => c.stats().overflow > 0)) return; // a workload not kept is not gone
    const live = new Set<string>();
    for (const c of this.caches.values()) for (const [, w] of c.entries()) live.add(w.uid);
    const gone = new Map<string, Workload>();
    for (const [pool, md] of Object.entries(this.o.recorded().pools)) {
      const l = md.labels ?? {};
      const uid = l[AutoPoolLabel.OwnerUID];
      if (uid === undefined || l[AutoPoolLabel.Reclaim] !== 'true' || live.has(uid) || !this.o.allocator.model.pools.has(pool)) continue;
      const kind = l[AutoPoolLabel.OwnerKind] as WorkloadKind;
      if (!KINDS.includes(kind)) continue;
      gone.set(uid, { app: { apiVersion: '', kind, namespace: l[AutoPoolLabel.OwnerNamespace] ?? '', name: l[AutoPoolLabel.OwnerName] ?? '' }, uid, replicas: 0, subnets: { error: 'gone' } });
    }
    for (const w of gone.values()) this.changed(w.app.kind as WorkloadKind, undefined, w);
  }

  private changed(kind: WorkloadKind, nowW: Workload | undefined, before: Workload | undefined): void {
    if (this.stopped) return;
    const w = nowW ?? before!;
    const key = `${kind}/${w.app.namespace}/${w.app.name}/${w.uid}`;
    clearTimeout(this.retries.get(key));
    this.retries.delete(key);
    this.pending.set(key, { kind, ...(nowW ? { now: nowW } : {}), ...(before ? { before } : {}) }); // the latest wins
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const [key, w] = this.pending.entries().next().value as [string, Work];
      this.pending.delete(key);
      try {
        if (w.now) await this.reconcile(w.now);
        else await this.reclaim(w.before!);
        this.problems.delete(key);
      } catch (e) {
        const msg = (e as Error).message;
        this.problems.set(key, msg);
        if (this.stopped) return;
        const retryMs = this.o.retryMs ?? 10_000;
        this.log('warn', `${key}: ${msg}; retrying in ${retryMs} ms`);
        this.retries.set(
          key,
          setTimeout(() => {
            this.retries.delete(key);
            if (!this.pending.has(key)) {
              this.pending.set(key, w);
              this.draining ??= this.drain().finally(() => (this.draining = undefined));
            }
          }, retryMs),
        );
      }
    }
  }

  /** The app's existing pool for one subnet, interface and family: its own, or a kept one of a same-named predecessor. */
  private existing(key: Record<string, string>, uid: string): [string, ObjectMeta] | undefined {
    for (const [name, md] of Object.entries(this.o.recorded().pools)) {
      const l = md.labels ?? {};
      if (!Object.entries(key).every(([k, v]) => l[k] === v) || !this.o.allocator.model.pools.has(name)) continue;
      if (l[AutoPoolLabel.Reclaim] === 'true' && l[AutoPoolLabel.OwnerUID] !== uid) continue; // a predecessor's, being reclaimed
      return [name, md];
    }
    return undefined;
  }

  private async reconcile(w: Workload): Promise<void> {
    const cfg = w.subnets;
    const what = `${w.app.kind} ${w.app.namespace}/${w.app.name}`;
    if ('error' in cfg) throw new Error(`${what}: ${cfg.error}`);
    const a = this.o.allocator;
    await a.sync();
    const desired = desiredIPNumber(cfg, w.replicas, this.o.defaultRedundant);
    for (const item of cfg.items) {
      for (const [ipVersion, subnet] of [[4, item.ipv4], [6, item.ipv6]] as const) {
        if (subnet === undefined) continue;
        const found = this.existing(autoPoolKey({ subnet, app: w.app, nic: item.interface, ipVersion }), w.uid);
        const pool = found?.[0] ?? autoPoolName(w.app.name, ipVersion, item.interface, w.uid);
        const labels = { ...(found?.[1].labels ?? {}), ...autoPoolLabels({ subnet, cidr: a.model.subnets.get(subnet)?.subnet ?? '', app: w.app, uid: w.uid, nic: item.interface, ipVersion, reclaim: cfg.reclaim }) };
        const annotations = { [AUTO_POOL_IP_NUMBER_ANNOTATION]: ipNumberAnnotation(cfg, this.o.defaultRedundant) };
        const metadataChanged = found !== undefined && JSON.stringify({ l: found[1].labels, a: found[1].annotations }) !== JSON.stringify({ l: labels, a: annotations });
        const source = `annotation ${cfg.items.length > 1 || item.interface !== 'eth0' ? 'ipam.spidernet.io/subnets' : 'ipam.spidernet.io/subnet'} of ${what}`;
        const r = await a.reconcileAutoPool(
          { subnet, pool, ipVersion, desired, podAffinity: autoPoolPodAffinity(w.app), metadataChanged, source },
          { at: now(), metadata: { labels, annotations } },
        );
        if (r.events.length > 0) {
          this.writes++;
          await this.o.waitFor(r.revision); // the next lookup must see what this wrote
          this.log('info', `${what}: pool ${pool} (${desired} IPs from ${subnet}): ${r.events.map((e) => e.type).join(', ')}`);
        }
      }
    }
  }

  /** The workload is gone: its ippool-reclaim "true" pools are disabled at once and removed once their IPs are free. */
  private async reclaim(w: Workload): Promise<void> {
    const a = this.o.allocator;
    await a.sync();
    const what = `${w.app.kind} ${w.app.namespace}/${w.app.name}`;
    const held: string[] = [];
    for (const [name, md] of Object.entries(this.o.recorded().pools)) {
      const l = md.labels ?? {};
      if (l[AutoPoolLabel.OwnerUID] !== w.uid || l[AutoPoolLabel.Reclaim] !== 'true') continue;
      const p = a.model.pools.get(name);
      if (!p) continue;
      if (p.allocated > 0) {
        // Spiderpool's pool is terminating until its IPs are released: no new allocations meanwhile.
        if (!p.compiled.spec.disable) {
          const r = await a.changePool(name, { ...p.compiled.spec, disable: true }, { at: now(), metadata: md });
          this.writes++;
          await this.o.waitFor(r.revision);
        }
        held.push(`pool ${name} still holds ${p.allocated} allocation(s)`);
        continue;
      }
      try {
        const r = await a.removePool(name, { at: now() });
        this.writes++;
        await this.o.waitFor(r.revision);
        this.log('info', `${what} is gone: pool ${name} reclaimed: ${r.events.map((e) => e.type).join(', ')}`);
      } catch (e) {
        if (isAllocError(e) && e.code === 'PoolNotFound') continue; // removed meanwhile (another controller)
        throw e;
      }
    }
    if (held.length > 0) throw new Error(`${what} is gone: ${held.join(', ')} (released as its pods go); removed then`);
  }

  private log(level: 'info' | 'warn', msg: string): void {
    this.o.log?.(level, `auto-pools: ${msg}`);
  }
}
