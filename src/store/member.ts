// One append request waiting in the group-commit queue.
import type { EventEnvelope } from '../../events/envelope.js';
import { encodeMember, type RecordFormat } from '../../events/record-codec.js';

export interface AppendCondition {
  /** Fail if an event carrying any of these tags was written after `after`. */
  readonly tags: readonly string[];
  /** The revision up to which the writer's view was current. */
  readonly after: number;
}

export interface AppendResult {
  /** Revision of the commit that holds the events. */
  readonly revision: number;
  /** Position of the first event inside that commit (undefined when found as an earlier commit). */
  readonly position?: number;
  /** True when the events had already been committed by an earlier attempt: nothing new was written. */
  readonly duplicate: boolean;
}

export interface Member {
  readonly events: readonly EventEnvelope[];
  readonly condition: AppendCondition | undefined;
  /** The record format its events are encoded in (events/record-codec.ts), and the encoding, made once. */
  readonly format: RecordFormat;
  readonly encoded: readonly string[];
  readonly bytes: number;
  /** tag -> id of the last event in this member carrying it. */
  readonly lastIdByTag: ReadonlyMap<string, string>;
  /**
   * Members whose condition does not cover their own tags guard against being appended twice with an implicit
   * condition on their first tag: not touched after `after` (the revision their id was made at, or later once
   * the store has checked that the events are not in the log).
   */
  guard: { readonly tag: string; after: number } | undefined;
  /** Record keys of earlier attempts whose outcome is unknown, with this member's position in each. */
  readonly priorAttempts: { key: string; position: number }[];
  /** Give up (StoreUnavailable) after this time, ms since epoch. */
  readonly deadline: number;
  /** Caller says these ids may already be committed (a retry): look harder before reporting a conflict. */
  readonly mayExist: boolean;
  /** Checked against the event schemas (or built by our deciders): its events may stand in for their decoded record. */
  readonly checked: boolean;
  /** Its guard keys under the store's tag layout, worked out once (txn-plan.ts, guardKeysOf). */
  keys: MemberKeys | undefined;
  resolve(r: AppendResult): void;
  reject(e: unknown): void;
}

/** A member's reads and writes as guard keys (store/tag-layout.ts): what its txn compares and puts. */
export interface MemberKeys {
  readonly layout: string;
  /** Each guard key its condition reads, with the precise condition tags it stands for. */
  readonly reads: readonly { readonly key: string; readonly tags: readonly string[]; readonly coarse: boolean }[];
  /** The guard key of `guard.tag`, when it has a guard. */
  readonly guardKey: string | undefined;
  /** Guard key -> id of this member's last event whose tags map to it. */
  readonly writes: ReadonlyMap<string, string>;
  /** Coarse guard key -> the precise tags this member writes to it. */
  readonly coarseWrites: ReadonlyMap<string, readonly string[]>;
}

export function makeMemberShape(events: readonly EventEnvelope[], condition: AppendCondition | undefined, idRevision: number, format: RecordFormat) {
  const { encoded, bytes } = encodeMember(events, format);
  const lastIdByTag = new Map<string, string>();
  for (const e of events) for (const t of e.tags) lastIdByTag.set(t, e.id);
  const first = events[0]!;
  const guarded = condition !== undefined && sharesTag(first.tags, condition.tags);
  const guard = guarded ? undefined : { tag: first.tags[0]!, after: idRevision };
  return { format, encoded, lastIdByTag, guard, bytes };
}

/** Some tag of `a` is in `b`: a scan for the usual few (an allocation's 3 and 4), a Set past that. */
function sharesTag(a: readonly string[], b: readonly string[]): boolean {
  if (a.length * b.length > 64) {
    const own = new Set(a);
    return b.some((t) => own.has(t));
  }
  for (const t of b) for (const x of a) if (x === t) return true;
  return false;
}
