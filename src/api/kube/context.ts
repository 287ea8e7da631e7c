// What every handler shares: the daemon's parts, the object reader, per-object write locks, limits; and the small
// HTTP helpers for answering with JSON or a Status.
import type { ServerResponse } from 'node:http';
import type { Allocator } from '../../alloc/allocator.js';
import type { LiveReadModel } from '../../../projections/read-model.js';
import type { PastView } from '../../lifecycle/past-states.js';
import type { LiveObjectReader } from './objects.js';
import { StatusError } from './status.js';
import type { WatchBudget, WatchLimits } from './watch-budget.js';

export interface KubeApiDeps {
  readonly allocator: Allocator;
  readonly model: LiveReadModel;
  now(): string;
  /**
   * The projections at a past revision (exact reads older than the live view: from the nearest checkpoint, then
   * archive + etcd). Without it such a read is 410 Expired, as the API server answers for a compacted revision.
   */
  past?(revision: number): Promise<PastView>;
}

export interface KubeApiLimits extends WatchLimits {
  /** Largest request body accepted (413 above). */
  readonly maxBodyBytes: number;
  /** How long a request waits for this server's view to reach a revision (504 after). */
  readonly waitTimeoutMs: number;
  /** Interval of BOOKMARK events on watches that allow them. */
  readonly bookmarkIntervalMs: number;
  /** Longest watch (a client's timeoutSeconds is capped to it). */
  readonly maxWatchSeconds: number;
  /** Changes kept for resuming watches. */
  readonly feedCapacity: number;
}

export const DEFAULT_LIMITS: KubeApiLimits = {
  maxBodyBytes: 1 << 20,
  waitTimeoutMs: 10_000,
  bookmarkIntervalMs: 60_000,
  maxWatchSeconds: 3600,
  feedCapacity: 50_000,
  maxWatchBacklogBytes: 16 << 20,
  // 200 watchers that never read once took 3.6 GB; 64 MiB for all of them leaves the heap for the allocator.
  maxTotalWatchBacklogBytes: 64 << 20,
  maxWatches: 512,
  // A client follows a few resources (an informer each); more from one address is a flood's, not a controller's.
  maxWatchesPerClient: 64,
};

export interface Ctx {
  readonly deps: KubeApiDeps;
  readonly reader: LiveObjectReader;
  readonly locks: KeyedLock;
  readonly limits: KubeApiLimits;
  readonly watches: WatchBudget;
  /** etcd's head revision, one read shared by the requests that asked while the previous read was out. */
  readonly head: SharedRead<number>;
}

/**
 * Coalesces concurrent reads of one value: a caller joins the read that starts next (never one already out, which
 * may predate its request), so each still sees everything committed before it asked; n callers cost ~2 reads, not n.
 */
export class SharedRead<T> {
  private out: Promise<T> | undefined;
  private next: Promise<T> | undefined;

  constructor(private readonly read: () => Promise<T>) {}

  get(): Promise<T> {
    if (!this.out) {
      this.out = this.read().finally(() => (this.out = undefined));
      return this.out;
    }
    this.next ??= this.out
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        return this.get();
      });
    return this.next;
  }
}

/** Runs work on one key at a time (check-then-write of one object is not interleaved within this process). */
export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

/** `p`, or a 504 Status after `ms`. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StatusError(504, 'Timeout', `${what} (waited ${ms} ms)`, { retryAfterSeconds: 1 })), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** `299 - "text"`, the Warning header the API server sends (kubectl prints "Warning: text"). */
export function warningHeader(text: string): string {
  return `299 - ${JSON.stringify(text.replace(/[\r\n]+/g, ' '))}`;
}

/** Warning headers sent at most (each at most WARNING_CHARS long): clients' header limits are 8-16 KiB. */
export const MAX_WARNINGS = 20;
const WARNING_CHARS = 256;

/** The warnings as headers, bounded: the first MAX_WARNINGS (shortened), then one saying how many were left out. */
export function warningHeaders(warnings: readonly string[]): string[] {
  const shown = warnings.slice(0, MAX_WARNINGS).map((w) => warningHeader(w.length > WARNING_CHARS ? `${w.slice(0, WARNING_CHARS)}...` : w));
  if (warnings.length > MAX_WARNINGS) shown.push(warningHeader(`${warnings.length - MAX_WARNINGS} more warnings not shown`));
  return shown;
}

export function sendJson(res: ServerResponse, code: number, body: unknown, warnings: readonly string[] = []): void {
  const text = JSON.stringify(body);
  if (warnings.length > 0) res.setHeader('Warning', warningHeaders(warnings));
  res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-cache, private' });
  res.end(text);
}

export function sendStatus(res: ServerResponse, e: StatusError): void {
  if (e.code === 413) res.setHeader('Connection', 'close'); // the rest of the body is not read
  sendJson(res, e.code, e.toStatus());
}
