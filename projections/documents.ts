// What every projection state shares: rendered objects by key, memoised on immutable records (so an object keeps
// its identity until it changes), and the changes of a batch known from the keys it touched.
import type { ChangeType, ObjectChange } from './read-model.js';
import type { K8sObject, ProjectionState } from './types.js';

/** A change whose object is rendered on first read, from the record as of the batch (records never change). */
class RecordChange<R extends object> implements ObjectChange {
  private rendered: K8sObject | undefined;

  constructor(
    readonly type: ChangeType,
    readonly projection: string,
    readonly key: string,
    private readonly record: R,
    private readonly docs: Documents<R>,
  ) {}

  get object(): K8sObject {
    return (this.rendered ??= this.docs.renderRecord(this.record));
  }
}

/**
 * A projection state whose objects are rendered from records: one immutable record per object key (replaced,
 * never mutated, when the object changes). Subclasses keep their own mutable indexes, call `touch(key)` before
 * changing the record of `key`, and say how a record renders.
 */
export abstract class Documents<R extends object> implements ProjectionState {
  private tracking = false;
  /** Object keys the current batch touched, with their record before the first touch. */
  private readonly before = new Map<string, R | undefined>();
  private readonly memo = new WeakMap<R, K8sObject>();

  /** The current record of an object, or undefined when there is no such object. */
  protected abstract recordOf(key: string): R | undefined;
  protected abstract render(record: R): K8sObject;
  /** Keys of every current object. */
  protected abstract objectKeys(): Iterable<string>;
  abstract readonly size: number;
  abstract toJSON(): unknown;

  /** Call before changing the record of `key` (cheap when changes are not tracked). */
  protected touch(key: string): void {
    if (this.tracking && !this.before.has(key)) this.before.set(key, this.recordOf(key));
  }

  renderRecord(record: R): K8sObject {
    let o = this.memo.get(record);
    if (o === undefined) {
      o = deepFreeze(this.render(record));
      this.memo.set(record, o);
    }
    return o;
  }

  get(key: string): K8sObject | undefined {
    const r = this.recordOf(key);
    return r === undefined ? undefined : this.renderRecord(r);
  }

  *list(): Iterable<K8sObject> {
    for (const key of this.objectKeys()) {
      const o = this.get(key);
      if (o !== undefined) yield o;
    }
  }

  trackChanges(): void {
    this.tracking = true;
  }

  takeChanges(projection: string): ObjectChange[] {
    const out: ObjectChange[] = [];
    for (const [key, was] of this.before) {
      const now = this.recordOf(key);
      if (now === was) continue;
      if (now === undefined) out.push(new RecordChange('DELETED', projection, key, was!, this));
      else out.push(new RecordChange(was === undefined ? 'ADDED' : 'MODIFIED', projection, key, now, this));
    }
    this.before.clear();
    return out;
  }
}

/** Rendered objects are shared by every reader: freeze them (skipping parts already frozen, e.g. memoised entries). */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k in v) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

export const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
