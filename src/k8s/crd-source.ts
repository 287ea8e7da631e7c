// CRD sources: SpiderSubnet, SpiderIPPool, SpiderReservedIP and Whereabouts IPPool objects in the cluster become
// configuration events. Work is serial and coalesced per object (the latest version wins); a rejected spec is
// reported and left until the object changes; a refused deletion (the pool still holds allocations) and transient
// failures are retried.
import { CustomObjectsApi, type KubeConfig, type KubernetesListObject } from '@kubernetes/client-node';
import type { Allocator, ConfigResult } from '../alloc/allocator.js';
import { AllocError, isAllocError, isRejection } from '../alloc/errors.js';
import type { ConfigMetadataState } from './config-metadata.js';
import { desiredFromObject, planConfig, targetOf, type DesiredConfig } from './crd-spec.js';
import { runInformer, type RunningInformer } from './informer.js';
import { claimsOfPool } from '../upstream/adopt-guard.js';
import { listPath, SpiderIPPool, SpiderReservedIP, SpiderSubnet, WhereaboutsIPPool, type KubeObject, type ResourceKind } from './resources.js';

export const SOURCE_KINDS: readonly ResourceKind[] = [SpiderSubnet, SpiderIPPool, SpiderReservedIP, WhereaboutsIPPool];

export interface CrdSourceOptions {
  readonly kc: KubeConfig;
  readonly allocator: Allocator;
  /** Labels and annotations recorded per pool and subnet (the config-metadata projection). */
  readonly recorded: () => ConfigMetadataState;
  /** Resolves once the recorded metadata reflects this revision. */
  readonly waitFor: (revision: number) => Promise<void>;
  readonly kinds?: readonly ResourceKind[];
  /** Delay before retrying a refused deletion or a transient failure (ms). */
  readonly retryMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

interface Work {
  readonly kind: ResourceKind;
  readonly op: 'upsert' | 'delete';
  readonly obj: KubeObject;
}

const objectKey = (kind: ResourceKind, o: KubeObject) => `${kind.kind}/${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;

export class CrdSource {
  /** Object key -> why its last version could not be applied (cleared once it is). */
  readonly problems = new Map<string, string>();
  /** Configuration writes made, for diagnostics and tests. */
  writes = 0;
  private readonly pending = new Map<string, Work>();
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private readonly informers: RunningInformer<KubeObject & { metadata: object }>[] = [];
  private draining: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: CrdSourceOptions) {}

  /** Starts the informers; resolves once every kind's first list has been applied. */
  async start(): Promise<void> {
    const api = this.o.kc.makeApiClient(CustomObjectsApi);
    for (const kind of this.o.kinds ?? SOURCE_KINDS) {
      const list = () =>
        (kind.namespaced
          ? api.listCustomObjectForAllNamespaces({ group: kind.group, version: kind.version, plural: kind.plural })
          : api.listClusterCustomObject({ group: kind.group, version: kind.version, plural: kind.plural })) as Promise<KubernetesListObject<KubeObject & { metadata: object }>>;
      this.informers.push(
        runInformer(this.o.kc, listPath(kind), list, {
          upsert: (obj) => this.submit({ kind, op: 'upsert', obj }),
          deleted: (obj) => this.submit({ kind, op: 'delete', obj }),
          error: (e) => this.log('warn', `${kind.kind} watch: ${(e as Error)?.message ?? String(e)}; restarting`),
        }),
      );
    }
    await Promise.all(this.informers.map((i) => i.ready));
    await this.idle();
  }

  /** Resolves when nothing is queued or being applied. */
  async idle(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.retries.values()) clearTimeout(t);
    await Promise.all(this.informers.map((i) => i.stop()));
    await this.idle();
  }

  private submit(w: Work): void {
    if (this.stopped) return;
    const key = objectKey(w.kind, w.obj);
    clearTimeout(this.retries.get(key));
    this.retries.delete(key);
    this.pending.set(key, w); // the latest version of an object replaces one not yet applied
    this.draining ??= this.drain().finally(() => (this.draining = undefined));
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.stopped) {
      const [key, w] = this.pending.entries().next().value as [string, Work];
      this.pending.delete(key);
      await this.apply(key, w);
    }
  }

  private async apply(key: string, w: Work): Promise<void> {
    try {
      const res = w.op === 'upsert' ? await this.upsert(w) : await this.remove(w);
      if (res) {
        this.writes++;
        await this.o.waitFor(res.revision); // the next plan must see what this one wrote
        this.log('info', `${key}: ${res.events.map((e) => e.type).join(', ')}${res.warnings.length ? ` (warnings: ${res.warnings.join('; ')})` : ''}`);
      }
      this.problems.delete(key);
    } catch (e) {
      const msg = e instanceof Error ? e.message : String(e);
      this.problems.set(key, msg);
      const refusedDelete = w.op === 'delete' && isAllocError(e) && e.code === 'InUse';
      if (isRejection(e) && !refusedDelete) {
        this.log('warn', `${key}: rejected: ${msg}`); // stays until the object changes
        return;
      }
      this.log('warn', `${key}: ${refusedDelete ? 'deletion refused' : 'failed'}: ${msg}; retrying in ${this.o.retryMs ?? 10_000} ms`);
      this.retries.set(
        key,
        setTimeout(() => {
          this.retries.delete(key);
          if (!this.pending.has(key)) this.submit(w);
        }, this.o.retryMs ?? 10_000),
      );
    }
  }

  private async upsert(w: Work): Promise<ConfigResult | undefined> {
    const a = this.o.allocator;
    await a.sync();
    const d = desiredFromObject(w.kind, w.obj);
    const plan = planConfig(a.model, this.o.recorded(), d);
    if (plan.action === 'none') return undefined;
    if (plan.action === 'change') return this.change(d);
    const defined = await this.define(d);
    // First sight of a pool Whereabouts or Spiderpool already hands out from: adopt what its pods hold (once; later
    // versions of the object are the log's projection, not a source of allocations).
    if (w.kind.kind === 'IPPool' || w.kind.kind === 'SpiderIPPool') {
      const claims = claimsOfPool(w.kind.kind, w.obj);
      if (claims.length > 0) {
        await a.waitFor(defined.revision);
        const r = await a.adopt(claims, { at: now() });
        if (r.conflicts.length > 0) {
          throw new AllocError('Conflict', w.kind.kind === 'IPPool' ? 'spec.allocations' : 'status.allocatedIPs', `${r.conflicts.length} allocation(s) not adopted: ${r.conflicts.slice(0, 3).map((c) => `${c.address}: ${c.why}`).join('; ')}`);
        }
        this.log('info', `${d.name}: adopted ${r.adopted} allocation(s) (${r.held} already held)`);
        return { ...defined, revision: Math.max(defined.revision, r.revision) };
      }
    }
    return defined;
  }

  private define(d: DesiredConfig): Promise<ConfigResult> {
    const a = this.o.allocator;
    const o = { at: now(), metadata: d.metadata, ...(d.admission ? { admission: d.admission } : {}) };
    if (d.target === 'pool') return a.definePool(d.name, d.spec, o);
    if (d.target === 'subnet') return a.defineSubnet(d.name, d.spec, o);
    return a.reserve(d.name, d.reservation!.ipVersion, d.reservation!.ips, o);
  }

  private async change(d: DesiredConfig): Promise<ConfigResult> {
    const a = this.o.allocator;
    const o = { at: now(), metadata: d.metadata, ...(d.admission ? { admission: d.admission } : {}) };
    if (d.target === 'pool') return a.changePool(d.name, d.spec, o);
    if (d.target === 'subnet') return a.changeSubnet(d.name, d.spec, o);
    // Reservations have no change event: planConfig validated the new one; replace it (two commits).
    await a.unreserve(d.name, o);
    return a.reserve(d.name, d.reservation!.ipVersion, d.reservation!.ips, o);
  }

  private async remove(w: Work): Promise<ConfigResult | undefined> {
    const a = this.o.allocator;
    await a.sync();
    const name = w.obj.metadata?.name ?? '';
    const o = { at: now() };
    switch (targetOf(w.kind)) {
      case 'pool':
        return a.model.pools.has(name) ? a.removePool(name, o) : undefined;
      case 'subnet':
        return a.model.subnets.has(name) ? a.removeSubnet(name, o) : undefined;
      case 'reservation':
        return a.model.reservations.has(name) ? a.unreserve(name, o) : undefined;
    }
  }

  private log(level: 'info' | 'warn', msg: string): void {
    this.o.log?.(level, `crd-source: ${msg}`);
  }
}

const now = () => new Date().toISOString();
