// Packs queued members into one etcd txn within etcd's limits, keeping the txn equivalent to running its
// members one after another: a member whose condition reads a tag that an earlier member of the same txn
// writes waits for the next txn (where it will see that write and fail honestly).
import type { Member } from './member.js';

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

export interface TxnPlan {
  readonly members: Member[];
  /** Condition tags -> the smallest `after` any member needs (mod_revision < after + 1). */
  readonly modCompares: Map<string, number>;
  /** Record keys of earlier attempts that must not exist. */
  readonly absent: string[];
  /** Tag -> id of the last event in the txn carrying it. */
  readonly writes: Map<string, string>;
  /**
   * Oldest view (condition.after) among conditioned members: the txn also compares mod_revision(horizon) < fence + 1,
   * so no decision taken on a view older than the last horizon move (before which tag keys may be deleted) lands.
   */
  fence: number | undefined;
  /** Each member's first position in the record. */
  readonly positions: number[];
  readonly bytes: number;
}

export class OversizedMember extends Error {}

/**
 * Takes members from the front of `queue` (removing them) into a plan. Members that conflict with one already
 * in the plan, or do not fit, stay queued in order. Throws OversizedMember (with the member removed) when the
 * first member cannot fit even alone.
 */
export function planTxn(queue: Member[], limits: TxnLimits): TxnPlan {
  const plan: TxnPlan = {
    members: [],
    modCompares: new Map(),
    absent: [],
    writes: new Map(),
    fence: undefined,
    positions: [],
    bytes: 2,
  };
  const first = queue[0];
  if (first && !fits(plan, first, new Set(), limits)) {
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
    if (!fits(plan, m, ids, limits)) {
      skipped.push(m);
      // Full (no room for another member's writes or compares): stop scanning; the rest keep their place.
      if (plan.writes.size + FIXED_PUTS >= limits.maxOps - 2 || comparesOf(plan) >= limits.maxOps - 2) {
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
    if (m.condition) {
      for (const t of m.condition.tags) compareAfter(plan, t, m.condition.after);
      if (plan.fence === undefined || m.condition.after < plan.fence) plan.fence = m.condition.after;
    }
    if (m.guard) compareAfter(plan, m.guard.tag, m.guard.after);
    for (const a of m.priorAttempts) plan.absent.push(a.key);
    for (const [t, id] of m.lastIdByTag) plan.writes.set(t, id);
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

function fits(plan: TxnPlan, m: Member, ids: Set<string>, limits: TxnLimits): boolean {
  for (const e of m.events) if (ids.has(e.id)) return false;
  if (m.condition) for (const t of m.condition.tags) if (plan.writes.has(t)) return false;
  if (m.guard && plan.writes.has(m.guard.tag)) return false;
  if (plan.bytes + m.bytes > limits.maxBytes) return false;
  let newWrites = 0;
  for (const t of m.lastIdByTag.keys()) if (!plan.writes.has(t)) newWrites++;
  if (plan.writes.size + newWrites + FIXED_PUTS > limits.maxOps) return false;
  let newCompares = m.priorAttempts.length;
  if (m.condition) for (const t of m.condition.tags) if (!plan.modCompares.has(t)) newCompares++;
  if (m.guard && !plan.modCompares.has(m.guard.tag)) newCompares++;
  if (m.condition && plan.fence === undefined) newCompares++;
  const compares = comparesOf(plan);
  // Failure branch reads one key per distinct compared key, which is never more than the compares.
  return compares + newCompares <= limits.maxOps;
}
