// Packs queued members into one etcd txn within etcd's limits, keeping the txn equivalent to running its
// members one after another: a member whose condition reads a tag that an earlier member of the same txn
// writes waits for the next txn (where it will see that write and fail honestly). That rule is judged on precise
// tags; compares and puts are on guard keys (store/tag-layout.ts): a block key several members read is compared
// once with the smallest bound, and put once with the id of the txn's last event mapping to it. Since a txn's
// compares all happen before its puts, that is still sequential equivalence.
import type { Member, MemberKeys } from './member.js';
import type { TagLayout } from './tag-layout.js';

export interface TxnLimits {
  /** etcd --max-txn-ops: bound on compares, success ops and failure ops, each. */
  readonly maxOps: number;
  /** Bound on the record's size in bytes (etcd's default request limit is 1.5 MiB). */
  readonly maxBytes: number;
}

export const DEFAULT_LIMITS: TxnLimits = { maxOps: 128, maxBytes: 1024 * 1024 };

/** Fixed cost of every txn: compares on head and the record key; puts of the record and head. */
const FIXED_COMPARES = 2;
const FIXED_PUTS = 2;

/** What the planner asks of the committer about guard keys. */
export interface GuardView {
  readonly layout: TagLayout;
  /** A txn of this writer in flight writes this coarse key: members reading it wait for it. */
  busy(key: string): boolean;
  /** The bound a member with view `after` reading precise `tags` may compare coarse `key` with (own-guards.ts). */
  bound(key: string, tags: readonly string[], after: number): number;
  /** Compares the committer adds to every txn beyond the fixed ones (the provisional layout check). */
  readonly extraCompares: number;
}

export interface TxnPlan {
  readonly members: Member[];
  /** Guard keys -> the smallest bound any member needs (mod_revision < bound + 1). */
  readonly modCompares: Map<string, number>;
  /** Record keys of earlier attempts that must not exist. */
  readonly absent: string[];
  /** Guard key -> id of the last event in the txn whose tags map to it. */
  readonly writes: Map<string, string>;
  /** Precise tags the txn writes (the in-txn conflict rule). */
  readonly written: Set<string>;
  /** Coarse guard key -> the precise tags the txn writes to it. */
  readonly coarseWrites: Map<string, string[]>;
  /**
   * Oldest view (condition.after) among conditioned members: the txn also compares mod_revision(horizon) < fence + 1,
   * so no decision taken on a view older than the last horizon move (before which tag keys may be deleted) lands.
   */
  fence: number | undefined;
  /** Each member's first position in the record. */
  readonly positions: number[];
  readonly bytes: number;
  /** The planner stopped because the txn had no room for another member (not because the queue ran out). */
  full: boolean;
}

export class OversizedMember extends Error {}

/**
 * Takes members from the front of `queue` (removing them) into a plan. Members that conflict with one already
 * in the plan, or do not fit, stay queued in order. Throws OversizedMember (with the member removed) when the
 * first member cannot fit even alone.
 */
export function planTxn(queue: Member[], limits: TxnLimits, g: GuardView): TxnPlan {
  const plan: TxnPlan = {
    members: [],
    modCompares: new Map(),
    absent: [],
    writes: new Map(),
    written: new Set(),
    coarseWrites: new Map(),
    fence: undefined,
    positions: [],
    bytes: 2,
    full: false,
  };
  const first = queue[0];
  if (first && !fitsAlone(plan, first, limits, g)) {
    queue.shift();
    throw Object.assign(new OversizedMember('too big for one txn'), { member: first });
  }
  const ids = new Set<string>();
  const skipped: Member[] = [];
  let events = 0;
  let scanned = 0;
  // Scan a bounded window of the queue; members that do not fit keep their place for the next txn.
  const window = Math.min(queue.length, limits.maxOps * 4);
  for (; scanned < window; scanned++) {
    const m = queue[scanned]!;
    if (!fits(plan, m, ids, limits, g)) {
      skipped.push(m);
      // Full (no room for another member's writes or compares): stop scanning; the rest keep their place.
      if (plan.writes.size + FIXED_PUTS >= limits.maxOps - 2 || comparesOf(plan) + g.extraCompares >= limits.maxOps - 2) {
        plan.full = true;
        scanned++;
        break;
      }
      continue;
    }
    plan.members.push(m);
    plan.positions.push(events);
    events += m.events.length;
    (plan as { bytes: number }).bytes += m.bytes;
    for (const e of m.events) ids.add(e.id);
    const k = m.keys!;
    if (m.condition) {
      const after = m.condition.after;
      for (const r of k.reads) compareAfter(plan, r.key, r.coarse ? g.bound(r.key, r.tags, after) : after);
      // The horizon fence takes the raw view: a raised bound never lets a view older than a horizon move through.
      if (plan.fence === undefined || after < plan.fence) plan.fence = after;
    }
    if (m.guard) compareAfter(plan, k.guardKey!, m.guard.after);
    for (const a of m.priorAttempts) plan.absent.push(a.key);
    for (const t of m.lastIdByTag.keys()) plan.written.add(t);
    for (const [key, id] of k.writes) plan.writes.set(key, id);
    for (const [key, tags] of k.coarseWrites) {
      const cur = plan.coarseWrites.get(key);
      if (cur) cur.push(...tags);
      else plan.coarseWrites.set(key, [...tags]);
    }
  }
  queue.splice(0, scanned, ...skipped);
  return plan;
}

function compareAfter(plan: TxnPlan, tag: string, after: number): void {
  const cur = plan.modCompares.get(tag);
  if (cur === undefined || after < cur) plan.modCompares.set(tag, after);
}

function comparesOf(plan: TxnPlan): number {
  return plan.modCompares.size + plan.absent.length + FIXED_COMPARES + (plan.fence === undefined ? 0 : 1);
}

const NO_COARSE_WRITES: ReadonlyMap<string, readonly string[]> = new Map();

/** The member's guard keys under the layout, worked out once per member (each distinct tag mapped once). */
export function guardKeysOf(m: Member, layout: TagLayout): MemberKeys {
  if (m.keys !== undefined && m.keys.layout === layout.name) return m.keys;
  const coarse = layout.name !== 'address';
  // Tags and their keys, mapped once each (an allocation's ip: tag is read, carried and written).
  const from: string[] = [];
  const to: string[] = [];
  const keyOf = (t: string): string => {
    if (!coarse) return t;
    for (let i = 0; i < from.length; i++) if (from[i] === t) return to[i]!;
    const k = layout.guardOf(t);
    from.push(t);
    to.push(k);
    return k;
  };
  const reads: { key: string; tags: string[]; coarse: boolean }[] = [];
  if (m.condition) {
    for (const t of m.condition.tags) {
      const key = keyOf(t);
      const r = key === t ? undefined : reads.find((x) => x.key === key);
      if (r) r.tags.push(t);
      else reads.push({ key, tags: [t], coarse: key !== t && layout.isCoarse(key) });
    }
  }
  let writes: ReadonlyMap<string, string> = m.lastIdByTag;
  let coarseWrites = NO_COARSE_WRITES;
  if (coarse) {
    const w = new Map<string, string>();
    for (const e of m.events) for (const t of e.tags) w.set(keyOf(t), e.id);
    const cw = new Map<string, string[]>();
    for (const t of m.lastIdByTag.keys()) {
      const key = keyOf(t);
      if (key === t || !layout.isCoarse(key)) continue;
      const x = cw.get(key);
      if (x) x.push(t);
      else cw.set(key, [t]);
    }
    writes = w;
    if (cw.size > 0) coarseWrites = cw;
  }
  const keys: MemberKeys = { layout: layout.name, reads, guardKey: m.guard ? keyOf(m.guard.tag) : undefined, writes, coarseWrites };
  m.keys = keys;
  return keys;
}

/** The first member must fit an empty txn by size alone (waiting on a busy block is not a reason to refuse it). */
function fitsAlone(plan: TxnPlan, m: Member, limits: TxnLimits, g: GuardView): boolean {
  return fits(plan, m, new Set(), limits, { layout: g.layout, busy: () => false, bound: (_k, _t, after) => after, extraCompares: g.extraCompares });
}

function fits(plan: TxnPlan, m: Member, ids: Set<string>, limits: TxnLimits, g: GuardView): boolean {
  for (const e of m.events) if (ids.has(e.id)) return false;
  if (m.condition) for (const t of m.condition.tags) if (plan.written.has(t)) return false;
  if (m.guard && plan.written.has(m.guard.tag)) return false;
  if (plan.bytes + m.bytes > limits.maxBytes) return false;
  const k = guardKeysOf(m, g.layout);
  for (const r of k.reads) if (r.coarse && g.busy(r.key)) return false;
  if (k.guardKey !== undefined && g.layout.isCoarse(k.guardKey) && g.busy(k.guardKey)) return false;
  let newWrites = 0;
  for (const key of k.writes.keys()) if (!plan.writes.has(key)) newWrites++;
  if (plan.writes.size + newWrites + FIXED_PUTS > limits.maxOps) return false;
  let newCompares = m.priorAttempts.length;
  for (const r of k.reads) if (!plan.modCompares.has(r.key)) newCompares++;
  if (k.guardKey !== undefined && !plan.modCompares.has(k.guardKey) && !k.reads.some((r) => r.key === k.guardKey)) newCompares++;
  if (m.condition && plan.fence === undefined) newCompares++;
  const compares = comparesOf(plan) + g.extraCompares;
  // Failure branch reads one key per distinct compared key, which is never more than the compares.
  return compares + newCompares <= limits.maxOps;
}
