// A list+watch cache that keeps only a slim projection of each object (the fields a caller reads), a bounded number
// of them. client-node's informer keeps whole objects and takes no field selector, so this runs its own loop on
// client-node's Watch: list (paged), watch from the list's resourceVersion, relist on 410 Gone and on every resync,
// restart with backoff on any other error, and say when it last heard from the API server (liveness).
import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { httpStatus, withTimeout } from './kube.js';

export interface ListPage {
  readonly items: readonly KubernetesObject[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string };
}

export interface SlimCacheOptions<T> {
  readonly kc: KubeConfig;
  /** What this cache holds, for errors ("pods on node n1"). */
  readonly what: string;
  /** The collection's watch path, e.g. /api/v1/pods. */
  readonly path: string;
  readonly fieldSelector?: string;
  /** One page of the list (same selector), continuing from `cont`. */
  list(cont: string | undefined): Promise<ListPage>;
  /** The slim projection kept for an object; undefined: the object is not kept (and forgotten if it was). */
  slim(obj: KubernetesObject): T | undefined;
  /** Called after an object's kept record changed (added, replaced, removed), on watch events and on relists. */
  onChange?(key: string, now: T | undefined, before: T | undefined): void;
  /** At most this many objects are kept; beyond it new objects are not cached (lookups then miss and fetch). */
  readonly maxEntries: number;
  /** Full relist period (ms): repairs anything a watch may have missed. */
  readonly resyncMs?: number;
  /** First restart delay after an error, doubled up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** A list page not answered within this is an error (restart with backoff), so a hung API server is noticed. */
  readonly listTimeoutMs?: number;
  readonly onError?: (e: unknown) => void;
}

export interface SlimCacheStats {
  readonly size: number;
  /** Objects not kept because the cache was full (since start). */
  readonly overflow: number;
  readonly relists: number;
  readonly restarts: number;
  /** The first complete list has arrived. */
  readonly synced: boolean;
}

/** Object key as the cache holds it: "namespace/name", or "name" for cluster-scoped objects. */
export const objectKey = (namespace: string | undefined, name: string): string => (namespace ? `${namespace}/${name}` : name);

/** Objects per list page: a large cluster's namespaces are listed in pieces. */
export const LIST_PAGE_SIZE = 500;

/** The watch must start again from a fresh list: 410 Gone (our resourceVersion is compacted away) or a resync. */
class Relist extends Error {}

export class SlimCache<T> {
  private readonly m = new Map<string, T>();
  private stopped = false;
  private abort: AbortController | undefined;
  /** Ends the current watch's wait at once (stop() while the API server has not even answered the watch). */
  private endWatch: (() => void) | undefined;
  private lastSeen = Date.now();
  private overflow = 0;
  private relists = 0;
  private restarts = 0;
  private lastRelist = 0;
  private markReady!: () => void;
  private markStopped!: () => void;
  /** Resolves on stop(): a list the API server never answers must not keep stop() waiting. */
  private readonly stopping = new Promise<void>((r) => (this.markStopped = r));
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;
  private readonly loop: Promise<void>;
  /** Resolves after the first complete list. */
  readonly ready = new Promise<void>((r) => (this.markReady = r));

  constructor(private readonly o: SlimCacheOptions<T>) {
    this.loop = this.run();
  }

  get(key: string): T | undefined {
    return this.m.get(key);
  }

  /** Puts an object fetched outside the watch (a cache miss); the watch's later events win. */
  remember(obj: KubernetesObject): T | undefined {
    const v = this.o.slim(obj);
    this.put(objectKey(obj.metadata?.namespace, obj.metadata?.name ?? ''), v);
    return v;
  }

  /** Every kept record (a snapshot). */
  entries(): [string, T][] {
    return [...this.m];
  }

  /** Milliseconds since the cache last heard from the API server. */
  idleMs(): number {
    return Date.now() - this.lastSeen;
  }

  stats(): SlimCacheStats {
    return { size: this.m.size, overflow: this.overflow, relists: this.relists, restarts: this.restarts, synced: this.lastRelist > 0 };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.markStopped();
    this.abort?.abort();
    this.endWatch?.();
    clearTimeout(this.sleepTimer);
    clearTimeout(this.resyncTimer);
    this.wake?.();
    await this.loop;
  }

  private put(key: string, v: T | undefined): void {
    const before = this.m.get(key);
    if (v === undefined) return this.forget(key);
    if (before === undefined && this.m.size >= this.o.maxEntries) {
      this.overflow++;
      return;
    }
    this.m.set(key, v);
    this.o.onChange?.(key, v, before);
  }

  private forget(key: string): void {
    const before = this.m.get(key);
    if (before === undefined) return;
    this.m.delete(key);
    this.o.onChange?.(key, undefined, before);
  }

  private async run(): Promise<void> {
    let delay = this.o.backoffMs ?? 500;
    let rv: string | undefined;
    while (!this.stopped) {
      try {
        if (rv === undefined) {
          rv = await this.relist();
          if (this.stopped) return;
          this.markReady();
        }
        rv = await this.watch(rv);
        delay = this.o.backoffMs ?? 500;
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof Relist) {
          rv = undefined; // our resourceVersion is too old: list again at once
          continue;
        }
        this.o.onError?.(e);
        this.restarts++;
        rv = undefined;
        await this.sleep(delay);
        delay = Math.min(delay * 2, this.o.maxBackoffMs ?? 30_000);
      }
    }
  }

  /** Lists every page and replaces the cache's content; returns the list's resourceVersion. */
  private async relist(): Promise<string> {
    const next = new Map<string, T>();
    let cont: string | undefined;
    let rv = '';
    do {
      const page = await Promise.race([withTimeout(this.o.list(cont), this.o.listTimeoutMs ?? 30_000, `list ${this.o.what}`), this.stopping]);
      if (page === undefined) break; // stopped
      this.lastSeen = Date.now();
      for (const obj of page.items) {
        const key = objectKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
        const v = this.o.slim(obj);
        if (v === undefined) continue;
        if (next.size >= this.o.maxEntries) this.overflow++;
        else next.set(key, v);
      }
      rv = page.metadata?.resourceVersion ?? rv;
      cont = page.metadata?._continue || undefined;
    } while (cont !== undefined && !this.stopped);
    const before = this.o.onChange ? new Map(this.m) : undefined;
    this.m.clear();
    for (const [k, v] of next) this.m.set(k, v);
    this.relists++;
    this.lastRelist = Date.now();
    if (before) {
      // What the watch missed (a gap, a resync): deletions and changes, told as the watch would have.
      for (const [k, was] of before) if (!next.has(k)) this.o.onChange!(k, undefined, was);
      for (const [k, v] of next) if (before.get(k) !== v) this.o.onChange!(k, v, before.get(k));
    }
    return rv;
  }

  /** Watches from `rv` until the server ends the watch (resolves with the last resourceVersion) or the resync timer. */
  private watch(rv: string): Promise<string> {
    let last = rv;
    return new Promise<string>((resolve, reject) => {
      let settled = false;
      const finish = (err: unknown) => {
        if (settled) return;
        settled = true;
        this.endWatch = undefined;
        clearTimeout(this.resyncTimer);
        if (err) reject(err);
        else resolve(last);
      };
      const onEvent = (phase: string, obj: KubernetesObject & { code?: number }) => {
        this.lastSeen = Date.now();
        if (phase === 'ERROR') {
          this.abort?.abort();
          finish(obj.code === 410 ? new Relist() : new Error(`${this.o.what}: watch error ${JSON.stringify(obj).slice(0, 200)}`));
          return;
        }
        last = obj.metadata?.resourceVersion ?? last;
        if (phase === 'BOOKMARK') return;
        const key = objectKey(obj.metadata?.namespace, obj.metadata?.name ?? '');
        if (phase === 'DELETED') this.forget(key);
        else this.put(key, this.o.slim(obj));
      };
      this.endWatch = () => finish(null);
      const query: Record<string, string | boolean> = { resourceVersion: rv, allowWatchBookmarks: true };
      if (this.o.fieldSelector) query.fieldSelector = this.o.fieldSelector;
      new Watch(this.o.kc)
        .watch(this.o.path, query, onEvent, (err: unknown) => {
          if (err && httpStatus(err) === 410) return finish(new Relist());
          // An abort we asked for (resync, stop) is not an error.
          finish(this.stopped || (err as { name?: string } | null)?.name === 'AbortError' ? null : err);
        })
        .then((abort) => {
          this.abort = abort;
          this.lastSeen = Date.now();
          if (this.stopped) abort.abort();
        }, finish);
      this.resyncTimer = setTimeout(() => {
        // A full relist now and then: the watch is restarted from a fresh list.
        this.abort?.abort();
        finish(new Relist());
      }, this.o.resyncMs ?? 5 * 60_000);
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
      this.sleepTimer = setTimeout(r, ms);
    });
  }
}
