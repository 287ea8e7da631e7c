// Bounds on watch streams: how many at once (in total and per client address), and the bytes they may leave unread,
// each and all together. A watch over its share is ended with a 410 ERROR event (clients list again and re-watch),
// never buffered without end. Every watch is registered before its first await, so an early disconnect is cleaned up.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { StatusError } from './status.js';

export interface WatchLimits {
  /** Watches open at once on this server. */
  readonly maxWatches: number;
  /** Watches open at once from one client address (the unix socket counts as one client). */
  readonly maxWatchesPerClient: number;
  /** Bytes one watcher may leave unread before its watch is ended. */
  readonly maxWatchBacklogBytes: number;
  /** Bytes all watchers together may leave unread: above it the most behind watch is ended first. */
  readonly maxTotalWatchBacklogBytes: number;
}

/** After the ERROR event is queued, how long a stream may take to flush before its connection is cut. */
const FLUSH_GRACE_MS = 10_000;

const clientOf = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unix socket';

/** One open watch: its backlog as last seen, and what to run when it ends (for whatever reason). */
export class WatchSlot {
  backlog = 0;
  private ended = false;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly budget: WatchBudget,
    readonly client: string,
    readonly res: ServerResponse,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  /** Runs `fn` when the watch ends; at once if it has already. */
  onClose(fn: () => void): void {
    if (this.ended) fn();
    else this.cleanups.push(fn);
  }

  /** Call after each write: ends this watch (or the most behind ones) when a backlog limit is passed. */
  wrote(): void {
    this.budget.account(this);
  }

  /** Ends the stream with a final ERROR event carrying a 410 Expired Status (what client-go re-lists on). */
  expire(message: string): void {
    if (this.ended) return;
    const status = new StatusError(410, 'Expired', message).toStatus();
    this.release(); // its unread bytes stay counted until the connection is gone
    this.res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    setTimeout(() => this.res.destroy(), FLUSH_GRACE_MS).unref();
  }

  /** Ends the stream normally (its timeout, or the server stopping). */
  end(): void {
    if (this.ended) return;
    this.release();
    this.res.end();
  }

  /** The watch never started (its request failed): forgotten at once. */
  cancel(): void {
    this.release();
    this.budget.forget(this);
  }

  /** Sends nothing more: its cleanups run (timers, subscription). Idempotent. */
  release(): void {
    if (this.ended) return;
    this.ended = true;
    for (const fn of this.cleanups.splice(0)) fn();
  }
}

export class WatchBudget {
  private readonly slots = new Set<WatchSlot>();
  private readonly perClient = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: WatchLimits) {}

  get open(): number {
    return this.slots.size;
  }

  get totalBacklog(): number {
    return this.total;
  }

  /** Registers a watch (429 when a count limit is reached); its slot is released when the connection closes. */
  admit(req: IncomingMessage, res: ServerResponse): WatchSlot {
    const client = clientOf(req);
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.limits.maxWatchesPerClient) {
      throw new StatusError(429, 'TooManyRequests', `too many watches open from ${client} (${this.limits.maxWatchesPerClient}); close some or share one watch`, { retryAfterSeconds: 1 });
    }
    if (this.slots.size >= this.limits.maxWatches) {
      throw new StatusError(429, 'TooManyRequests', `too many watches open on this server (${this.limits.maxWatches}); retry later`, { retryAfterSeconds: 1 });
    }
    const slot = new WatchSlot(this, client, res);
    this.slots.add(slot);
    this.perClient.set(client, mine + 1);
    // The client went away: the slot is given back and the connection cut (a half-closed socket would linger).
    const gone = () => {
      slot.release();
      this.forget(slot);
      if (!res.destroyed) res.destroy();
    };
    req.once('close', gone);
    res.once('close', gone);
    res.on('drain', () => slot.wrote());
    if (req.destroyed || req.socket.destroyed) gone(); // it left before its request got here ('close' already fired)
    return slot;
  }

  /** Ends every watch (the server is stopping). */
  closeAll(): void {
    for (const s of [...this.slots]) {
      s.end();
      s.res.destroy();
      this.forget(s);
    }
  }

  account(slot: WatchSlot): void {
    const now = slot.res.writableLength;
    this.total += now - slot.backlog;
    slot.backlog = now;
    const { maxWatchBacklogBytes: each, maxTotalWatchBacklogBytes: all } = this.limits;
    if (now > each) slot.expire(`the watch fell behind: over ${each} bytes unread; list again and watch from the list's resourceVersion`);
    while (this.total > all) {
      let worst: WatchSlot | undefined;
      for (const s of this.slots) if (!s.closed && (!worst || s.backlog > worst.backlog)) worst = s;
      if (!worst) break;
      worst.expire(`the watch fell behind: watches on this server hold over ${all} bytes unread and this one is the furthest behind; list again and re-watch`);
    }
  }

  /** Gives back a watch's count and unread bytes once its connection is gone. Idempotent. */
  forget(slot: WatchSlot): void {
    if (!this.slots.delete(slot)) return;
    this.total -= slot.backlog;
    slot.backlog = 0;
    const n = (this.perClient.get(slot.client) ?? 1) - 1;
    if (n <= 0) this.perClient.delete(slot.client);
    else this.perClient.set(slot.client, n);
  }
}
