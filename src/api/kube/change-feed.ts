// Every object's resourceVersion (the revision of its last change) and a bounded record of recent changes, so a
// watch can resume from a resourceVersion it was given; older than the record holds is 410 Expired.
import type { ChangeType, LiveReadModel, ObjectChange } from '../../../projections/read-model.js';
import type { K8sObject } from '../../../projections/types.js';

interface Entry {
  readonly revision: number;
  readonly projection: string;
  readonly key: string;
  readonly type: ChangeType;
  /** Kept for DELETED only: the object is gone from the model, and a resumed watch reports it. */
  readonly deleted?: K8sObject;
}

export interface Replayed {
  readonly type: ChangeType;
  readonly revision: number;
  readonly object: K8sObject;
}

export type FeedListener = (changes: readonly ObjectChange[], revision: number) => void;

export class ChangeFeed {
  /** Objects unchanged since the feed started get this revision (the log's history before it is not read again). */
  readonly base: number;
  /** Every change after this revision is held. */
  private floorRevision: number;
  /** Projection -> object key -> revision of its last change (no joined key string made per change). */
  private readonly versions = new Map<string, Map<string, number>>();
  private readonly ring: (Entry | undefined)[];
  private start = 0;
  private size = 0;
  private readonly listeners = new Set<FeedListener>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly model: LiveReadModel,
    readonly capacity = 50_000,
  ) {
    this.base = model.revision;
    this.floorRevision = model.revision;
    this.ring = new Array<Entry | undefined>(capacity);
    this.unsubscribe = model.onChange((changes, revision) => this.record(changes, revision));
  }

  get floor(): number {
    return this.floorRevision;
  }

  versionOf(projection: string, key: string): number {
    return this.versions.get(projection)?.get(key) ?? this.base;
  }

  subscribe(l: FeedListener): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }

  close(): void {
    this.unsubscribe();
    this.listeners.clear();
  }

  /**
   * What changed in `projection` after `rev`: one event per object, carrying its latest state (intermediate states
   * are not kept), in the order of their last change. Undefined when `rev` is older than the record.
   */
  since(projection: string, rev: number): Replayed[] | undefined {
    if (rev < this.floorRevision) return undefined;
    const seen = new Map<string, { first: ChangeType; last: Entry }>();
    for (let i = 0; i < this.size; i++) {
      const e = this.ring[(this.start + i) % this.capacity]!;
      if (e.revision <= rev || e.projection !== projection) continue;
      const s = seen.get(e.key);
      if (s) s.last = e;
      else seen.set(e.key, { first: e.type, last: e });
    }
    const out: Replayed[] = [];
    for (const [key, { first, last }] of seen) {
      const existedBefore = first !== 'ADDED';
      const now = this.model.get(projection, key);
      if (now !== undefined) out.push({ type: existedBefore ? 'MODIFIED' : 'ADDED', revision: last.revision, object: now });
      else if (existedBefore && last.deleted) out.push({ type: 'DELETED', revision: last.revision, object: last.deleted });
    }
    return out.sort((a, b) => a.revision - b.revision);
  }

  private record(changes: readonly ObjectChange[], revision: number): void {
    for (const c of changes) {
      let byKey = this.versions.get(c.projection);
      if (byKey === undefined) this.versions.set(c.projection, (byKey = new Map()));
      if (c.type === 'DELETED') byKey.delete(c.key);
      else byKey.set(c.key, revision);
      this.push({ revision, projection: c.projection, key: c.key, type: c.type, ...(c.type === 'DELETED' ? { deleted: c.object } : {}) });
    }
    for (const l of this.listeners) l(changes, revision);
  }

  private push(e: Entry): void {
    if (this.size === this.capacity) {
      const evicted = this.ring[this.start]!;
      this.floorRevision = Math.max(this.floorRevision, evicted.revision);
      this.start = (this.start + 1) % this.capacity;
      this.size--;
    }
    this.ring[(this.start + this.size) % this.capacity] = e;
    this.size++;
  }
}
