// The event store: conditional, group-committed appends; ordered reads; live subscriptions. All keys under one prefix.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import type { EventEnvelope } from '../../events/envelope.js';
import type { LoggedEvent as StoredEvent } from '../../events/catalogue.js';
import { defaultCodec, type EventCodec } from '../../events/codec.js';
import { RECORD_FORMAT, type RecordFormat } from '../../events/record-codec.js';
import { Committer, REORDER_WINDOW, type CommitStats, type CommitTrace } from './committer.js';
import { AppendRejected, type EtcdNoSpace } from './errors.js';
import { KeyLayout } from './keys.js';
import { OwnRecords } from './own-records.js';
import { defaultTagLayout, resolveTagLayout, type ResolvedLayout, type TagLayout, type TagLayoutName } from './tag-layout.js';
import { makeMemberShape, type AppendCondition, type AppendResult, type Member } from './member.js';
import { currentRevision, readLog, type ReadOptions, type ReadPage } from './reader.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { DEFAULT_LIMITS, type TxnLimits } from './txn-plan.js';

export interface EventStoreOptions {
  /** Key prefix, default "/ipam/". */
  readonly prefix?: string;
  readonly codec?: EventCodec;
  readonly limits?: Partial<TxnLimits>;
  readonly maxInflight?: number;
  /** Extra txns in flight while the load is light (default 3; 0: never more than maxInflight). See Committer. */
  readonly lightLoadExtraInflight?: number;
  /** A txn with room left goes only while fewer than this many txns fly, or the load is light (default 1). See Committer. */
  readonly partialBelowInflight?: number;
  /** Send a member at once when nothing is in flight or queued (default true). See Committer. */
  readonly sendIdleAtOnce?: boolean;
  /** How long an append keeps retrying when etcd does not answer, ms (default 10 s). */
  readonly appendTimeoutMs?: number;
  /** Validate events with the codec before appending (default true). */
  readonly validate?: boolean;
  /** Record format to write (events/record-codec.ts; default the current one, 2). 1 only to test old logs. */
  readonly recordFormat?: RecordFormat;
  /**
   * Tag layout to create a new (empty) log with (store/tag-layout.ts; default IPAM_TAG_LAYOUT, else 'address'). A log
   * that already has one keeps it, whatever this says; the daemon and the CLI create logs with 'block'.
   */
  readonly tagLayout?: TagLayoutName;
}

export interface AppendOptions {
  /** These ids may already be committed (the caller is retrying): look them up before reporting a conflict. */
  readonly mayExist?: boolean;
  /** The events were built by this program's own deciders (makeEvent from checked data): skip re-validating them. */
  readonly trusted?: boolean;
}

export interface BatchMember {
  readonly events: readonly EventEnvelope[];
  readonly condition?: AppendCondition;
}

export type BatchResult = { readonly ok: true; readonly result: AppendResult } | { readonly ok: false; readonly error: Error };

const ID_RE = /^[\x21-\x7e]{1,200}$/;
const MAX_TAG = 512;

export class EventStore {
  readonly keys: KeyLayout;
  readonly codec: EventCodec;
  /** Identifies this writer in its record keys. */
  readonly writer = randomBytes(5).toString('hex');
  private readonly committer: Committer;
  private readonly appendTimeoutMs: number;
  private readonly validate: boolean;
  private readonly recordFormat: RecordFormat;
  private readonly subscriptions = new Set<Subscription>();
  private ownRecords: OwnRecords | undefined;
  private idSeq = 0;
  private layout: Promise<ResolvedLayout> | undefined;
  private readonly wantedLayout: TagLayoutName;

  constructor(
    readonly client: Etcd3,
    opts: EventStoreOptions = {},
  ) {
    this.keys = new KeyLayout(opts.prefix ?? '/ipam/');
    this.codec = opts.codec ?? defaultCodec;
    this.appendTimeoutMs = opts.appendTimeoutMs ?? 10_000;
    this.validate = opts.validate ?? true;
    this.recordFormat = opts.recordFormat ?? RECORD_FORMAT;
    this.wantedLayout = opts.tagLayout ?? defaultTagLayout('address');
    this.committer = new Committer(client, this.keys, this.writer, {
      limits: { ...DEFAULT_LIMITS, ...opts.limits },
      maxInflight: opts.maxInflight ?? 3,
      ...(opts.lightLoadExtraInflight !== undefined ? { lightLoadExtraInflight: opts.lightLoadExtraInflight } : {}),
      ...(opts.sendIdleAtOnce !== undefined ? { sendIdleAtOnce: opts.sendIdleAtOnce } : {}),
      ...(opts.partialBelowInflight !== undefined ? { partialBelowInflight: opts.partialBelowInflight } : {}),
      findCommitted: (ids, after) => this.findCommitted(ids, after),
      resolveLayout: (again) => this.resolveLayout(again),
    });
    // Only with the shipped codec: another codec may turn records into something else than the events appended.
    if (this.codec === defaultCodec) this.ownRecords = new OwnRecords();
  }

  /** Learns the current revision (record hints start from it). Call once before appending. */
  async open(): Promise<number> {
    await this.tagLayout();
    const rev = await currentRevision(this.client, this.keys);
    this.committer.seen(rev);
    return rev;
  }

  /** Starts (a fresh one) or stops recording where appended members' time goes; see Committer.traceCommits. */
  traceCommits(on: boolean): CommitTrace | undefined {
    return this.committer.traceCommits(on);
  }

  /** The log's tag layout: which etcd key guards each tag (recorded in etcd when this store creates a 'block' log). */
  async tagLayout(): Promise<TagLayout> {
    return (await this.resolveLayout()).layout;
  }

  private resolveLayout(again = false): Promise<ResolvedLayout> {
    if (again) this.layout = undefined;
    this.layout ??= resolveTagLayout(this.client, this.keys, this.wantedLayout).then(
      (l) => {
        this.committer.useLayout(l);
        return l;
      },
      (e: unknown) => {
        this.layout = undefined;
        throw e;
      },
    );
    return this.layout;
  }

  get stats(): CommitStats {
    return this.committer.stats;
  }

  /** Called with the members, events and round-trip milliseconds of every txn this store commits (metrics). */
  set onCommitted(fn: ((members: number, events: number, ms: number) => void) | undefined) {
    this.committer.onCommitted = fn;
  }

  /** Set while etcd refuses this store's writes for lack of space (its NOSPACE alarm); cleared by the next commit. */
  get noSpace(): EtcdNoSpace | undefined {
    return this.committer.noSpace;
  }

  /** Forgets a NOSPACE refusal once etcd says its alarm is gone (a commit clears it too). */
  clearNoSpace(): void {
    this.committer.noSpace = undefined;
  }

  /** Highest revision this store has seen in any etcd answer. */
  get seenRevision(): number {
    return this.committer.seenRevision;
  }

  get limits(): TxnLimits {
    return this.committer.limitsInUse;
  }

  /**
   * A fresh event id. It starts with the revision this store has seen (12 hex digits), so a retry of the same id
   * knows from when to look for it; the rest is this writer and a counter.
   */
  newId(label = ''): string {
    const hint = this.committer.seenRevision.toString(16).padStart(12, '0');
    return `${hint}-${this.writer}-${(this.idSeq++).toString(36)}${label ? `-${label}` : ''}`;
  }

  /**
   * Appends events atomically, only if no event carrying any of `condition.tags` was written after
   * `condition.after`. Concurrent calls are coalesced into shared txns. Re-appending ids that are already committed
   * resolves with `duplicate: true` and the original revision; a failed condition rejects with AppendConditionFailed.
   */
  append(events: readonly EventEnvelope[], condition?: AppendCondition, opts: AppendOptions = {}): Promise<AppendResult> {
    return new Promise<AppendResult>((resolve, reject) => {
      let member: Member;
      try {
        member = this.makeMember(events, condition, opts, resolve, reject);
      } catch (e) {
        reject(e);
        return;
      }
      this.committer.submit(member);
    });
  }

  /** Appends independent members together; each succeeds or fails on its own. */
  appendBatch(members: readonly BatchMember[], opts: AppendOptions = {}): Promise<BatchResult[]> {
    const made: Member[] = [];
    const results = members.map(
      (m) =>
        new Promise<AppendResult>((resolve, reject) => {
          try {
            made.push(this.makeMember(m.events, m.condition, opts, resolve, reject));
          } catch (e) {
            reject(e);
          }
        }),
    );
    this.committer.submit(...made);
    return Promise.all(
      results.map((p) =>
        p.then(
          (result): BatchResult => ({ ok: true, result }),
          (error: Error): BatchResult => ({ ok: false, error }),
        ),
      ),
    );
  }

  /** Pages of events in global order; bounded memory whatever the log's size. */
  readPages(opts: ReadOptions = {}): AsyncGenerator<ReadPage> {
    return readLog(this.client, this.keys, this.codec, opts);
  }

  /** Events in global order, one at a time. */
  async *read(opts: ReadOptions = {}): AsyncGenerator<StoredEvent> {
    for await (const page of this.readPages(opts)) yield* page.events;
  }

  subscribe(opts: SubscribeOptions): Subscription {
    const own = this.ownRecords;
    const s = new Subscription(this.client, this.keys, this.codec, opts, own && ((key) => own.take(key, this.subscriptions.size > 1)));
    this.subscriptions.add(s);
    // Own records are registered only while a subscription of this process may take them (a CLI's store keeps none).
    if (own) this.committer.onRecord = own;
    void s.done.finally(() => {
      this.subscriptions.delete(s);
      if (own && this.subscriptions.size === 0) {
        this.committer.onRecord = undefined;
        own.clear();
      }
    });
    return s;
  }

  /** Own records held for this process's subscriptions (bounded by OwnRecords; 0 while none is open). */
  get ownRecordsHeld(): number {
    return this.ownRecords?.size ?? 0;
  }

  currentRevision(): Promise<number> {
    return currentRevision(this.client, this.keys).then((r) => {
      this.committer.seen(r);
      return r;
    });
  }

  /** Revision of the last commit (0 when the log is empty). */
  async headRevision(): Promise<number> {
    const res = await this.client.kv.range({ key: Buffer.from(this.keys.head) });
    this.committer.seen(Number(res.header.revision));
    return res.kvs[0] ? Number(res.kvs[0].mod_revision) : 0;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }

  /** Looks for any of `ids` in commits after `after` (slow path for retried appends). */
  private async findCommitted(ids: readonly string[], after: number): Promise<number | undefined> {
    const want = new Set(ids);
    const minHint = Math.min(...ids.map(hintOfId).filter((h): h is number => h !== undefined), after);
    for await (const page of this.readPages({ after: Math.max(0, minHint - REORDER_WINDOW), afterIsCommit: true, onMalformed: () => undefined, beforeHorizon: 'allow' })) {
      for (const e of page.events) if (want.has(e.event.id)) return e.revision;
    }
    return undefined;
  }

  private makeMember(
    events: readonly EventEnvelope[],
    condition: AppendCondition | undefined,
    opts: AppendOptions,
    resolve: (r: AppendResult) => void,
    reject: (e: unknown) => void,
  ): Member {
    if (events.length === 0) throw new AppendRejected('events: at least one event is required');
    // A one-event append (an allocation's) has no duplicate to find: no Set for it.
    const ids = events.length > 1 ? new Set<string>() : undefined;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (typeof e.id !== 'string' || !ID_RE.test(e.id)) throw new AppendRejected(`events[${i}].id: must be 1-200 printable ASCII characters without spaces`);
      if (ids !== undefined) {
        if (ids.has(e.id)) throw new AppendRejected(`events[${i}].id: duplicate id ${e.id} in one append`);
        ids.add(e.id);
      }
      if (!Array.isArray(e.tags) || e.tags.length === 0) throw new AppendRejected(`events[${i}].tags: at least one tag is required`);
      for (const t of e.tags) {
        if (typeof t !== 'string' || t.length === 0 || t.length > MAX_TAG || t.includes('\0')) {
          throw new AppendRejected(`events[${i}].tags: ${JSON.stringify(t)} is not a valid tag (1-${MAX_TAG} characters, no NUL)`);
        }
      }
      if (this.validate && !opts.trusted) {
        try {
          this.codec.decode(e, `events[${i}]`);
        } catch (err) {
          throw new AppendRejected((err as Error).message);
        }
      }
    }
    if (condition !== undefined) {
      if (!Number.isSafeInteger(condition.after) || condition.after < 0) throw new AppendRejected('condition.after: must be a revision (integer >= 0)');
      if (!Array.isArray(condition.tags)) throw new AppendRejected('condition.tags: must be an array');
    }
    const shape = makeMemberShape(events, condition, hintOfId(events[0]!.id) ?? this.committer.seenRevision, this.recordFormat);
    return {
      events,
      condition,
      ...shape,
      priorAttempts: [],
      deadline: Date.now() + this.appendTimeoutMs,
      mayExist: opts.mayExist ?? false,
      checked: this.validate || (opts.trusted ?? false),
      keys: undefined,
      resolve,
      reject,
    };
  }
}

/** The revision hint of an id made by newId (12 lowercase hex digits and '-'); undefined for any other id. */
function hintOfId(id: string): number | undefined {
  if (id.length < 13 || id.charCodeAt(12) !== 45) return undefined;
  let n = 0;
  for (let i = 0; i < 12; i++) {
    const c = id.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : -1; // 0-9, a-f
    if (d < 0) return undefined;
    n = n * 16 + d;
  }
  return n;
}
