// Running projections: route each event to the projections that handle it, in batches, from a replay or live.
import { isDeepStrictEqual } from 'node:util';
import type { LoggedEvent } from '../events/catalogue.js';
import type { EventStore } from '../src/store/event-store.js';
import type { Subscription } from '../src/store/subscription.js';
import type { ReadOptions, ReadPage } from '../src/store/reader.js';
import { currentHorizonCheckpoint, statesOfHorizon } from './checkpoint.js';
import { objectKey, type LiveReadModel, type ObjectChange, type ReadModel } from './read-model.js';
import type { K8sObject, Projection, ProjectionState, StateGroup } from './types.js';

// Projections of different state types live side by side; each is only ever given its own state.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = Projection<any>;

export interface ProjectionStates {
  /** Every commit at or before this revision is applied. */
  revision: number;
  /** Projection name -> its state (owned by whoever holds this; see `ownStates`). */
  readonly states: Map<string, unknown>;
}

/** The document state of one projection (undefined for an unknown one or a plain-data projection). */
export function documentsOf(s: { readonly states: ReadonlyMap<string, unknown> }, projection: string): ProjectionState | undefined {
  const st = s.states.get(projection);
  return isState(st) ? st : undefined;
}

/** States at a revision in any form: live states, or checkpoint forms as loaded (plain JSON). */
export interface StatesAt {
  readonly revision: number;
  readonly states: ReadonlyMap<string, unknown>;
}

export function initialStates(projections: readonly AnyProjection[]): ProjectionStates {
  const states = new Map<string, unknown>();
  const groups = new Map<StateGroup, ProjectionState>();
  for (const p of projections) states.set(p.name, sharedOr(p, groups, () => p.initial()));
  return { revision: 0, states };
}

/** A member of a group that already has a state shares its index; otherwise `make()` (and it becomes the group's). */
function sharedOr(p: AnyProjection, groups: Map<StateGroup, ProjectionState>, make: () => unknown): unknown {
  const sibling = p.group === undefined ? undefined : groups.get(p.group);
  if (sibling !== undefined && p.share !== undefined) return p.share(sibling);
  const s = make();
  if (p.group !== undefined && isState(s)) groups.set(p.group, s);
  return s;
}

/**
 * New states, sharing nothing mutable with `from`: a state is copied through its checkpoint form; a checkpoint
 * form (plain JSON, e.g. as loaded) is restored. So a replay never shares state with the live copy it started from.
 */
export function ownStates(projections: readonly AnyProjection[], from: StatesAt): ProjectionStates {
  const states = new Map<string, unknown>();
  const groups = new Map<StateGroup, ProjectionState>();
  for (const p of projections) {
    const s = from.states.get(p.name);
    if (s === undefined) throw new Error(`no state for projection ${p.name} at revision ${from.revision}`);
    // A group's members hold the same index: restore it once, from the first member's form.
    states.set(p.name, sharedOr(p, groups, () => {
      const json = isState(s) ? s.toJSON() : s;
      return p.restore ? p.restore(json) : structuredClone(json);
    }));
  }
  return { revision: from.revision, states };
}

function isState(s: unknown): s is ProjectionState {
  return typeof s === 'object' && s !== null && typeof (s as ProjectionState).takeChanges === 'function';
}

// Which event types each projection handles, as a set (the batch loop asks once per event and projection).
const handled = new WeakMap<AnyProjection, ReadonlySet<string>>();

function handles(p: AnyProjection): ReadonlySet<string> {
  let set = handled.get(p);
  if (set === undefined) {
    set = new Set(handledTypes(p));
    handled.set(p, set);
  }
  return set;
}

/** Event types a projection is given: its group's when it is in one (one member applies for the group). */
export function handledTypes(p: AnyProjection): readonly string[] {
  return p.group?.handles ?? p.handles;
}

/**
 * Applies one batch (in global order) to every projection that handles any of its events, in place; a group's
 * shared index once, through its first member in `projections`.
 */
export function applyBatch(projections: readonly AnyProjection[], s: ProjectionStates, events: readonly LoggedEvent[]): void {
  if (events.length === 0) return;
  // The types in this batch, found in one pass: a projection handling all of them gets the batch as it is.
  const present = new Set<string>();
  let last: string | undefined;
  for (const e of events) {
    const t = e.event.type;
    if (t !== last) present.add((last = t)); // runs of one type are common: compare before hashing
  }
  let applied: StateGroup[] | undefined;
  for (const p of projections) {
    if (p.group !== undefined) {
      if (applied?.includes(p.group)) continue;
      (applied ??= []).push(p.group);
    }
    const types = handles(p);
    let all = true;
    let any = false;
    for (const t of present) {
      if (types.has(t)) any = true;
      else all = false;
    }
    if (!any) continue;
    const mine = all ? events : events.filter((e) => types.has(e.event.type));
    s.states.set(p.name, p.apply(s.states.get(p.name), mine));
  }
  s.revision = Math.max(s.revision, events[events.length - 1]!.revision);
}

export interface ReplayOptions {
  /** Start from these states (a checkpoint, or a copy of live states) instead of the initial ones. */
  readonly from?: StatesAt;
  /** Stop at this revision (default: the current one). */
  readonly until?: number;
  /** Only events whose `at` is at or before this time ("what did pool X look like at 14:02 yesterday"). */
  readonly asOf?: Date;
  readonly onProgress?: (revision: number, events: number) => void;
  /** Where pages come from (default the store; src/lifecycle/log-source.ts reads archive + etcd). */
  readonly pages?: (opts: ReadOptions) => AsyncGenerator<ReadPage>;
}

/** Rebuilds projections from the log, page by page (bounded memory). */
export async function replay(store: EventStore, projections: readonly AnyProjection[], opts: ReplayOptions = {}): Promise<ProjectionStates> {
  const s: ProjectionStates = opts.from ? ownStates(projections, opts.from) : initialStates(projections);
  const until = opts.until ?? (await store.currentRevision());
  const types = [...new Set(projections.flatMap(handledTypes))];
  const cutoff = opts.asOf?.getTime();
  let n = 0;
  const read = opts.pages ?? ((o: ReadOptions) => store.readPages(o));
  for await (const page of read({ after: s.revision, until, types, afterIsCommit: s.revision > 0 })) {
    const events = cutoff === undefined ? page.events : page.events.filter((e) => Date.parse(e.event.at) <= cutoff);
    applyBatch(projections, s, events);
    s.revision = Math.max(s.revision, page.through);
    n += page.events.length;
    opts.onProgress?.(s.revision, n);
  }
  s.revision = until;
  return s;
}

/** A read model over states (a replay's result, a checkpoint). */
export function readModelOf(states: ProjectionStates): ReadModel {
  return {
    get revision() {
      return states.revision;
    },
    list: (projection) => documentsOf(states, projection)?.list() ?? [],
    get: (projection, key) => documentsOf(states, projection)?.get(key),
  };
}

/** What changed from `was` to `now` (one projection's objects), as a batch would report it. */
function differences(projection: string, was: ProjectionState | undefined, now: ProjectionState | undefined): ObjectChange[] {
  const out: ObjectChange[] = [];
  const keys = new Set<string>();
  for (const o of now?.list() ?? []) {
    const key = objectKey(o);
    keys.add(key);
    const before = was?.get(key);
    if (before === undefined) out.push({ type: 'ADDED', projection, key, object: o });
    else if (!isDeepStrictEqual(before, o)) out.push({ type: 'MODIFIED', projection, key, object: o });
  }
  for (const o of was?.list() ?? []) {
    const key = objectKey(o);
    if (!keys.has(key)) out.push({ type: 'DELETED', projection, key, object: o });
  }
  return out;
}

/** Bound on events held back by a coalescing window (see follow): past it they are applied at once. */
const MAX_HELD_EVENTS = 20_000;

/** Projections kept current by the store's subscription. */
export class LiveProjections implements LiveReadModel {
  private states: ProjectionStates;
  private sub: Subscription | undefined;
  /** Batches received but not applied yet (coalescing window), with the revision they reach. */
  private held: (readonly LoggedEvent[])[] = [];
  private heldEvents = 0;
  private heldThrough = 0;
  private heldTimer: NodeJS.Timeout | undefined;
  private coalesceMs = 0;
  private source: { waitFor(rev: number): Promise<void>; sync(): Promise<void> } | undefined;
  private readonly types: ReadonlySet<string>;
  private readonly listeners = new Set<(changes: readonly ObjectChange[], revision: number) => void>();
  /** Whether the states record their changes (from the first listener on, see trackChanges). */
  private tracking = false;

  constructor(
    private readonly store: EventStore,
    readonly projections: readonly AnyProjection[],
    from?: StatesAt,
  ) {
    this.states = from ? ownStates(projections, from) : initialStates(projections);
    this.types = new Set(projections.flatMap(handledTypes));
  }

  /**
   * Changes are tracked from the first listener on: until someone listens (a daemon's start, catching up on the log
   * before its APIs exist) batches change the states in place and record nothing, as a replay does, so a cold start
   * makes no copies and no change lists. What is held is applied first (it precedes the listener).
   */
  private trackChanges(): void {
    if (this.tracking) return;
    this.flush();
    this.tracking = true;
    for (const st of this.states.states.values()) if (isState(st)) st.trackChanges();
  }

  /** The states, with every batch received so far applied. */
  get current(): ProjectionStates {
    this.flush();
    return this.states;
  }

  /** Follows the log with a subscription of its own; fallen behind the horizon, it restarts from the horizon checkpoint. */
  async start(opts: { onBehindHorizon?: (revision: number) => void } = {}): Promise<void> {
    this.sub = this.store.subscribe({
      after: this.current.revision,
      onEvents: (events, through) => this.apply(events as readonly LoggedEvent[], through),
      onBehindHorizon: async () => {
        const at = this.reset(statesOfHorizon(await currentHorizonCheckpoint(this.store)));
        opts.onBehindHorizon?.(at);
        return at;
      },
    });
    await this.sub.sync();
  }

  /**
   * Replaces every state with `from` (the horizon checkpoint, when the log this follows fell behind the horizon);
   * batches held are applied first (they precede it). Listeners hear of the difference as changes, so watches stay exact.
   * Returns the revision the projections are at now.
   */
  reset(from: StatesAt): number {
    this.flush();
    const next = ownStates(this.projections, from);
    if (this.tracking) for (const st of next.states.values()) if (isState(st)) st.trackChanges();
    const changes: ObjectChange[] = [];
    if (this.tracking) for (const p of this.projections) changes.push(...differences(p.name, documentsOf(this.states, p.name), documentsOf(next, p.name)));
    this.states = next;
    for (const l of this.listeners) l(changes, next.revision);
    return next.revision;
  }

  /**
   * Follows a log someone else reads (the daemon's allocator subscription hands each decoded batch to apply()), so
   * the log is read and decoded once; waitFor and sync then go through that source. Instead of start().
   */
  follow(source: { waitFor(rev: number): Promise<void>; sync(): Promise<void> }, opts: { coalesceMs?: number } = {}): void {
    this.source = source;
    this.coalesceMs = opts.coalesceMs ?? 0;
  }

  /**
   * Takes one batch in log order; events at or before the current revision (a checkpoint's) are skipped. With a
   * coalescing window (follow's coalesceMs) batches are held and applied together when the window ends or anyone
   * reads: every read, waitFor and sync sees every batch received before it, and listeners hear of changes at most
   * the window late. Fewer, larger batches save the per-batch work (change lists, notifications, index touches).
   */
  apply(events: readonly LoggedEvent[], through: number): void {
    if (this.coalesceMs <= 0) return this.applyNow(events, through);
    if (events.length > 0) this.held.push(events);
    this.heldEvents += events.length;
    this.heldThrough = Math.max(this.heldThrough, through);
    if (this.heldEvents >= MAX_HELD_EVENTS) this.flush();
    else this.heldTimer ??= setTimeout(() => this.flush(), this.coalesceMs);
  }

  /** Applies the held batches now. */
  flush(): void {
    if (this.heldTimer !== undefined) {
      clearTimeout(this.heldTimer);
      this.heldTimer = undefined;
    }
    if (this.held.length === 0 && this.heldThrough <= this.states.revision) return;
    const events = this.held.length === 1 ? this.held[0]! : this.held.flat();
    this.held = [];
    this.heldEvents = 0;
    this.applyNow(events, this.heldThrough);
  }

  private applyNow(events: readonly LoggedEvent[], through: number): void {
    const from = this.states.revision;
    applyBatch(
      this.projections,
      this.states,
      events.filter((e) => e.revision > from && this.types.has(e.event.type)),
    );
    this.states.revision = Math.max(this.states.revision, through);
    if (!this.tracking) return; // no listener yet: nothing recorded, nothing to tell
    // Changes come from the keys the batch touched: O(changed), objects rendered only when a listener reads them.
    const changes: ObjectChange[] = [];
    for (const p of this.projections) for (const c of documentsOf(this.states, p.name)?.takeChanges(p.name) ?? []) changes.push(c);
    for (const l of this.listeners) l(changes, this.states.revision);
  }

  get revision(): number {
    return this.current.revision;
  }

  list(projection: string): Iterable<K8sObject> {
    return documentsOf(this.current, projection)?.list() ?? [];
  }

  get(projection: string, key: string): K8sObject | undefined {
    return documentsOf(this.current, projection)?.get(key);
  }

  /** Number of objects of one projection. */
  count(projection: string): number {
    return documentsOf(this.current, projection)?.size ?? 0;
  }

  onChange(listener: (changes: readonly ObjectChange[], revision: number) => void): () => void {
    this.trackChanges();
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  state<S>(p: Projection<S>): S {
    return this.current.states.get(p.name) as S;
  }

  /** Resolves once every commit at or before `rev` is applied. */
  async waitFor(rev: number): Promise<void> {
    await (this.source ?? this.sub)?.waitFor(rev);
    this.flush();
  }

  async sync(): Promise<void> {
    const s = this.source ?? this.sub;
    if (s) await s.sync();
    this.flush();
  }

  async stop(): Promise<void> {
    await this.sub?.close();
    this.flush();
  }
}
