// A projection: a reducer from the log to a read model, declaring the event types it handles.
import type { EventType, LoggedEvent } from '../events/catalogue.js';
import type { ObjectChange } from './read-model.js';

/**
 * A projection's state: compact mutable indexes (Maps keyed by pool, pod, allocation) owned by one runner (a
 * replay or a live copy), plus rendered Kubernetes objects memoised on immutable per-object records.
 */
export interface ProjectionState {
  /** The rendered object at `key`; the same object (identity) until that object changes. Frozen. */
  get(key: string): K8sObject | undefined;
  list(): Iterable<K8sObject>;
  /** Number of objects. */
  readonly size: number;
  /** From now on, record which objects each batch changes (live copies do; replays need not). */
  trackChanges(): void;
  /** The objects changed since the last call, each rendered on first read as of this moment; clears the record. */
  takeChanges(projection: string): ObjectChange[];
  /** The checkpoint form: plain JSON data. */
  toJSON(): unknown;
}

/**
 * A projection. Not a pure reducer: `apply` changes the state it is given in place (copying immutable documents
 * per batch cost more than the events themselves). What holds instead:
 * - a state is owned by one runner: `initial()` and `restore()` make new ones, sharing no mutable part with their
 *   input or with any other state (per-object records are immutable and may be shared);
 * - applying the same events in the same order gives the same state, whatever the batching (replay == live), and
 *   `toJSON()` lists it in an order that depends only on that state;
 * - objects handed out by `get`, `list` or a change never change afterwards (a change renders a new object);
 * - `apply` never mutates or keeps the events' objects (it copies what it keeps).
 */
export interface Projection<S = ProjectionState> {
  /** Stable name; also the checkpoint key. */
  readonly name: string;
  /** Bump when the state's shape or meaning changes: older checkpoints are then ignored and rebuilt. */
  readonly version: number;
  readonly handles: readonly EventType[];
  /** The state before any event. */
  initial(): S;
  /**
   * A new state from the checkpoint form (`toJSON()` of a state of this version); the input is neither changed nor
   * kept. Absent for a projection whose state is plain JSON data (a pure reducer): the runtime then copies it.
   */
  restore?(json: unknown): S;
  /**
   * Applies a batch of events, in global order, all of types in `handles`. Document projections change `state` in
   * place and return it; a pure reducer over plain data may return a new state instead (the runtime keeps either).
   */
  apply(state: S, events: readonly LoggedEvent[]): S;
  /**
   * Set on projections whose states can share one index (e.g. SpiderIPPool and Whereabouts IPPool both render from
   * one per-pool index): run together, the runtime keeps one index for the group, applies each batch to it once
   * (through one member, with the group's event types) and makes the other members' states with `share`.
   */
  readonly group?: StateGroup;
  /** A state of this projection over the same index as `sibling`, a state of another member of its group. */
  share?(sibling: ProjectionState): S;
}

/** Projections that keep one index between them; `handles` covers every member's event types. */
export interface StateGroup {
  readonly name: string;
  readonly handles: readonly EventType[];
}

/** A projection of Kubernetes objects (everything in projections/): its state has the read side. */
export interface DocumentProjection<S extends ProjectionState = ProjectionState> extends Projection<S> {
  restore(json: unknown): S;
}

/** A Kubernetes object as the projections render it. */
export interface K8sObject<Spec = unknown, Status = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly spec?: Spec;
  readonly status?: Status;
}
