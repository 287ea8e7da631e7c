// The allocation engine: decides on its read model, appends with the decision's condition, and on a conflict waits
// for the fresher view and decides again. Many concurrent requests share the store's group commit; addresses picked
// but not yet committed are claimed so concurrent decisions in this process never pick the same one.
import type { ReleaseReason } from '../../events/catalogue.js';
import { isAppendConditionFailed } from '../store/errors.js';
import type { EventStore } from '../store/event-store.js';
import type { Subscription } from '../store/subscription.js';
import { decideAllocate, decideReleaseById, decideReleaseContainer, decideReleasePod, type DecideContext, type Decision } from './decide-alloc.js';
import * as config from './decide-config.js';
import { AllocError } from './errors.js';
import { AllocatorModel, endpointKey, type PoolState } from './model.js';
import type { AllocateRequest, AllocateResult, Allocation } from './types.js';

export interface AllocatorOptions {
  /** Attempts per request when other writers keep winning the same tags. */
  readonly maxAttempts?: number;
  readonly rng?: () => number;
}

export interface ReleaseResult {
  readonly released: readonly Allocation[];
  readonly revision: number;
}

export interface ConfigResult {
  readonly revision: number;
  readonly warnings: readonly string[];
  /** The events written (or, with dryRun, that would be written). */
  readonly events: readonly { type: string; id: string }[];
}

export interface ConfigOptions {
  readonly at: string;
  readonly strict?: boolean;
  /** Validate and decide, write nothing. */
  readonly dryRun?: boolean;
}

export interface AllocatorStats {
  allocations: number;
  releases: number;
  conflicts: number;
  reused: number;
}

export class Allocator {
  readonly model = new AllocatorModel();
  readonly stats: AllocatorStats = { allocations: 0, releases: 0, conflicts: 0, reused: 0 };
  private sub: Subscription | undefined;
  private readonly claims = new Map<string, Set<number>>();
  private readonly perEndpoint = new Map<string, Promise<unknown>>();
  private readonly maxAttempts: number;
  private readonly rng: () => number;

  constructor(
    readonly store: EventStore,
    opts: AllocatorOptions = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 16;
    this.rng = opts.rng ?? Math.random;
    this.model.onAllocated = (pool, offset) => this.claims.get(pool)?.delete(offset);
  }

  /** Replays the log into the model and follows it; resolves once caught up. */
  async start(opts: { onError?: (e: unknown) => void } = {}): Promise<void> {
    this.sub = this.store.subscribe({
      after: 0,
      onEvents: (events) => {
        for (const e of events) this.model.apply(e.event, e.revision);
      },
      ...(opts.onError ? { onError: opts.onError } : {}),
    });
    await this.sub.sync();
  }

  /** Every commit at or before this revision is in the model. */
  get revision(): number {
    return this.subscription.through;
  }

  /** Waits until the model holds everything committed so far (read-your-writes across processes). */
  sync(): Promise<void> {
    return this.subscription.sync();
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }

  allocate(req: AllocateRequest): Promise<AllocateResult> {
    // One decision at a time per endpoint in this process: a retried ADD waits for the first, then finds its result.
    return this.serialized(endpointKey(req.endpoint), async () => {
      const { decision, revision } = await this.execute(req.at, (ctx) => decideAllocate(this.model, req, ctx));
      if (decision.reused) this.stats.reused++;
      else this.stats.allocations++;
      return { allocations: decision.allocations, reused: decision.reused, revision };
    });
  }

  async releaseById(allocationId: string, reason: ReleaseReason, at: string): Promise<ReleaseResult> {
    const { decision, revision } = await this.execute(at, (ctx) => decideReleaseById(this.model, allocationId, reason, ctx));
    this.stats.releases += decision.allocations.length;
    return { released: decision.allocations, revision };
  }

  async releaseContainer(containerID: string, nic: string | undefined, at: string): Promise<ReleaseResult> {
    const { decision, revision } = await this.execute(at, (ctx) => decideReleaseContainer(this.model, containerID, nic, ctx));
    this.stats.releases += decision.allocations.length;
    return { released: decision.allocations, revision };
  }

  async releasePod(namespace: string, name: string, uid: string | undefined, reason: ReleaseReason, at: string): Promise<ReleaseResult> {
    const { decision, revision } = await this.execute(at, (ctx) => decideReleasePod(this.model, namespace, name, uid, reason, ctx));
    this.stats.releases += decision.allocations.length;
    return { released: decision.allocations, revision };
  }

  definePool(name: string, spec: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideDefinePool(this.model, name, spec, ctx));
  }
  changePool(name: string, spec: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideChangePool(this.model, name, spec, ctx));
  }
  removePool(name: string, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideRemovePool(this.model, name, ctx));
  }
  defineSubnet(name: string, spec: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideDefineSubnet(this.model, name, spec, ctx));
  }
  changeSubnet(name: string, spec: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideChangeSubnet(this.model, name, spec, ctx));
  }
  removeSubnet(name: string, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideRemoveSubnet(this.model, name, ctx));
  }
  reserve(name: string, ipVersion: unknown, ips: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideReserve(this.model, name, ipVersion, ips, ctx));
  }
  unreserve(name: string, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideUnreserve(this.model, name, ctx));
  }

  private get subscription(): Subscription {
    if (!this.sub) throw new Error('allocator not started: call start() first');
    return this.sub;
  }

  private async configure(o: ConfigOptions, decide: (ctx: config.ConfigContext) => config.ConfigDecision): Promise<ConfigResult> {
    let warnings: readonly string[] = [];
    const { decision, revision } = await this.execute(
      o.at,
      (ctx) => {
        const d = decide({ newId: ctx.newId, at: o.at, strict: o.strict ?? false });
        warnings = d.warnings;
        return { events: d.events, conditionTags: d.conditionTags, allocations: [], reused: false };
      },
      o.dryRun ?? false,
    );
    return { revision, warnings, events: decision.events.map((e) => ({ type: e.type, id: e.id })) };
  }

  /** Decide on the model, append conditioned on what the decision read, retry on conflict with a fresher view. */
  private async execute(at: string, decide: (ctx: DecideContext) => Decision, dryRun = false): Promise<{ decision: Decision; revision: number }> {
    const sub = this.subscription;
    for (let attempt = 1; ; attempt++) {
      const after = sub.through;
      const claimed: [Set<number>, number][] = [];
      const ctx: DecideContext = {
        at,
        newId: (label) => this.store.newId(label),
        pick: (pool) => this.pick(pool, claimed),
      };
      const release = () => claimed.forEach(([set, o]) => set.delete(o));
      let decision: Decision;
      try {
        decision = decide(ctx);
      } catch (e) {
        release();
        throw e;
      }
      if (decision.events.length === 0 || dryRun) {
        release();
        return { decision, revision: after };
      }
      try {
        const res = await this.store.append(decision.events, { tags: decision.conditionTags, after });
        await sub.waitFor(res.revision);
        release();
        return { decision, revision: res.revision };
      } catch (e) {
        release();
        if (!isAppendConditionFailed(e)) throw e;
        this.stats.conflicts++;
        if (attempt >= this.maxAttempts) {
          throw new AllocError('Conflict', '', `gave up after ${attempt} attempts: other writers kept changing ${e.tags.join(', ')}`, true);
        }
        await sub.waitFor(e.seenRevision);
      }
    }
  }

  private pick(pool: PoolState, claimed: [Set<number>, number][]): number {
    let set = this.claims.get(pool.compiled.name);
    if (!set) this.claims.set(pool.compiled.name, (set = new Set()));
    const claims = set;
    const blocked = pool.blocked;
    const o = pool.free.pick(this.rng, (x) => claims.has(x) || blocked.has(x));
    if (o >= 0) {
      claims.add(o);
      claimed.push([claims, o]);
    }
    return o;
  }

  private serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.perEndpoint.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.perEndpoint.set(key, tail);
    void tail.then(() => {
      if (this.perEndpoint.get(key) === tail) this.perEndpoint.delete(key);
    });
    return run;
  }
}
