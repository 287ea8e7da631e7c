// The liveness of a process's Kubernetes caches in Prometheus terms: synced, seconds since the API server was last
// heard from, relists, restarts, objects kept, objects not kept (full), and lookups that missed and fetched. One series
// per cache (a fixed handful), read at scrape time.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { SlimCacheStats } from './slim-cache.js';

export interface CacheLiveness extends SlimCacheStats {
  /** "pods", "namespaces", "node", ... */
  readonly cache: string;
  /** Milliseconds since the cache last heard from the API server. */
  readonly idleMs: number;
}

export interface CacheSource {
  liveness(): readonly CacheLiveness[];
  /** Lookups the caches could not answer, fetched from the API server instead (since start). */
  misses(): number;
}

export function registerCacheMetrics(r: Registry, src: CacheSource): void {
  const perCache = (name: string, help: string, read: (c: CacheLiveness) => number, Kind: typeof Gauge | typeof Counter = Gauge) =>
    new Kind({
      name,
      help,
      labelNames: ['cache'],
      registers: [r],
      collect(this: Gauge<'cache'> | Counter<'cache'>) {
        this.reset();
        for (const c of src.liveness()) {
          if (this instanceof Gauge) this.labels(c.cache).set(read(c));
          else this.labels(c.cache).inc(read(c));
        }
      },
    });
  perCache('ipam_cluster_cache_synced', '1 once the cache has listed the API server completely at least once', (c) => (c.synced ? 1 : 0));
  perCache('ipam_cluster_cache_last_event_age_seconds', 'Seconds since the cache last heard from the API server (an event, a list page, a bookmark, a watch opened)', (c) => c.idleMs / 1000);
  perCache('ipam_cluster_cache_objects', 'Objects the cache holds', (c) => c.size);
  perCache('ipam_cluster_cache_relists_total', 'Complete lists (first sync, resyncs, after 410 Gone or a restart)', (c) => c.relists, Counter);
  perCache('ipam_cluster_cache_restarts_total', 'List or watch failures the cache restarted after (with backoff)', (c) => c.restarts, Counter);
  perCache('ipam_cluster_cache_overflow_total', 'Objects not kept because the cache was at its bound', (c) => c.overflow, Counter);
  new Counter({
    name: 'ipam_cluster_cache_misses_total',
    help: 'Lookups the caches could not answer, fetched once from the API server',
    registers: [r],
    collect() {
      this.reset();
      this.inc(src.misses());
    },
  });
}

/** The caches not synced yet, for /readyz ("pods, node"), or undefined once all have listed once. */
export function unsynced(src: CacheSource): string | undefined {
  const missing = src.liveness().filter((c) => !c.synced).map((c) => c.cache);
  return missing.length > 0 ? missing.join(', ') : undefined;
}
