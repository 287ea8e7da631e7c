// Shared by the pool document projections (SpiderIPPool, Whereabouts IPPool): per pool, its definition and which
// allocation currently holds which address. The addresses live in a persistent map, so a pool's record (what its
// object renders from) is an O(1) snapshot and an event costs O(log n) whatever the pool's size.
import type { EventType, IPAllocatedData, IPReleasedData, LoggedEvent, ObjectMeta, PoolSpec } from '../events/catalogue.js';
import { Documents } from './documents.js';
import { nextOrigin, sameJson, type ObjectOrigin } from '../events/object-origin.js';
import { MapSnapshot, PersistentMap } from './persistent-map.js';
import { StringMap } from './string-map.js';
import type { DocumentProjection, K8sObject, StateGroup } from './types.js';

/** What a projection needs to render one held address. Immutable. */
export interface HeldAllocation {
  readonly allocationId: string;
  readonly address: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly containerID: string;
  readonly nic: string;
}

/** A pool's definition as the last PoolDefined/PoolChanged gave it (copied, so callers' events stay theirs). */
export interface PoolDefinition {
  readonly spec: PoolSpec;
  readonly metadata?: ObjectMeta;
  /** uid, creationTimestamp and generation, from the defining event (absent in checkpoints older than origins). */
  readonly origin?: ObjectOrigin;
}

/** What one pool's object renders from, as of one moment. Immutable. */
export interface PoolRecord {
  readonly name: string;
  readonly definition: PoolDefinition;
  /** address -> its current holder. */
  readonly held: MapSnapshot<HeldAllocation>;
}

/** One pool's mutable entry; kept for pools not (or no longer) defined too, so the order of events does not matter. */
interface PoolEntry {
  readonly name: string;
  definition: PoolDefinition | undefined;
  readonly byAddress: PersistentMap<HeldAllocation>;
  /** allocationId -> address, for the allocations that are current (no order kept: string-map.ts). */
  readonly byId: StringMap<string>;
  /** The record for the current contents, made on demand; dropped on every change. */
  record: PoolRecord | undefined;
}

/** Checkpoint form of one pool. */
interface PoolJson {
  readonly name: string;
  readonly definition?: PoolDefinition;
  readonly held: readonly HeldAllocation[];
}

/** A deep copy of event data going into a state, so the state never shares the caller's objects. */
export function copyJson<T>(v: T): T {
  return structuredClone(v);
}

type HolderEndpoint = Pick<HeldAllocation, 'namespace' | 'name' | 'uid' | 'containerID' | 'nic'>;

/**
 * A held address's holder: its id and address, the rest read through the event's endpoint (the allocator's model
 * and the endpoint index keep that same object): 3 fields, not 7 (48 bytes, not 80, per held address). Immutable:
 * events never change. Its JSON (checkpoints) is the plain seven fields.
 */
class Holder implements HeldAllocation {
  constructor(
    readonly allocationId: string,
    readonly address: string,
    private readonly endpoint: HolderEndpoint,
  ) {}

  get namespace(): string {
    return this.endpoint.namespace;
  }

  get name(): string {
    return this.endpoint.name;
  }

  get uid(): string {
    return this.endpoint.uid;
  }

  get containerID(): string {
    return this.endpoint.containerID;
  }

  get nic(): string {
    return this.endpoint.nic;
  }

  toJSON(): HeldAllocation {
    return plainHeld(this);
  }
}

function plainHeld(h: HeldAllocation): HeldAllocation {
  return { allocationId: h.allocationId, address: h.address, namespace: h.namespace, name: h.name, uid: h.uid, containerID: h.containerID, nic: h.nic };
}

/** A checkpoint's holder: a plain copy of the fields (no event's endpoint to share). */
const copyHeld = plainHeld;

function definitionOf(spec: PoolSpec, metadata: ObjectMeta | undefined, origin: ObjectOrigin | undefined): PoolDefinition {
  return { spec: copyJson(spec), ...(metadata !== undefined ? { metadata: copyJson(metadata) } : {}), ...(origin !== undefined ? { origin } : {}) };
}

/** The labels and annotations a definition carries, as Kubernetes metadata fields (only those present). */
/**
 * An address count as Spiderpool's status carries it (`*int64`, a JSON number): exact up to 2^53 - 1, the largest
 * integer a JSON number carries exactly into both JavaScript and Go; a larger pool (a /64 holds 2^64, more than even
 * int64 holds) saturates there.
 */
export function ipCount(n: bigint): number {
  return n > MAX_EXACT_COUNT ? Number.MAX_SAFE_INTEGER : Number(n);
}
const MAX_EXACT_COUNT = BigInt(Number.MAX_SAFE_INTEGER);

export function userMetadata(d: PoolDefinition | { readonly metadata?: ObjectMeta }): { labels?: Record<string, string>; annotations?: Record<string, string>; managedFields?: ObjectMeta['managedFields'] } {
  const m = d.metadata;
  if (m === undefined) return {};
  return {
    ...(m.labels !== undefined ? { labels: { ...m.labels } } : {}),
    ...(m.annotations !== undefined ? { annotations: { ...m.annotations } } : {}),
    ...(m.managedFields !== undefined ? { managedFields: m.managedFields } : {}),
  };
}

/**
 * Every pool's definition and current allocations: one index that every pool document projection of a group
 * renders from (SpiderIPPool and Whereabouts IPPool hold the same facts). Views are told before a pool changes.
 */
export class PoolIndex {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly views: PoolDocuments[] = [];
  /** Whether any view records changes (else `changing` skips telling them: replays). */
  private tracked = false;
  defined = 0;

  /** A view rendering this index (called by the view's constructor). */
  attach(view: PoolDocuments): void {
    this.views.push(view);
  }

  track(): void {
    this.tracked = true;
  }

  /** Current allocations in every pool (tests, diagnostics: O(pools)). */
  get allocationCount(): number {
    let n = 0;
    for (const p of this.pools.values()) n += p.byId.size;
    return n;
  }

  /** allocationId -> address of one pool's current allocations (tests, diagnostics). */
  currentIds(pool: string): Map<string, string> {
    return new Map(this.pools.get(pool)?.byId.entries() ?? []);
  }

  /** The record of a defined pool. */
  record(name: string): PoolRecord | undefined {
    const p = this.pools.get(name);
    if (p === undefined || p.definition === undefined) return undefined;
    return (p.record ??= { name: p.name, definition: p.definition, held: p.byAddress.snapshot() });
  }

  *definedNames(): Iterable<string> {
    for (const p of this.pools.values()) if (p.definition !== undefined) yield p.name;
  }

  private entry(name: string): PoolEntry {
    let p = this.pools.get(name);
    if (p === undefined) {
      p = { name, definition: undefined, byAddress: new PersistentMap(), byId: new StringMap(), record: undefined };
      this.pools.set(name, p);
    }
    return p;
  }

  /** Before any change of `p`: views record its object as it was; its record is dropped. */
  private changing(p: PoolEntry, evenUndefined = false): void {
    if (this.tracked && (evenUndefined || p.definition !== undefined)) for (const v of this.views) v.poolChanging(p.name);
    p.record = undefined;
  }

  define(name: string, spec: PoolSpec, metadata: ObjectMeta | undefined, event: { readonly id: string; readonly at: string }): void {
    const p = this.entry(name);
    this.changing(p, true);
    if (p.definition === undefined) this.defined++;
    const was = p.definition;
    p.definition = definitionOf(spec, metadata, nextOrigin(was?.origin, event, was === undefined || !sameJson(was.spec, spec)));
  }

  remove(name: string): void {
    const p = this.pools.get(name);
    if (p === undefined || p.definition === undefined) return;
    this.changing(p);
    p.definition = undefined;
    this.defined--;
    if (p.byId.size === 0) this.pools.delete(name);
  }

  /**
   * An IPAllocated: the allocation becomes current. Whoever held the same address of the pool before (the same
   * endpoint taking it again: StatefulSet, KubeVirt, a new sandbox) is replaced, as the allocator's model does.
   */
  allocate(d: IPAllocatedData): void {
    const p = this.entry(d.pool);
    this.changing(p);
    // One probe of byId: the set answers the id's previous address (the replaced holder's id below is another key).
    const moved = p.byId.set(d.allocationId, d.address);
    if (moved !== undefined && moved !== d.address && p.byAddress.get(moved)?.allocationId === d.allocationId) p.byAddress.delete(moved); // a repeated id moves, it does not duplicate
    const holder = p.byAddress.set(d.address, new Holder(d.allocationId, d.address, d.endpoint));
    if (holder !== undefined && holder.allocationId !== d.allocationId) p.byId.delete(holder.allocationId);
  }

  /**
   * An IPReleased: applies only if the allocation it names is still current (a stale release is ignored).
   * The event names the allocation's own pool (the allocator writes the record's pool), so the lookup is per pool.
   */
  release(d: IPReleasedData): void {
    const p = this.pools.get(d.pool);
    if (p === undefined) return;
    // One probe: the delete answers the address. Before `changing` is safe: views read the record (byAddress), not byId.
    const address = p.byId.delete(d.allocationId);
    if (address === undefined) return;
    this.changing(p);
    // One lookup: delete, and put back the rare other holder (an address whose holder was replaced).
    const holder = p.byAddress.delete(address);
    if (holder !== undefined && holder.allocationId !== d.allocationId) p.byAddress.set(address, holder);
    if (p.byId.size === 0 && p.definition === undefined) this.pools.delete(d.pool);
  }

  toJSON(): { pools: PoolJson[] } {
    const pools: PoolJson[] = [];
    for (const p of [...this.pools.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      const held: HeldAllocation[] = [];
      p.byAddress.forEach((h) => held.push(h));
      pools.push({ name: p.name, ...(p.definition !== undefined ? { definition: p.definition } : {}), held });
    }
    return { pools };
  }

  static restore(name: string, json: unknown): PoolIndex {
    const pools = (json as { pools?: readonly PoolJson[] } | null)?.pools;
    if (!Array.isArray(pools)) throw new Error(`${name}: checkpoint has no pools list`);
    const index = new PoolIndex();
    for (const pj of pools as readonly PoolJson[]) {
      const p = index.entry(pj.name);
      if (pj.definition !== undefined) {
        p.definition = definitionOf(pj.definition.spec, pj.definition.metadata, pj.definition.origin);
        index.defined++;
      }
      for (const h of pj.held) {
        p.byAddress.set(h.address, copyHeld(h));
        p.byId.set(h.allocationId, h.address);
      }
    }
    return index;
  }
}

/** One pool document projection's read side over a pool index; `rules` say what it shows. */
export class PoolDocuments extends Documents<PoolRecord> {
  constructor(
    private readonly rules: PoolDocumentRules,
    readonly index: PoolIndex,
  ) {
    super();
    index.attach(this);
  }

  get size(): number {
    return this.index.defined;
  }

  /** Current allocations in every pool (tests, diagnostics: O(pools)). */
  get allocationCount(): number {
    return this.index.allocationCount;
  }

  /** allocationId -> address of one pool's current allocations (tests, diagnostics). */
  currentIds(pool: string): Map<string, string> {
    return this.index.currentIds(pool);
  }

  override trackChanges(): void {
    super.trackChanges();
    this.index.track();
  }

  /** Called by the index before pool `name` changes. */
  poolChanging(name: string): void {
    this.touch(this.rules.keyOf(name));
  }

  protected recordOf(key: string): PoolRecord | undefined {
    const name = this.rules.poolOf(key);
    return this.rules.keyOf(name) === key ? this.index.record(name) : undefined;
  }

  protected render(r: PoolRecord): K8sObject {
    return this.rules.render(r);
  }

  protected *objectKeys(): Iterable<string> {
    for (const name of this.index.definedNames()) yield this.rules.keyOf(name);
  }

  toJSON(): { pools: PoolJson[] } {
    return this.index.toJSON();
  }
}

/** The events every pool document projection follows. */
export const POOL_HANDLES = ['PoolDefined', 'PoolChanged', 'PoolRemoved', 'IPAllocated', 'IPReleased'] as const satisfies readonly EventType[];

/** What differs between pool document projections: the object's key and how a pool renders. */
export interface PoolDocumentRules {
  readonly name: string;
  readonly version: number;
  keyOf(pool: string): string;
  /** The pool an object key names (any pool name when the key is not one of this projection's). */
  poolOf(key: string): string;
  render(r: PoolRecord): K8sObject;
}

/** The pool document projections share one pool index when run together. */
export const POOL_GROUP: StateGroup = { name: 'pools', handles: POOL_HANDLES };

/** A pool document projection: every event O(log pool size), objects rendered when read. */
export function poolDocumentProjection(rules: PoolDocumentRules): DocumentProjection<PoolDocuments> {
  return {
    name: rules.name,
    version: rules.version,
    handles: POOL_HANDLES,
    group: POOL_GROUP,
    initial: () => new PoolDocuments(rules, new PoolIndex()),
    restore: (json) => new PoolDocuments(rules, PoolIndex.restore(rules.name, json)),
    share: (sibling) => {
      if (!(sibling instanceof PoolDocuments)) throw new Error(`${rules.name}: can share only a pool index`);
      return new PoolDocuments(rules, sibling.index);
    },
    apply(docs, events: readonly LoggedEvent[]) {
      const state = docs.index;
      for (const { event: e } of events) {
        switch (e.type) {
          case 'PoolDefined':
          case 'PoolChanged':
            state.define(e.data.name, e.data.spec, e.data.metadata, e);
            break;
          case 'PoolRemoved':
            state.remove(e.data.name);
            break;
          case 'IPAllocated':
            state.allocate(e.data);
            break;
          case 'IPReleased':
            state.release(e.data);
            break;
          default:
            break; // not handled by pool projections
        }
      }
      return docs;
    },
  };
}
