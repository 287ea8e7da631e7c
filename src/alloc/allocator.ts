// The allocation engine: decides on its read model, appends with the decision's condition, and on a conflict waits
// for the fresher view and decides again. Many concurrent requests share the store's group commit; addresses picked
// but not yet committed are claimed so concurrent decisions in this process never pick the same one.
import type { LoggedEvent, ObjectMeta, Owner, ReleaseReason } from '../../events/catalogue.js';
import { isAppendConditionFailed, type BeforeHorizon } from '../store/errors.js';
import type { EventStore } from '../store/event-store.js';
import type { Subscription } from '../store/subscription.js';
import { decideAllocate, decideReleaseById, decideReleaseContainer, decideReleasePod, pickOffset, type DecideContext, type Decision, type OffsetSpans } from './decide-alloc.js';
import { decideAdopt, planAdoption, type AdoptClaim, type AdoptConflict } from './adopt.js';
import * as config from './decide-config.js';
import { decideAutoPool, type AutoPoolInput } from './decide-auto-pool.js';
import { AllocError } from './errors.js';
import type { Offset } from '../net/free-space.js';
import { AllocatorModel, endpointKey, type PoolState } from './model.js';
import { restoreModel, type ModelCheckpoint } from './model-checkpoint.js';
import type { AllocateRequest, AllocateResult, Allocation } from './types.js';

export interface AllocatorOptions {
  /** Attempts per request when other writers keep winning the same tags. */
  readonly maxAttempts?: number;
  readonly rng?: () => number;
  /**
   * Who controls a pod (Deployment, StatefulSet, KubeVirt VM...), asked for requests that do not say: it decides
   * StatefulSet/KubeVirt reuse and SpiderEndpoint's owner fields. Must answer promptly (undefined when unknown).
   */
  readonly resolveOwner?: (namespace: string, pod: string) => Promise<Owner | undefined>;
}

export interface StartOptions {
  /** Start from this checkpoint (at its revision: the log before it may be archived). */
  readonly from?: ModelCheckpoint;
  readonly onError?: (e: unknown) => void;
  /** Every batch after it is applied to the model (the daemon's projections follow the same read). */
  readonly onApplied?: (events: readonly LoggedEvent[], through: number) => void;
  /**
   * The subscription fell behind the horizon: answer the horizon checkpoint's model (the caller resets whatever else
   * follows the log to the same checkpoint); the model is replaced by it and the log followed after its revision.
   */
  readonly onBehindHorizon?: (e: BeforeHorizon) => Promise<ModelCheckpoint>;
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
  /** Labels and annotations recorded with a defined or changed pool or subnet. */
  readonly metadata?: ObjectMeta;
  /** An upstream's defaulting and refusals (src/upstream), applied inside the decision. */
  readonly admission?: config.Admission;
}

export interface AllocatorStats {
  allocations: number;
  releases: number;
  conflicts: number;
  reused: number;
}

export class Allocator {
  private current = new AllocatorModel();
  readonly stats: AllocatorStats = { allocations: 0, releases: 0, conflicts: 0, reused: 0 };
  private sub: Subscription | undefined;
  private readonly claims = new Map<string, Set<Offset>>();
  private readonly perEndpoint = new Map<string, Promise<unknown>>();
  private readonly maxAttempts: number;
  private readonly rng: () => number;
  private readonly resolveOwner: AllocatorOptions['resolveOwner'];
  /** Revision of this process's latest commit: releases wait until the model holds it (read-your-writes). */
  private lastOwnCommit = 0;

  constructor(
    readonly store: EventStore,
    opts: AllocatorOptions = {},
  ) {
    this.maxAttempts = opts.maxAttempts ?? 16;
    this.resolveOwner = opts.resolveOwner;
    this.rng = opts.rng ?? Math.random;
    this.watchClaims(this.current);
  }

  /** The read model decisions are taken on (replaced whole when the subscription restarts from the horizon). */
  get model(): AllocatorModel {
    return this.current;
  }

  private watchClaims(m: AllocatorModel): void {
    m.onAllocated = (pool, offset) => this.claims.get(pool)?.delete(offset);
  }

  /**
   * Replays the log into the model (from a checkpoint at its revision when given: the log before it may be archived)
   * and follows it; resolves once caught up.
   */
  async start(opts: StartOptions = {}): Promise<void> {
    if (opts.from) restoreModel(opts.from, this.model);
    const behind = opts.onBehindHorizon;
    this.sub = this.store.subscribe({
      after: this.model.revision,
      onEvents: (events, through) => {
        for (const e of events) this.model.apply(e.event, e.revision);
        // Others that follow the same log (the daemon's projections) get the batch already read and decoded.
        opts.onApplied?.(events as readonly LoggedEvent[], through);
      },
      ...(opts.onError ? { onError: opts.onError } : {}),
      ...(behind
        ? {
            onBehindHorizon: async (e: BeforeHorizon) => {
              const cp = await behind(e);
              // A fresh model from the checkpoint, swapped in whole: a decision never sees half of each.
              // Claims of decisions in flight stay; those the checkpoint's allocations settle are dropped as it restores.
              const next = new AllocatorModel();
              this.watchClaims(next);
              restoreModel(cp, next);
              this.current = next;
              return next.revision;
            },
          }
        : {}),
    });
    await this.sub.sync();
  }

  /** Times the subscription fell behind the horizon and the model restarted from the horizon checkpoint. */
  get horizonRestarts(): number {
    return this.sub?.horizonRestarts ?? 0;
  }

  /** Every commit at or before this revision is in the model. */
  get revision(): number {
    return this.subscription.through;
  }

  /** Waits until the model holds every commit this process has made (read-your-writes for its own clients). */
  awaitOwnWrites(): Promise<void> {
    return this.ownWritesApplied();
  }

  /** Waits until the model holds every commit at or before `rev` (read-your-writes across daemons). */
  waitFor(rev: number): Promise<void> {
    return this.subscription.waitFor(rev);
  }

  /** Waits until the model holds everything committed so far (read-your-writes across processes). */
  sync(): Promise<void> {
    return this.subscription.sync();
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }

  /**
   * Answers as soon as the decision is committed; the model catches up behind it. Until it has, further requests for
   * the same endpoint or container wait (a retried ADD then finds its result), and releases wait for it too.
   */
  allocate(request: AllocateRequest): Promise<AllocateResult> {
    if (!request.endpoint.owner && this.resolveOwner) return this.allocateWithOwner(request, this.resolveOwner);
    // Not an async function: the request's promise is serialized's own, not another one resolved with it.
    try {
      return this.allocateResolved(request);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  private async allocateWithOwner(request: AllocateRequest, resolveOwner: NonNullable<AllocatorOptions['resolveOwner']>): Promise<AllocateResult> {
    let req = request;
    const owner = await resolveOwner(req.endpoint.namespace, req.endpoint.name).catch(() => undefined);
    // Object.assign, not a leading spread: see AllocatorModel.allocate (a hidden class per object on Node 20).
    if (owner) req = Object.assign({}, req, { endpoint: Object.assign({}, req.endpoint, { owner }) });
    return this.allocateResolved(req);
  }

  private allocateResolved(req: AllocateRequest): Promise<AllocateResult> {
    const keys = [`ep:${endpointKey(req.endpoint)}`, `ctr:${req.endpoint.containerID}`];
    return this.serialized(keys, async () => {
      const { decision, revision, applied } = await this.execute(req.at, (ctx) => decideAllocate(this.model, req, ctx));
      if (decision.reused) this.stats.reused++;
      else this.stats.allocations++;
      return { result: { allocations: decision.allocations, reused: decision.reused, revision }, applied };
    });
  }

  releaseById(allocationId: string, reason: ReleaseReason, at: string): Promise<ReleaseResult> {
    return this.release(at, (ctx) => decideReleaseById(this.model, allocationId, reason, ctx));
  }

  /** CNI DEL: what the container holds (on one NIC, or all); releasing nothing is success. */
  releaseContainer(containerID: string, nic: string | undefined, at: string): Promise<ReleaseResult> {
    return this.release(at, (ctx) => decideReleaseContainer(this.model, containerID, nic, ctx));
  }

  releasePod(namespace: string, name: string, uid: string | undefined, reason: ReleaseReason, at: string): Promise<ReleaseResult> {
    return this.release(at, (ctx) => decideReleasePod(this.model, namespace, name, uid, reason, ctx));
  }

  /** Releases decide on a model holding this process's own commits, so an ADD followed by a DEL never leaks. */
  private async release(at: string, decide: (ctx: DecideContext) => Decision): Promise<ReleaseResult> {
    await this.ownWritesApplied();
    const { decision, revision } = await this.execute(at, decide);
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
  /** Creates or resizes a SpiderSubnet auto pool (IPs chosen inside the decision: a concurrent carve re-decides). */
  reconcileAutoPool(input: AutoPoolInput, o: ConfigOptions) {
    return this.configure(o, (ctx) => decideAutoPool(this.model, input, ctx));
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
  changeReservation(name: string, ipVersion: unknown, ips: unknown, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideChangeReservation(this.model, name, ipVersion, ips, ctx));
  }
  unreserve(name: string, o: ConfigOptions) {
    return this.configure(o, (ctx) => config.decideUnreserve(this.model, name, ctx));
  }

  /**
   * Adopts allocations another IPAM made (`ipam adopt`): planned and appended in chunks, each conditioned on its
   * addresses and interfaces; any conflict (found first, or made by a concurrent writer) stops before anything more
   * is written and is returned, never resolved.
   */
  async adopt(claims: readonly AdoptClaim[], o: { at: string; dryRun?: boolean }): Promise<{ adopted: number; held: number; conflicts: readonly AdoptConflict[]; revision: number }> {
    await this.ownWritesApplied();
    const first = planAdoption(this.model, claims, (n) => this.model.pools.get(n)?.compiled);
    if (first.conflicts.length > 0 || o.dryRun) return { adopted: o.dryRun ? first.adopt.length : 0, held: first.held.length, conflicts: first.conflicts, revision: this.revision };
    let adopted = 0;
    let revision = this.revision;
    const CHUNK = 32; // 3 tags per claim: within etcd's 128 compares and operations per txn
    for (let i = 0; i < first.adopt.length; i += CHUNK) {
      const chunk = first.adopt.slice(i, i + CHUNK);
      let conflicts: readonly AdoptConflict[] = [];
      const r = await this.execute(o.at, (ctx) => {
        const plan = planAdoption(this.model, chunk, (n) => this.model.pools.get(n)?.compiled);
        conflicts = plan.conflicts;
        if (plan.conflicts.length > 0) return { events: [], conditionTags: [], allocations: [], reused: false };
        const d = decideAdopt(this.model, plan.adopt, ctx);
        return { events: d.events, conditionTags: d.conditionTags, allocations: [], reused: false };
      });
      if (conflicts.length > 0) return { adopted, held: first.held.length, conflicts, revision };
      await r.applied;
      adopted += r.decision.events.length;
      revision = r.revision;
    }
    return { adopted, held: first.held.length, conflicts: [], revision };
  }

  private get subscription(): Subscription {
    if (!this.sub) throw new Error('allocator not started: call start() first');
    return this.sub;
  }

  /** Resolves once the model holds every commit this process has made. */
  private ownWritesApplied(): Promise<void> {
    return this.subscription.waitFor(this.lastOwnCommit);
  }

  private async configure(o: ConfigOptions, decide: (ctx: config.ConfigContext) => config.ConfigDecision): Promise<ConfigResult> {
    let warnings: readonly string[] = [];
    await this.ownWritesApplied();
    const { decision, revision, applied } = await this.execute(
      o.at,
      (ctx) => {
        const d = decide({ newId: ctx.newId, at: o.at, strict: o.strict ?? false, ...(o.metadata ? { metadata: o.metadata } : {}), ...(o.admission ? { admission: o.admission } : {}) });
        warnings = d.warnings;
        return { events: d.events, conditionTags: d.conditionTags, allocations: [], reused: false };
      },
      o.dryRun ?? false,
    );
    await applied; // configuration is read right after it is written (define a pool, then allocate from it)
    return { revision, warnings, events: decision.events.map((e) => ({ type: e.type, id: e.id })) };
  }

  /** Decide on the model, append conditioned on what the decision read, retry on conflict with a fresher view. */
  private async execute(
    at: string,
    decide: (ctx: DecideContext) => Decision,
    dryRun = false,
  ): Promise<{ decision: Decision; revision: number; applied: Promise<void> }> {
    const sub = this.subscription;
    for (let attempt = 1; ; attempt++) {
      const after = sub.through;
      const claimed: [Set<Offset>, Offset][] = [];
      const pools: PoolState[] = [];
      const ctx: DecideContext = {
        at,
        newId: (label) => this.store.newId(label),
        pick: (pool, spans) => {
          pools.push(pool);
          return this.pick(pool, claimed, spans);
        },
        take: (pool, offset) => this.take(pool, offset, claimed),
      };
      const release = () => claimed.forEach(([set, o]) => set.delete(o));
      let decision: Decision;
      try {
        decision = decide(ctx);
      } catch (e) {
        release();
        // A refusal decided on a model that lacks this process's own commits (a CNI DEL answered just before this ADD)
        // may be wrong: a pool "exhausted", a static IP "already allocated" that DEL freed. Decide again once they are
        // in; a refusal that holds then is the answer. Commits are rare next to decisions, so this waits rarely.
        if (e instanceof AllocError && this.lastOwnCommit > sub.through && attempt < this.maxAttempts) {
          await this.ownWritesApplied();
          continue;
        }
        throw e;
      }
      if (decision.events.length === 0 || dryRun) {
        release();
        return { decision, revision: after, applied: Promise.resolve() };
      }
      try {
        const res = await this.store.append(decision.events, { tags: decision.conditionTags, after }, { trusted: true });
        this.lastOwnCommit = Math.max(this.lastOwnCommit, res.revision);
        // Claims stay until the model itself marks the addresses used.
        const applied = sub.waitFor(res.revision).then(release);
        return { decision, revision: res.revision, applied };
      } catch (e) {
        release();
        if (!isAppendConditionFailed(e)) throw e;
        this.stats.conflicts++;
        // Another allocator took an address we picked: its cursor is in our region; move ours elsewhere.
        if (e.tags.some((t) => t.startsWith('ip:'))) for (const p of pools) p.free.jump(this.rng);
        if (attempt >= this.maxAttempts) {
          throw new AllocError('Conflict', '', `gave up after ${attempt} attempts: other writers kept changing ${e.tags.join(', ')}`, true);
        }
        await sub.waitFor(e.seenRevision);
      }
    }
  }

  /** Claims one given offset (a requested address) if no concurrent decision here holds it. */
  private take(pool: PoolState, offset: Offset, claimed: [Set<Offset>, Offset][]): boolean {
    const claims = this.claimsOf(pool.compiled.name);
    if (claims.has(offset) || pool.blocked.has(offset) || pool.shadowed.has(offset) || !pool.free.isFree(offset)) return false;
    this.claim(pool, offset, claims, claimed);
    return true;
  }

  private pick(pool: PoolState, claimed: [Set<Offset>, Offset][], spans?: OffsetSpans): Offset {
    const claims = this.claimsOf(pool.compiled.name);
    const { blocked, shadowed } = pool;
    const taken = (x: Offset) => claims.has(x) || blocked.has(x) || shadowed.has(x);
    const o = pickOffset(pool, this.rng, taken, spans);
    if (o >= 0) this.claim(pool, o, claims, claimed);
    return o;
  }

  private claim(pool: PoolState, o: Offset, claims: Set<Offset>, claimed: [Set<Offset>, Offset][]): void {
    claims.add(o);
    claimed.push([claims, o]);
    if (pool.peers.length === 0) return;
    // Overlapping pools of the scope must not pick the same address meanwhile.
    const value = pool.offsets.addressAt(o);
    for (const q of pool.peers) {
      const qo = q.offsets.offsetOf(value);
      if (qo < 0) continue;
      const qc = this.claimsOf(q.compiled.name);
      qc.add(qo);
      claimed.push([qc, qo]);
    }
  }

  private claimsOf(pool: string): Set<Offset> {
    let set = this.claims.get(pool);
    if (!set) this.claims.set(pool, (set = new Set()));
    return set;
  }

  /**
   * Runs `fn` after earlier work on any of `keys` has been applied to the model; the caller gets `result` as soon as
   * `fn` returns it, while the keys stay busy until `applied` resolves.
   */
  private serialized<T>(keys: readonly string[], fn: () => Promise<{ result: T; applied: Promise<void> }>): Promise<T> {
    let pending: Promise<unknown>[] | undefined;
    for (const k of keys) {
      const p = this.perEndpoint.get(k);
      if (p !== undefined) (pending ??= []).push(p);
    }
    // The common case (nothing pending on these keys) starts at once, without extra promises.
    const run = pending === undefined ? fn() : Promise.all(pending).then(fn);
    const done = () => {
      for (const k of keys) if (this.perEndpoint.get(k) === tail) this.perEndpoint.delete(k);
    };
    // The keys are free again once the result is applied (or the work failed); then they are forgotten.
    const tail: Promise<void> = run.then((r) => r.applied).then(done, done);
    for (const k of keys) this.perEndpoint.set(k, tail);
    return run.then((r) => r.result);
  }
}
