// Group commit: concurrent appends are coalesced into one etcd txn; when a txn fails, its failure branch tells
// which members conflicted, and only the innocent ones are sent again.
import type { Etcd3 } from 'etcd3';
import type { EventEnvelope } from '../../events/envelope.js';
import { FastTxn } from './fast-txn.js';
import { recordValue } from '../../events/record-codec.js';
import { CompareResult, CompareTarget, type WireCompare, type WireOp, type WireTxn, type WireTxnResponse } from './proto.js';
import { AppendConditionFailed, AppendRejected, HORIZON_FENCE, StoreUnavailable, isEtcdNoSpace, type EtcdNoSpace } from './errors.js';
import type { KeyLayout } from './keys.js';
import type { AppendResult, Member } from './member.js';
import { OwnGuardWrites } from './own-guards.js';
import { ADDRESS_LAYOUT, type ResolvedLayout, type TagLayout } from './tag-layout.js';
import { DEFAULT_LIMITS, OversizedMember, guardKeysOf, planTxn, type GuardView, type TxnLimits, type TxnPlan } from './txn-plan.js';

/** A record's hint must be within this many revisions of the previous commit (readers rely on it; never change). */
export const REORDER_WINDOW = 10_000;

export interface CommitStats {
  txns: number;
  txnFailures: number;
  committedEvents: number;
  conflicts: number;
  resends: number;
  duplicates: number;
  /** Members per committed txn, the latest BATCH_SIZES_KEPT only (a long-running daemon must not grow it). */
  batchSizes: number[];
  /** Most txns in flight at once so far. */
  peakInflight: number;
}

const BATCH_SIZES_KEPT = 65_536;

/** At most this many members in flight and queued count as light load (see lightLoadExtraInflight). */
export const LIGHT_LOAD_MEMBERS = 16;

export interface CommitterOptions {
  readonly limits?: TxnLimits;
  /** Txns in flight at once. */
  readonly maxInflight?: number;
  /**
   * More txns (default 3) that may fly while the load is light (members in flight and queued <= LIGHT_LOAD_MEMBERS):
   * a member then goes out at once instead of waiting for a slot (latency at a low arrival rate), while under load
   * the queue holds more and only `maxInflight` full txns fly (throughput).
   */
  readonly lightLoadExtraInflight?: number;
  /**
   * A txn with room left for more members (a partial one) goes only while fewer than this many txns are in flight, or
   * while the load is light (default 1). Under load, queued members then wait for a full txn instead of a freed slot
   * being refilled at once, half empty, with whatever is queued before the members the txn just answered have decided
   * again: etcd's and the client's per-txn costs are spread over ~118 allocations instead of ~56 (bench/README.md).
   * Full txns still fly up to `maxInflight` at once. `maxInflight` restores the old rule (every free slot filled).
   */
  readonly partialBelowInflight?: number;
  /** A member arriving while nothing is in flight or queued is sent at once, not at the end of the turn (default true). */
  readonly sendIdleAtOnce?: boolean;
  /** The log's tag layout, asked once before the first txn (EventStore.open usually has it already). */
  readonly resolveLayout?: (again: boolean) => Promise<ResolvedLayout>;
  /** Slow-path lookup of event ids in the log after `after` (for members marked mayExist). */
  readonly findCommitted?: (ids: readonly string[], after: number) => Promise<number | undefined>;
}

/** Bound on the samples of a CommitTrace (each list). */
export const COMMIT_TRACE_SAMPLES = 1_000_000;

/** Where the members' time went, per member, while a trace is on (benchmarks: where an open loop's p99 goes). */
export interface CommitTrace {
  /** From submit to its txn being sent: the group-commit window and waiting for a slot (ms). */
  readonly waitMs: number[];
  /** From its txn being sent to the txn settled (etcd's answer, the members resolved) (ms). */
  readonly txnMs: number[];
}

interface KeyState {
  readonly exists: boolean;
  readonly mod: number;
  readonly value: string;
}

export class Committer {
  private readonly queue: Member[] = [];
  private inflight = 0;
  private inflightMembers = 0;
  private readonly lightLoadExtra: number;
  private readonly partialBelow: number;
  /** Members the latest full txn held: the queue holds a full txn's worth once it has this many (none seen yet: never). */
  private fullTxnMembers = Number.POSITIVE_INFINITY;
  private readonly sendIdleAtOnce: boolean;
  private pumpScheduled = false;
  private seq = 0;
  private readonly limits: TxnLimits;
  private readonly maxInflight: number;
  readonly stats: CommitStats = { txns: 0, txnFailures: 0, committedEvents: 0, conflicts: 0, resends: 0, duplicates: 0, batchSizes: [], peakInflight: 0 };
  /**
   * Told of the record each txn is about to write, with its events in record order, and of the txns whose compares
   * failed (nothing written): own-record reuse (own-records.ts). Only records whose members were all checked.
   */
  onRecord: { sending(key: string, events: readonly EventEnvelope[]): void; failed(key: string): void } | undefined;
  /** Told of every committed txn (metrics). */
  onCommitted: ((members: number, events: number, ms: number) => void) | undefined;
  /** Highest revision seen in any response; the hint of the next record. */
  seenRevision = 0;
  /** etcd's last answer to a txn was NOSPACE (cleared by the next commit): readiness and the doors name it. */
  noSpace: EtcdNoSpace | undefined;
  private readonly wire: FastTxn;
  /** While set, each member's wait and txn time are recorded (queuedAt: members submitted but not sent yet). */
  private trace: { readonly out: CommitTrace; readonly queuedAt: Map<Member, number> } | undefined;
  /** Which key guards each tag (store/tag-layout.ts); the store sets the log's layout before the first append. */
  private layout: TagLayout = ADDRESS_LAYOUT;
  private layoutKnown: boolean;
  private layoutPending = false;
  /** 'address' on a log that was empty: txns also compare that no store recorded a layout since (tag-layout.ts). */
  private provisional = false;
  private readonly own = new OwnGuardWrites();
  private readonly guards: GuardView;

  constructor(
    client: Etcd3,
    private readonly keys: KeyLayout,
    private readonly writer: string,
    private readonly opts: CommitterOptions = {},
  ) {
    this.limits = opts.limits ?? DEFAULT_LIMITS;
    // Each set from an environment variable in bench alloc and `ipam serve`: a value below these would never send.
    this.maxInflight = countOption('maxInflight (IPAM_MAX_INFLIGHT)', opts.maxInflight ?? 3, 1);
    this.lightLoadExtra = countOption('lightLoadExtraInflight (IPAM_LIGHT_EXTRA_INFLIGHT)', opts.lightLoadExtraInflight ?? 3, 0);
    this.partialBelow = countOption('partialBelowInflight (IPAM_PARTIAL_INFLIGHT)', opts.partialBelowInflight ?? 1, 1);
    this.sendIdleAtOnce = opts.sendIdleAtOnce ?? true;
    this.wire = new FastTxn(client);
    this.layoutKnown = opts.resolveLayout === undefined;
    const own = this.own;
    const self = this;
    this.guards = {
      get layout() {
        return self.layout;
      },
      busy: (key) => own.busy(key),
      bound: (key, tags, after) => own.bound(key, tags, after),
      get extraCompares() {
        return self.provisional ? 1 : 0;
      },
    };
  }

  /** The log's tag layout (EventStore.open resolves it); set before anything is appended. */
  useLayout(l: ResolvedLayout): void {
    this.layout = l.layout;
    this.provisional = l.provisional;
    this.layoutKnown = true;
  }

  /** No txn goes out before the log's layout is known: a guess could compare other keys than every other writer. */
  private awaitLayout(again = false): void {
    if (this.layoutPending || !this.opts.resolveLayout) return;
    this.layoutKnown = false;
    this.layoutPending = true;
    this.opts.resolveLayout(again).then(
      () => {
        this.layoutPending = false;
        this.pump();
      },
      (err: unknown) => {
        this.layoutPending = false;
        const now = Date.now();
        for (const m of this.queue.filter((x) => now >= x.deadline)) {
          this.queue.splice(this.queue.indexOf(m), 1);
          m.reject(new StoreUnavailable(`could not read the log's tag layout: ${describe(err)}`, err));
        }
        setTimeout(() => this.pump(), 100).unref();
      },
    );
  }

  get tagLayout(): TagLayout {
    return this.layout;
  }

  get limitsInUse(): TxnLimits {
    return this.limits;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Queues members; several given together go out in the same txn where they fit. */
  /** Starts recording a CommitTrace (a fresh one), or stops (undefined); returns the one recorded. */
  traceCommits(on: boolean): CommitTrace | undefined {
    const was = this.trace?.out;
    this.trace = on ? { out: { waitMs: [], txnMs: [] }, queuedAt: new Map() } : undefined;
    return on ? this.trace!.out : was;
  }

  submit(...members: Member[]): void {
    const idle = this.inflight === 0 && this.queue.length === 0;
    this.queue.push(...members);
    if (this.trace) {
      const now = performance.now();
      for (const m of members) this.trace.queuedAt.set(m, now);
    }
    // Nothing in flight or waiting: nothing to batch with, so send at once (the first request after a quiet spell does
    // not wait for the end of the event-loop turn, which a busy loop makes long).
    if (idle && this.sendIdleAtOnce) {
      this.pump();
      return;
    }
    // Otherwise send at the end of this event-loop turn, not at once: appends from requests that arrived together (an
    // HTTP server reads many per turn) then share one txn instead of taking a free slot each.
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      setImmediate(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Submits a member again after a failure, first in line. */
  private requeue(m: Member): void {
    this.stats.resends++;
    this.queue.unshift(m);
  }

  /** A slot for another txn: one of maxInflight, or one of the extra ones while the load is light. */
  private slotFree(): boolean {
    if (this.inflight < this.maxInflight) return this.inflight < this.partialBelow || this.queue.length >= this.fullTxnMembers || this.light();
    return this.inflight < this.maxInflight + this.lightLoadExtra && this.light();
  }

  private light(): boolean {
    return this.inflightMembers + this.queue.length <= LIGHT_LOAD_MEMBERS;
  }

  private pump(): void {
    if (!this.layoutKnown) {
      if (this.queue.length > 0) this.awaitLayout();
      return;
    }
    while (this.queue.length > 0 && this.slotFree()) {
      let plan: TxnPlan;
      try {
        plan = planTxn(this.queue, this.limits, this.guards);
      } catch (e) {
        if (e instanceof OversizedMember) {
          const m = (e as OversizedMember & { member: Member }).member;
          m.reject(new AppendRejected(`${m.events.length} events (${m.bytes} bytes) do not fit one txn within ${this.limits.maxOps} ops / ${this.limits.maxBytes} bytes`));
          continue;
        }
        throw e;
      }
      if (plan.members.length === 0) break;
      if (plan.full) this.fullTxnMembers = plan.members.length;
      this.inflight++;
      const members = plan.members.length;
      this.inflightMembers += members;
      if (this.inflight > this.stats.peakInflight) this.stats.peakInflight = this.inflight;
      const trace = this.trace;
      const sentAt = trace ? performance.now() : 0;
      if (trace) {
        for (const m of plan.members) {
          const q = trace.queuedAt.get(m);
          trace.queuedAt.delete(m);
          if (q !== undefined && trace.out.waitMs.length < COMMIT_TRACE_SAMPLES) trace.out.waitMs.push(sentAt - q);
        }
      }
      void this.send(plan).finally(() => {
        this.inflight--;
        this.inflightMembers -= members;
        if (trace && trace.out.txnMs.length < COMMIT_TRACE_SAMPLES) {
          const ms = performance.now() - sentAt;
          for (let i = 0; i < members; i++) trace.out.txnMs.push(ms);
        }
        this.pump();
      });
    }
  }

  private async send(plan: TxnPlan): Promise<void> {
    const hint = this.seenRevision;
    const recordKey = this.keys.record(hint, this.writer, this.seq++);
    const req = this.buildTxn(plan, recordKey, hint);
    let res: WireTxnResponse;
    const sentAt = performance.now();
    const coarse = plan.coarseWrites.keys();
    this.own.begin(coarse);
    try {
      res = await this.wire.txn(req);
    } catch (err) {
      this.own.end(plan.coarseWrites.keys());
      if (isEtcdNoSpace(err)) await this.onNoSpace(plan, err, recordKey);
      else this.onAmbiguous(plan, recordKey, err);
      return;
    }
    this.own.end(plan.coarseWrites.keys());
    if (res.succeeded && plan.coarseWrites.size > 0) this.own.committed(plan.coarseWrites, plan.modCompares, res.revision);
    this.seen(res.revision);
    this.stats.txns++;
    if (res.succeeded) {
      this.noSpace = undefined;
      this.provisional = false; // the log has a head now: no layout can be recorded on it any more
      const rev = res.revision;
      let events = 0;
      plan.members.forEach((m, i) => {
        events += m.events.length;
        m.resolve({ revision: rev, position: plan.positions[i]!, duplicate: false });
      });
      this.stats.committedEvents += events;
      if (this.stats.batchSizes.push(plan.members.length) > BATCH_SIZES_KEPT) this.stats.batchSizes.splice(0, BATCH_SIZES_KEPT / 2);
      this.onCommitted?.(plan.members.length, events, performance.now() - sentAt);
      return;
    }
    this.stats.txnFailures++;
    let seen: WireTxnResponse;
    try {
      seen = await this.readCompared(plan, recordKey);
    } catch (err) {
      // Nothing was written by the failed txn; the members may simply try again.
      this.onAmbiguous(plan, recordKey, err);
      return;
    }
    this.seen(seen.revision);
    await this.onFailed(plan, recordKey, seen);
  }

  private buildTxn(plan: TxnPlan, recordKey: string, hint: number): WireTxn {
    const compare: WireCompare[] = [];
    const recordBuf = Buffer.from(recordKey);
    const notExists = (key: Buffer): WireCompare => ({ key, target: CompareTarget.Version, result: CompareResult.Equal, number: 0 });
    const modBelow = (key: Buffer, n: number): WireCompare => ({ key, target: CompareTarget.Mod, result: CompareResult.Less, number: n });
    compare.push(notExists(recordBuf));
    compare.push(modBelow(Buffer.from(this.keys.head), hint + REORDER_WINDOW));
    // Guard keys (store/tag-layout.ts) are mostly both compared and written: build each key once.
    const keyOf = new Map<string, Buffer>();
    const tagKey = (tag: string) => {
      let b = keyOf.get(tag);
      if (!b) keyOf.set(tag, (b = Buffer.from(this.keys.tag(tag))));
      return b;
    };
    for (const [tag, after] of plan.modCompares) compare.push(modBelow(tagKey(tag), after + 1));
    for (const k of plan.absent) compare.push(notExists(Buffer.from(k)));
    if (plan.fence !== undefined) compare.push(modBelow(Buffer.from(this.keys.horizon), plan.fence + 1));
    if (this.provisional) compare.push(notExists(Buffer.from(this.keys.tagLayout)));
    const success: WireOp[] = [
      { put: { key: recordBuf, value: recordValue(plan.members) } },
      { put: { key: Buffer.from(this.keys.head), value: Buffer.from(recordKey.slice(this.keys.logPrefix.length)) } },
    ];
    for (const [tag, id] of plan.writes) success.push({ put: { key: tagKey(tag), value: Buffer.from(id) } });
    // Registered before sending: the watch may show the record before the answer to this txn has been processed.
    if (this.onRecord && plan.members.every((m) => m.checked)) this.onRecord.sending(recordKey, recordEvents(plan.members));
    return { compare, success };
  }

  /**
   * Reads back every key the failed txn compared, in one read-only txn. Reading after the failure (rather than in
   * its failure branch, which would double every txn's size) can only show fresher values: a condition that held
   * then but not now is reported as the conflict it now is.
   */
  private readCompared(plan: TxnPlan, recordKey: string): Promise<WireTxnResponse> {
    const keys = [recordKey, this.keys.head, ...[...plan.modCompares.keys()].map((t) => this.keys.tag(t)), ...plan.absent];
    if (plan.fence !== undefined) keys.push(this.keys.horizon);
    if (this.provisional) keys.push(this.keys.tagLayout);
    return this.wire.txn({ compare: [], success: keys.map((k) => ({ range: { key: Buffer.from(k) } })) });
  }

  /** The txn failed: read back what the failure branch saw and settle each member. */
  private async onFailed(plan: TxnPlan, recordKey: string, res: WireTxnResponse): Promise<void> {
    this.onRecord?.failed(recordKey);
    const state = new Map<string, KeyState>();
    for (const kvs of res.ranges) {
      const kv = kvs[0];
      if (kv) state.set(kv.key.toString(), { exists: true, mod: kv.modRevision, value: kv.value.toString() });
    }
    const get = (key: string): KeyState => state.get(key) ?? { exists: false, mod: 0, value: '' };

    // Our own earlier send of this very txn committed (etcd3 resent it after a timeout): every member is in.
    const own = get(recordKey);
    if (own.exists) {
      plan.members.forEach((m, i) => this.settleDuplicate(m, own.mod, plan.positions[i]));
      return;
    }
    if (this.provisional && get(this.keys.tagLayout).exists) {
      // Another store recorded a layout on the log we took for an empty 'address' one: we wrote nothing, so every
      // member simply goes again under the recorded layout.
      this.stats.resends += plan.members.length;
      this.queue.unshift(...plan.members);
      this.awaitLayout(true);
      return;
    }
    const innocent: Member[] = [];
    for (const m of plan.members) {
      const prior = m.priorAttempts.find((a) => get(a.key).exists);
      if (prior) {
        this.settleDuplicate(m, get(prior.key).mod, prior.position);
        continue;
      }
      const k = guardKeysOf(m, this.layout);
      // A guard key still naming one of this member's events means those events are already in the log.
      let found: number | undefined;
      for (const [key, id] of k.writes) {
        const s = state.get(this.keys.tag(key));
        if (s && s.value === id) found = s.mod;
      }
      const conflicts: string[] = [];
      let newest = 0;
      if (m.condition) {
        const after = m.condition.after;
        for (const r of k.reads) {
          const s = get(this.keys.tag(r.key));
          // Judged against the bound this member may use (a block our own txns alone wrote since its view passes).
          if (s.mod > (r.coarse ? this.own.bound(r.key, r.tags, after) : after)) {
            conflicts.push(...r.tags);
            newest = Math.max(newest, s.mod);
          }
        }
      }
      if (found !== undefined) {
        this.settleDuplicate(m, found, undefined);
        continue;
      }
      if (conflicts.length > 0) {
        if (m.mayExist && m.condition) {
          const rev = await this.lookup(m, m.condition.after);
          if (rev === 'unknown') {
            m.reject(new StoreUnavailable('could not look up whether the events were already appended'));
            continue;
          }
          if (rev !== undefined) {
            this.settleDuplicate(m, rev, undefined);
            continue;
          }
        }
        this.stats.conflicts++;
        m.reject(new AppendConditionFailed(conflicts, m.condition!.after, newest));
        continue;
      }
      // The horizon moved after this member's view: tags it relied on may have been deleted since. Re-decide from a
      // view at least as fresh as the move (which has seen every event before the horizon).
      const horizon = get(this.keys.horizon);
      if (m.condition && horizon.mod > m.condition.after) {
        this.stats.conflicts++;
        m.reject(new AppendConditionFailed([HORIZON_FENCE], m.condition.after, horizon.mod));
        continue;
      }
      if (m.guard) {
        const s = get(this.keys.tag(k.guardKey!));
        if (s.mod > m.guard.after) {
          // Someone touched the guard tag since the id was made: look for the events before writing them again.
          const rev = await this.lookup(m, m.guard.after);
          if (typeof rev === 'number') {
            this.settleDuplicate(m, rev, undefined);
            continue;
          }
          if (rev === undefined) m.guard.after = s.mod;
        }
      }
      // Innocent: it failed only because of another member, or a stale hint (seenRevision is fresh now).
      innocent.push(m);
    }
    this.stats.resends += innocent.length;
    this.queue.unshift(...innocent);
  }

  /** Searches the log for the member's events; 'unknown' when the search itself failed. */
  private async lookup(m: Member, after: number): Promise<number | undefined | 'unknown'> {
    if (!this.opts.findCommitted) return undefined;
    try {
      return await this.opts.findCommitted(
        m.events.map((e) => e.id),
        after,
      );
    } catch {
      return 'unknown';
    }
  }

  private settleDuplicate(m: Member, revision: number, position: number | undefined): void {
    this.stats.duplicates++;
    const r: AppendResult = position === undefined ? { revision, duplicate: true } : { revision, position, duplicate: true };
    m.resolve(r);
  }

  /**
   * etcd answered NOSPACE: each member fails at once with EtcdNoSpace (no retries into a full etcd) unless this txn or
   * an earlier, ambiguous attempt of it did commit (reads still work). etcd applies the txn that crosses the quota and
   * answers it NOSPACE all the same (its quotaApplierV3 checks after applying), so this attempt's own record is read too.
   */
  private async onNoSpace(plan: TxnPlan, err: EtcdNoSpace, recordKey: string): Promise<void> {
    this.noSpace = err;
    this.stats.txnFailures++;
    const keys = [...new Set([recordKey, ...plan.members.flatMap((m) => m.priorAttempts.map((a) => a.key))])];
    const committed = new Map<string, number>();
    try {
      const res = await this.wire.txn({ compare: [], success: keys.map((k) => ({ range: { key: Buffer.from(k) } })) });
      for (const kvs of res.ranges) if (kvs[0]) committed.set(kvs[0].key.toString(), kvs[0].modRevision);
    } catch (e) {
      const unknown = new StoreUnavailable(`etcd is out of space, and whether this request committed is unknown: ${describe(e)}`, e);
      for (const m of plan.members) m.reject(unknown);
      return;
    }
    const own = committed.get(recordKey);
    if (own !== undefined) {
      // The txn crossed the quota and was applied: its members committed as this attempt.
      plan.members.forEach((m, i) => m.resolve({ revision: own, position: plan.positions[i]!, duplicate: false }));
      this.stats.committedEvents += plan.members.reduce((n, m) => n + m.events.length, 0);
      return;
    }
    for (const m of plan.members) {
      const prior = m.priorAttempts.find((a) => committed.has(a.key));
      if (prior) this.settleDuplicate(m, committed.get(prior.key)!, prior.position);
      else m.reject(err);
    }
  }

  /** The txn's outcome is unknown (timeout, connection lost): remember its key and try again until the deadline. */
  private onAmbiguous(plan: TxnPlan, recordKey: string, err: unknown): void {
    const now = Date.now();
    plan.members.forEach((m, i) => {
      m.priorAttempts.push({ key: recordKey, position: plan.positions[i]! });
      if (now >= m.deadline) {
        m.reject(new StoreUnavailable(describe(err), err));
      } else {
        setTimeout(() => {
          this.requeue(m);
          this.pump();
        }, 100).unref();
      }
    });
  }

  seen(rev: number): void {
    if (rev > this.seenRevision) this.seenRevision = rev;
  }
}

/** The members' events in record order (a loop: flatMap costs ~1 µs per member here). */
function recordEvents(members: readonly Member[]): readonly EventEnvelope[] {
  if (members.length === 1) return members[0]!.events;
  const out: EventEnvelope[] = [];
  for (const m of members) for (const e of m.events) out.push(e);
  return out;
}

function describe(err: unknown): string {
  return err instanceof Error ? `${err.constructor.name}: ${err.message}` : String(err);
}

/** A count option: an integer at least `min`, or a RangeError naming it. */
function countOption(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${value}`);
  return value;
}
