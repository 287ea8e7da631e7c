// What readers of projections (the daemon's Kubernetes-style API, status write-back, the CLI) see: rendered
// Kubernetes objects by projection and key, and the changes each applied batch made. The projections' internal
// state is theirs to shape; this is the contract.
import type { K8sObject } from './types.js';

export type ChangeType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface ObjectChange {
  readonly type: ChangeType;
  /** The projection's name (e.g. 'spider-ippool'). */
  readonly projection: string;
  /** The object's key in that projection: `name` for cluster-scoped objects, `namespace/name` otherwise. */
  readonly key: string;
  /** The object after the change (before it, for DELETED). */
  readonly object: K8sObject;
}

export interface ReadModel {
  /** Every commit at or before this revision is reflected. */
  readonly revision: number;
  /** Every object of one projection (an unknown projection has none). */
  list(projection: string): Iterable<K8sObject>;
  get(projection: string, key: string): K8sObject | undefined;
}

export interface LiveReadModel extends ReadModel {
  /** Called after each applied batch with the objects it changed (possibly none) and the revision now reflected. */
  onChange(listener: (changes: readonly ObjectChange[], revision: number) => void): () => void;
  /** Resolves once every commit at or before `rev` is reflected. */
  waitFor(rev: number): Promise<void>;
}

/** The key an object has in its projection. */
export function objectKey(o: K8sObject): string {
  return o.metadata.namespace === undefined ? o.metadata.name : `${o.metadata.namespace}/${o.metadata.name}`;
}
