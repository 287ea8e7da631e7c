// Live tail of the log: every event once, in order. Catch up with ranged reads (immune to compaction), then follow
// an etcd watch; on any watch trouble (disconnect, etcd restart, compaction) drop it and catch up again from the
// last delivered commit. One record per revision makes the revision a perfect de-duplication key. A subscription
// that falls behind the horizon (its next records archived out of etcd) restarts from the horizon checkpoint when its
// subscriber can (onBehindHorizon), instead of retrying a read that can never succeed.
import type { Etcd3, IKeyValue, IWatchResponse } from 'etcd3';
import type { LoggedEvent as StoredEvent } from '../../events/catalogue.js';
import type { EventCodec, MalformedEventError } from '../../events/codec.js';
import { BeforeHorizon } from './errors.js';
import type { KeyLayout } from './keys.js';
import { currentRevision, decodeRecord, readLog } from './reader.js';

export interface SubscribeOptions {
  /** Deliver events committed after this revision (a commit revision, e.g. from a checkpoint; 0 = everything). */
  readonly after: number;
  /** Called in order, one call at a time; `through` = every commit at or before it has been delivered. */
  readonly onEvents: (events: StoredEvent[], through: number) => void | Promise<void>;
  /** Reports transient trouble (the subscription keeps going) and malformed events. */
  readonly onError?: (e: unknown) => void;
  readonly onMalformed?: (e: MalformedEventError) => void;
  /**
   * The records after `delivered` are gone from etcd (archived past the horizon): the subscriber replaces its state
   * with the horizon checkpoint and resolves with that checkpoint's revision H; delivery goes on after H. Without it
   * the subscription reports BeforeHorizon through onError and retries (it cannot catch up: a reader of the archive
   * must take over).
   */
  readonly onBehindHorizon?: (e: BeforeHorizon) => Promise<number>;
}

export class Subscription {
  private closed = false;
  private wake: (() => void) | undefined;
  /** Revision of the last commit delivered (or the `after` we started from). */
  delivered: number;
  /** All commits at or before this revision have been delivered. */
  through: number;
  private waiters: { rev: number; resolve: () => void }[] = [];
  /** Times this subscription fell behind the horizon and restarted from its checkpoint. */
  horizonRestarts = 0;
  readonly done: Promise<void>;

  constructor(
    private readonly client: Etcd3,
    private readonly keys: KeyLayout,
    private readonly codec: EventCodec,
    private readonly opts: SubscribeOptions,
    /** This process's own record under this key, already decoded (see OwnRecords). */
    private readonly ownRecord?: (key: Buffer) => readonly StoredEvent['event'][] | undefined,
  ) {
    this.delivered = opts.after;
    this.through = opts.after;
    this.done = this.run();
  }

  /** Resolves once every commit at or before `rev` has been delivered. */
  waitFor(rev: number): Promise<void> {
    if (this.through >= rev) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ rev, resolve }));
  }

  /** Resolves once the subscription has delivered everything committed before this call. */
  async sync(): Promise<void> {
    const res = await this.client.kv.range({ key: Buffer.from(this.keys.head) });
    const head = res.kvs[0] ? Number(res.kvs[0].mod_revision) : 0;
    await this.waitFor(head);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.(); // follow() wakes, sees closed, and cancels its watch unless etcd already dropped it
    await this.done;
  }

  private advance(through: number): void {
    if (through > this.through) this.through = through;
    if (this.waiters.length === 0) return;
    const ready = this.waiters.filter((w) => w.rev <= this.through);
    this.waiters = this.waiters.filter((w) => w.rev > this.through);
    for (const w of ready) w.resolve();
  }

  private async run(): Promise<void> {
    let backoff = 50;
    while (!this.closed) {
      try {
        const until = await currentRevision(this.client, this.keys);
        for await (const page of readLog(this.client, this.keys, this.codec, {
          after: this.delivered,
          until,
          afterIsCommit: true,
          ...(this.opts.onMalformed ? { onMalformed: this.opts.onMalformed } : {}),
        })) {
          if (this.closed) return;
          await this.deliver(page.events, page.through);
        }
        this.advance(until);
        backoff = 50;
        await this.follow(until + 1);
      } catch (e) {
        if (this.closed) return;
        if (e instanceof BeforeHorizon && this.opts.onBehindHorizon) {
          try {
            await this.restartAtHorizon(e, this.opts.onBehindHorizon);
            continue;
          } catch (again) {
            if (this.closed) return;
            e = again;
          }
        }
        this.opts.onError?.(e);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 2000);
      }
    }
  }

  /** The subscriber is now at the horizon checkpoint's revision: go on after it (waitFor past it waits again). */
  private async restartAtHorizon(e: BeforeHorizon, restart: (e: BeforeHorizon) => Promise<number>): Promise<void> {
    const at = await restart(e);
    if (!Number.isSafeInteger(at) || at < e.after) throw new Error(`restart from the horizon checkpoint gave revision ${at}, before ${e.after}`);
    this.horizonRestarts++;
    this.delivered = at;
    this.through = at;
    this.advance(at);
  }

  private async deliver(events: StoredEvent[], through: number): Promise<void> {
    const fresh = events.filter((e) => e.revision > this.delivered);
    if (fresh.length > 0) {
      this.delivered = fresh[fresh.length - 1]!.revision;
      await this.opts.onEvents(fresh, Math.max(through, this.delivered));
    }
    this.advance(Math.max(through, this.delivered));
  }

  /** Follows the watch from `start` until it fails or the subscription closes. */
  private async follow(start: number): Promise<void> {
    const queue: IWatchResponse[] = [];
    let failed: unknown;
    // watcher(), not create(): every listener is attached before etcd can answer, so no answer finds none.
    const watcher = this.client.watch().prefix(this.keys.logPrefix).only('put').startRevision(String(start)).watcher();
    const kick = () => this.wake?.();
    watcher.on('data', (res: IWatchResponse) => {
      queue.push(res);
      kick();
    });
    const fail = (e: unknown) => {
      failed ??= e ?? new Error('watch ended');
      kick();
    };
    // etcd cancelled the watch itself (e.g. compaction overtook a watch still catching up: kube-apiserver compacts
    // every 5 minutes) or it ended: the client has already dropped it, and cancelling it again would wait forever
    // for an answer etcd never sends.
    let gone = false;
    watcher.on('disconnected', fail);
    watcher.on('error', (e: unknown) => {
      gone = true;
      fail(e);
    });
    watcher.on('end', () => {
      gone = true;
      fail(new Error('watch ended'));
    });
    try {
      while (!this.closed) {
        while (queue.length > 0) {
          const res = queue.shift()!;
          await this.onWatch(res);
        }
        if (failed !== undefined) throw failed;
        await new Promise<void>((r) => {
          this.wake = r;
          if (queue.length > 0 || failed !== undefined || this.closed) r();
        });
        this.wake = undefined;
      }
    } finally {
      if (!gone) await watcher.cancel().catch(() => undefined);
    }
  }

  private async onWatch(res: IWatchResponse): Promise<void> {
    const events: StoredEvent[] = [];
    for (const ev of res.events) {
      const kv = ev.kv as IKeyValue;
      const rev = Number(kv.mod_revision);
      if (rev <= this.delivered) continue;
      // etcd3 strips nothing here (no namespace); keys keep the full prefix.
      const own = this.ownRecord?.(kv.key);
      if (own !== undefined) for (let i = 0; i < own.length; i++) events.push({ event: own[i]!, revision: rev, position: i });
      else events.push(...decodeRecord(kv, rev, this.codec, undefined, undefined, this.opts.onMalformed));
      this.delivered = Math.max(this.delivered, rev);
    }
    if (events.length > 0) await this.opts.onEvents(events, this.delivered);
    this.advance(this.delivered);
  }
}
