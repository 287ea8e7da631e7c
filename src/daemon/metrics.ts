// Prometheus metrics of one daemon (its own registry, so several daemons can live in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Allocator } from '../alloc/allocator.js';
import type { PoolState } from '../alloc/model.js';
import type { EventStore } from '../store/event-store.js';
import type { Footprint } from '../store/footprint.js';

export interface MetricsSources {
  readonly allocator: Allocator;
  readonly store: EventStore;
  /** Revision the live projections reflect. */
  projectionRevision(): number;
  ready(): boolean;
  /** The last footprint measurement (FootprintMonitor), if any. */
  footprint?(): Footprint | undefined;
}

/** A gauge read from the last footprint measurement at scrape time (absent until there is one). */
function footprintGauge(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      const v = read();
      if (v === undefined) this.reset();
      else this.set(v);
    },
  });
}

/** A counter whose value is read from a running total at scrape time. */
function totalFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

export class DaemonMetrics {
  readonly registry = new Registry();
  readonly requestSeconds: Histogram<'route' | 'code'>;
  private readonly txnMembers: Histogram;
  private readonly txnSeconds: Histogram;
  /** One child per (route, code): observe() with a labels object hashes the labels on every request. */
  private readonly requestChildren = new Map<string, Histogram.Internal<'route' | 'code'>>();

  constructor(src: MetricsSources) {
    const r = this.registry;
    collectDefaultMetrics({ register: r });
    totalFrom(r, 'ipam_allocations_total', 'Allocations made (not counting reused ones)', () => src.allocator.stats.allocations);
    totalFrom(r, 'ipam_allocations_reused_total', 'Allocation requests answered with existing allocations (retried ADD, StatefulSet, KubeVirt)', () => src.allocator.stats.reused);
    totalFrom(r, 'ipam_releases_total', 'Allocations released', () => src.allocator.stats.releases);
    totalFrom(r, 'ipam_conflicts_total', 'Decisions taken again because another writer changed what they read', () => src.allocator.stats.conflicts);
    totalFrom(r, 'ipam_horizon_restarts_total', 'Times the log subscription fell behind the horizon (its next records archived out of etcd) and the model and projections restarted from the horizon checkpoint', () => src.allocator.horizonRestarts);
    totalFrom(r, 'ipam_txns_total', 'etcd transactions sent by the event store', () => src.store.stats.txns);
    this.txnMembers = new Histogram({
      name: 'ipam_txn_batch_members',
      help: 'Appends grouped into one etcd transaction',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128],
      registers: [r],
    });
    this.txnSeconds = new Histogram({
      name: 'ipam_txn_duration_seconds',
      help: 'Round trip of committed etcd transactions (send to answer)',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [r],
    });
    this.requestSeconds = new Histogram({
      name: 'ipam_request_duration_seconds',
      help: 'HTTP request latency by route and status code',
      labelNames: ['route', 'code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [r],
    });
    new Gauge({
      name: 'ipam_projection_lag_revisions',
      help: 'Revisions between the newest the daemon has seen and what its projections reflect',
      registers: [r],
      collect() {
        this.set(Math.max(0, src.store.seenRevision - src.projectionRevision()));
      },
    });
    // One series per pool (bounded by the pools defined): what an operator alerts on before a pool runs dry.
    const poolGauge = (name: string, help: string, read: (pool: PoolState) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ['pool'],
        registers: [r],
        collect() {
          this.reset();
          for (const [pool, st] of src.allocator.model.pools) this.labels(pool).set(read(st));
        },
      });
    poolGauge('ipam_pool_addresses', 'Usable addresses of a pool (its ips less network, broadcast, gateway and excludeIPs), reserved ones included', (p) => Number(p.offsets.total));
    poolGauge('ipam_pool_reserved_addresses', 'Usable addresses of a pool that a SpiderReservedIP withholds', (p) => p.blocked.size);
    poolGauge('ipam_pool_allocated_addresses', 'Addresses of a pool held by endpoints now', (p) => p.allocated);
    new Gauge({
      name: 'ipam_ready',
      help: '1 when the daemon is caught up with etcd and serving',
      registers: [r],
      collect() {
        this.set(src.ready() ? 1 : 0);
      },
    });
    const f = () => src.footprint?.();
    footprintGauge(r, 'ipam_prefix_keys', 'Keys under the engine\'s etcd prefix', () => f()?.prefixKeys);
    footprintGauge(r, 'ipam_prefix_bytes', 'Key and value bytes under the engine\'s etcd prefix (extrapolated beyond the scan bound)', () => f()?.prefixBytes);
    footprintGauge(r, 'ipam_etcd_db_size_bytes', 'etcd backend size, physically allocated (maintenance Status dbSize)', () => f()?.dbSizeBytes);
    footprintGauge(r, 'ipam_etcd_db_size_in_use_bytes', 'etcd backend size logically in use (dbSizeInUse; the rest is freed by defrag)', () => f()?.dbSizeInUseBytes);
    footprintGauge(r, 'ipam_etcd_quota_bytes', "etcd's --quota-backend-bytes (from its /metrics, else serve --etcd-quota-bytes)", () => f()?.quotaBytes);
    new Gauge({
      name: 'ipam_etcd_nospace',
      help: '1 while etcd refuses writes for lack of space (NOSPACE alarm)',
      registers: [r],
      collect() {
        this.set(src.store.noSpace ? 1 : 0);
      },
    });
    src.store.onCommitted = (members, _events, ms) => {
      this.txnMembers.observe(members);
      this.txnSeconds.observe(ms / 1000);
    };
  }

  observeRequest(route: string, status: number, seconds: number): void {
    const k = `${route} ${status}`;
    let h = this.requestChildren.get(k);
    if (!h) this.requestChildren.set(k, (h = this.requestSeconds.labels(route, String(status))));
    h.observe(seconds);
  }
}
