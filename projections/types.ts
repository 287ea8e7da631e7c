// A projection: a pure reducer from the log to a read model, declaring the event types it handles.
import type { EventType, LoggedEvent } from '../events/catalogue.js';

export interface Projection<S> {
  /** Stable name; also the checkpoint key. */
  readonly name: string;
  /** Bump when the state's shape or meaning changes: older checkpoints are then ignored and rebuilt. */
  readonly version: number;
  readonly handles: readonly EventType[];
  /** The state before any event. Plain JSON data (checkpoints serialise it). */
  initial(): S;
  /**
   * Applies a batch of events, in global order, all of types in `handles`. Pure: returns the next state and
   * never mutates `state` (document projections use immer's produce once per batch).
   */
  apply(state: S, events: readonly LoggedEvent[]): S;
}

/** A Kubernetes object as the projections render it. */
export interface K8sObject<Spec = unknown, Status = unknown> {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly [k: string]: unknown };
  readonly spec?: Spec;
  readonly status?: Status;
}

/** The state of a document projection: objects by key (`name` or `namespace/name`). */
export interface DocumentState<O extends K8sObject = K8sObject> {
  readonly objects: Readonly<Record<string, O>>;
}
