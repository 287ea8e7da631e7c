// Running projections: route each event to the projections that handle it, in batches, from a replay or live.
import type { LoggedEvent } from '../events/catalogue.js';
import type { EventStore } from '../src/store/event-store.js';
import type { Subscription } from '../src/store/subscription.js';
import type { LiveReadModel, ObjectChange, ReadModel } from './read-model.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

// Projections of different state types live side by side; each is only ever given its own state.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyProjection = Projection<any>;

export interface ProjectionStates {
  /** Every commit at or before this revision is applied. */
  revision: number;
  readonly states: Map<string, unknown>;
}

export function initialStates(projections: readonly AnyProjection[]): ProjectionStates {
  return { revision: 0, states: new Map(projections.map((p) => [p.name, p.initial()])) };
}

/** Applies one batch (in global order) to every projection that handles any of its events. */
export function applyBatch(projections: readonly AnyProjection[], s: ProjectionStates, events: readonly LoggedEvent[]): void {
  if (events.length === 0) return;
  for (const p of projections) {
    const mine = events.filter((e) => p.handles.includes(e.event.type));
    if (mine.length > 0) s.states.set(p.name, p.apply(s.states.get(p.name), mine));
  }
  s.revision = Math.max(s.revision, events[events.length - 1]!.revision);
}

export interface ReplayOptions {
  /** Start from these states (a checkpoint) instead of the initial ones. */
  readonly from?: ProjectionStates;
  /** Stop at this revision (default: the current one). */
  readonly until?: number;
  /** Only events whose `at` is at or before this time ("what did pool X look like at 14:02 yesterday"). */
  readonly asOf?: Date;
  readonly onProgress?: (revision: number, events: number) => void;
}

/** Rebuilds projections from the log, page by page (bounded memory). */
export async function replay(store: EventStore, projections: readonly AnyProjection[], opts: ReplayOptions = {}): Promise<ProjectionStates> {
  const s: ProjectionStates = opts.from ? { revision: opts.from.revision, states: new Map(opts.from.states) } : initialStates(projections);
  const until = opts.until ?? (await store.currentRevision());
  const types = [...new Set(projections.flatMap((p) => p.handles))];
  const cutoff = opts.asOf?.getTime();
  let n = 0;
  for await (const page of store.readPages({ after: s.revision, until, types, afterIsCommit: s.revision > 0 })) {
    const events = cutoff === undefined ? page.events : page.events.filter((e) => Date.parse(e.event.at) <= cutoff);
    applyBatch(projections, s, events);
    s.revision = Math.max(s.revision, page.through);
    n += page.events.length;
    opts.onProgress?.(s.revision, n);
  }
  s.revision = until;
  return s;
}

function objectsOf(states: ProjectionStates, projection: string): Readonly<Record<string, K8sObject>> {
  return (states.states.get(projection) as DocumentState | undefined)?.objects ?? {};
}

/** A read model over states (a replay's result, a checkpoint). */
export function readModelOf(states: ProjectionStates): ReadModel {
  return {
    get revision() {
      return states.revision;
    },
    list: (projection) => Object.values(objectsOf(states, projection)),
    get: (projection, key) => objectsOf(states, projection)[key],
  };
}

/** The objects that differ between two states of a projection (by reference: states share unchanged objects). */
function diffObjects(projection: string, before: Readonly<Record<string, K8sObject>>, after: Readonly<Record<string, K8sObject>>, out: ObjectChange[]): void {
  if (before === after) return;
  for (const [key, object] of Object.entries(after)) {
    const old = before[key];
    if (old === undefined) out.push({ type: 'ADDED', projection, key, object });
    else if (old !== object) out.push({ type: 'MODIFIED', projection, key, object });
  }
  for (const [key, object] of Object.entries(before)) if (after[key] === undefined) out.push({ type: 'DELETED', projection, key, object });
}

/** Projections kept current by the store's subscription. */
export class LiveProjections implements LiveReadModel {
  readonly current: ProjectionStates;
  private sub: Subscription | undefined;
  private readonly listeners = new Set<(changes: readonly ObjectChange[], revision: number) => void>();

  constructor(
    private readonly store: EventStore,
    readonly projections: readonly AnyProjection[],
    from?: ProjectionStates,
  ) {
    this.current = from ? { revision: from.revision, states: new Map(from.states) } : initialStates(projections);
  }

  async start(): Promise<void> {
    const types = new Set(this.projections.flatMap((p) => p.handles as readonly string[]));
    this.sub = this.store.subscribe({
      after: this.current.revision,
      onEvents: (events, through) => {
        const before = this.listeners.size > 0 ? new Map(this.current.states) : undefined;
        applyBatch(
          this.projections,
          this.current,
          events.filter((e) => types.has(e.event.type)),
        );
        this.current.revision = Math.max(this.current.revision, through);
        if (before === undefined) return;
        const changes: ObjectChange[] = [];
        for (const p of this.projections) diffObjects(p.name, objectsOf({ revision: 0, states: before }, p.name), objectsOf(this.current, p.name), changes);
        for (const l of this.listeners) l(changes, this.current.revision);
      },
    });
    await this.sub.sync();
  }

  get revision(): number {
    return this.current.revision;
  }

  list(projection: string): Iterable<K8sObject> {
    return Object.values(objectsOf(this.current, projection));
  }

  get(projection: string, key: string): K8sObject | undefined {
    return objectsOf(this.current, projection)[key];
  }

  onChange(listener: (changes: readonly ObjectChange[], revision: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  state<S>(p: Projection<S>): S {
    return this.current.states.get(p.name) as S;
  }

  /** Resolves once every commit at or before `rev` is applied. */
  async waitFor(rev: number): Promise<void> {
    await this.sub?.waitFor(rev);
  }

  sync(): Promise<void> {
    return this.sub ? this.sub.sync() : Promise.resolve();
  }

  async stop(): Promise<void> {
    await this.sub?.close();
  }
}
