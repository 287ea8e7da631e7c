// Server-side apply's field ownership, a bounded subset of the API server's (structured-merge-diff): which manager
// owns which field of spec, metadata.labels and metadata.annotations. Maps are owned key by key; lists and scalars
// are atomic (the upstream CRDs mark no list as a set or map). Apply conflicts when another manager owns a field
// the applied configuration sets to a different value; force takes the field over. An Update (create, PUT,
// merge/JSON patch) gives its manager the fields it changed and takes them from the others. Pure functions.
import type { ManagedFieldsEntry, FieldsV1 } from '../../../events/catalogue.js';
import { isRecord, stableJson } from './meta.js';

export type { ManagedFieldsEntry, FieldsV1 };

/** At most this many Update managers are kept; older ones merge into "ancient-changes" (the API server's cap). */
export const MAX_UPDATE_MANAGERS = 10;
export const ANCIENT_CHANGES = 'ancient-changes';
/** Longest manager name (the API server truncates the user agent it falls back to at 128 characters). */
export const MAX_MANAGER_LENGTH = 128;

type Path = readonly string[];
const SEP = '\u0000';
const keyOf = (p: Path) => p.join(SEP);
const pathOf = (k: string): Path => k.split(SEP);

/** The owned leaves of an object: every scalar or list under spec, and every label and annotation. */
export function leaves(o: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const walk = (v: unknown, path: string[]) => {
    if (isRecord(v) && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else if (v !== undefined) out.set(keyOf(path), v);
  };
  if (!isRecord(o)) return out;
  if (o.spec !== undefined) walk(o.spec, ['spec']);
  const m = isRecord(o.metadata) ? o.metadata : {};
  for (const field of ['labels', 'annotations']) {
    const map = m[field];
    if (isRecord(map)) for (const [k, x] of Object.entries(map)) out.set(keyOf(['metadata', field, k]), x);
  }
  return out;
}

export function toFieldsV1(keys: Iterable<string>): FieldsV1 {
  const root: Record<string, FieldsV1> = {};
  for (const k of keys) {
    let cur = root;
    for (const seg of pathOf(k)) cur = (cur[`f:${seg}`] ??= {}) as Record<string, FieldsV1>;
  }
  return root;
}

export function fromFieldsV1(f: FieldsV1 | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: FieldsV1, path: string[]) => {
    const kids = Object.entries(node).filter(([k]) => k.startsWith('f:'));
    if (kids.length === 0 && path.length > 0) out.add(keyOf(path));
    for (const [k, v] of kids) walk(v, [...path, k.slice(2)]);
  };
  if (f) walk(f, []);
  return out;
}

/** `.spec.ips`, `.metadata.labels.team`: how the API server names a field in a conflict. */
export const fieldName = (k: string) => `.${pathOf(k).join('.')}`;

export interface Conflict {
  readonly manager: string;
  readonly apiVersion: string;
  readonly field: string;
}

export class ApplyConflict extends Error {
  constructor(readonly conflicts: readonly Conflict[]) {
    super(conflictMessage(conflicts));
  }
}

/** The API server's wording: "Apply failed with 1 conflict: conflict with "m" using g/v: .spec.x". */
function conflictMessage(cs: readonly Conflict[]): string {
  const n = cs.length;
  if (n === 1) return `Apply failed with 1 conflict: conflict with "${cs[0]!.manager}" using ${cs[0]!.apiVersion}: ${cs[0]!.field}`;
  const byManager = new Map<string, Conflict[]>();
  for (const c of cs) byManager.set(`${c.manager}\u0000${c.apiVersion}`, [...(byManager.get(`${c.manager}\u0000${c.apiVersion}`) ?? []), c]);
  const parts = [...byManager.values()].map((g) => `conflicts with "${g[0]!.manager}" using ${g[0]!.apiVersion}:\n${g.map((c) => `- ${c.field}`).join('\n')}`);
  return `Apply failed with ${n} conflicts: ${parts.join('\n')}`;
}

const entryKeys = (e: ManagedFieldsEntry) => fromFieldsV1(e.fieldsV1);

function entry(manager: string, operation: 'Apply' | 'Update', apiVersion: string, time: string, keys: Set<string>): ManagedFieldsEntry {
  return { manager, operation, apiVersion, time, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1([...keys].sort()) };
}

function without(entries: readonly ManagedFieldsEntry[], taken: ReadonlySet<string>, except: (e: ManagedFieldsEntry) => boolean): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (except(e)) {
      out.push(e);
      continue;
    }
    const keys = entryKeys(e);
    let changed = false;
    for (const k of taken) if (keys.delete(k)) changed = true;
    if (keys.size === 0) continue;
    out.push(changed ? entry(e.manager, e.operation, e.apiVersion, e.time, keys) : e);
  }
  return out;
}

/** Keeps at most MAX_UPDATE_MANAGERS Update entries: the oldest merge into "ancient-changes". */
function capped(entries: ManagedFieldsEntry[]): ManagedFieldsEntry[] {
  const updates = entries.filter((e) => e.operation === 'Update' && e.manager !== ANCIENT_CHANGES);
  if (updates.length <= MAX_UPDATE_MANAGERS) return entries;
  const oldest = [...updates].sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0)).slice(0, updates.length - MAX_UPDATE_MANAGERS + 1);
  const ancient = entries.find((e) => e.manager === ANCIENT_CHANGES);
  const keys = new Set<string>(ancient ? entryKeys(ancient) : []);
  for (const e of oldest) for (const k of entryKeys(e)) keys.add(k);
  const rest = entries.filter((e) => !oldest.includes(e) && e !== ancient);
  return [...rest, entry(ANCIENT_CHANGES, 'Update', oldest[0]!.apiVersion, oldest.at(-1)!.time, keys)];
}

/** After an Update by `manager`: it owns what changed; the others lose it; fields gone are owned by nobody. */
export function recordUpdate(entries: readonly ManagedFieldsEntry[], manager: string, apiVersion: string, time: string, before: unknown, after: unknown): ManagedFieldsEntry[] {
  const was = leaves(before);
  const now = leaves(after);
  const changed = new Set<string>();
  for (const [k, v] of now) if (!was.has(k) || stableJson(was.get(k)) !== stableJson(v)) changed.add(k);
  const gone = new Set([...was.keys()].filter((k) => !now.has(k)));
  const all = new Set([...changed, ...gone]);
  if (all.size === 0) return [...entries]; // nothing changed: nobody's ownership (nor its time) moves
  const mine = entries.find((e) => e.manager === manager && e.operation === 'Update');
  const keys = new Set<string>(mine ? entryKeys(mine) : []);
  for (const k of gone) keys.delete(k);
  for (const k of changed) keys.add(k);
  const others = without(entries, all, (e) => e === mine).filter((e) => e !== mine);
  return capped(keys.size > 0 ? [...others, entry(manager, 'Update', apiVersion, time, keys)] : others);
}

function setAt(o: Record<string, unknown>, path: Path, v: unknown): void {
  let cur = o;
  for (const seg of path.slice(0, -1)) {
    if (!isRecord(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[path.at(-1)!] = structuredClone(v);
}

function deleteAt(o: Record<string, unknown>, path: Path): void {
  const stack: Record<string, unknown>[] = [];
  let cur: unknown = o;
  for (const seg of path.slice(0, -1)) {
    if (!isRecord(cur)) return;
    stack.push(cur);
    cur = cur[seg];
  }
  if (!isRecord(cur)) return;
  delete cur[path.at(-1)!];
  // Maps emptied by the removal go too (an applier that stops setting the last label leaves no `labels: {}`).
  for (let i = path.length - 2; i >= 1; i--) {
    const parent = stack[i]!;
    const child = parent[path[i]!];
    if (isRecord(child) && Object.keys(child).length === 0) delete parent[path[i]!];
    else break;
  }
}

export interface Applied {
  /** The object after the apply (live merged with the applied configuration). */
  readonly object: Record<string, unknown>;
  readonly managedFields: ManagedFieldsEntry[];
}

/**
 * Server-side apply of `config` by `manager` onto `live` (undefined: create). Conflicts with other managers' fields
 * whose value would change throw ApplyConflict unless `force`; fields this manager applied before and no longer
 * applies are removed unless another manager owns them too.
 */
export function serverSideApply(o: {
  live: Record<string, unknown> | undefined;
  config: Record<string, unknown>;
  entries: readonly ManagedFieldsEntry[];
  manager: string;
  apiVersion: string;
  time: string;
  force: boolean;
}): Applied {
  const applied = leaves(o.config);
  const live = o.live ? leaves(o.live) : new Map<string, unknown>();
  const conflicts: Conflict[] = [];
  const conflictKeys = new Set<string>();
  const mine = o.entries.find((e) => e.manager === o.manager && e.operation === 'Apply');
  for (const e of o.entries) {
    if (e === mine) continue;
    for (const k of entryKeys(e)) {
      if (applied.has(k) && live.has(k) && stableJson(live.get(k)) !== stableJson(applied.get(k))) {
        conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, field: fieldName(k) });
        conflictKeys.add(k);
      }
    }
  }
  if (conflicts.length > 0 && !o.force) throw new ApplyConflict(conflicts);
  const cm = isRecord(o.config.metadata) ? o.config.metadata : {};
  const identity = { ...(cm.name !== undefined ? { name: cm.name } : {}), ...(cm.namespace !== undefined ? { namespace: cm.namespace } : {}) };
  const object: Record<string, unknown> = structuredClone(o.live ?? { apiVersion: o.config.apiVersion, kind: o.config.kind, metadata: identity });
  // Fields this manager applied before and drops now: removed, unless someone else owns them as well.
  const ownedByOthers = new Set<string>();
  for (const e of o.entries) if (e !== mine) for (const k of entryKeys(e)) ownedByOthers.add(k);
  for (const k of mine ? entryKeys(mine) : []) if (!applied.has(k) && !ownedByOthers.has(k)) deleteAt(object, pathOf(k));
  for (const [k, v] of applied) {
    // A list or scalar replaces whatever was there, a map that was a scalar included.
    setAt(object, pathOf(k), v);
  }
  // Force (or an equal value) leaves the field to this manager alone when it conflicted; equal values are shared.
  const others = without(o.entries, conflictKeys, (e) => e === mine).filter((e) => e !== mine);
  // The same fields applied again keep their entry (and its time): a no-op apply writes nothing, as in the API server.
  const keys = new Set(applied.keys());
  const mineKeys = mine ? entryKeys(mine) : undefined;
  const same = mine !== undefined && mine.apiVersion === o.apiVersion && mineKeys!.size === keys.size && [...keys].every((k) => mineKeys!.has(k));
  const managedFields = capped([...others, same ? mine : entry(o.manager, 'Apply', o.apiVersion, o.time, keys)]);
  return { object, managedFields };
}
