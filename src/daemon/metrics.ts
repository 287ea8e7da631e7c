// Prometheus metrics of one daemon (its own registry, so several daemons can live in one test process).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Allocator } from '../alloc/allocator.js';
import type { PoolState } from '../alloc/model.js';
import type { EventStore } from '../store/event-store.js';
import type { Footprint } from '../store/footprint.js';
import type { Horizon } from '../store/horizon.js';
import type { MaintenanceStatus } from './log-status.js';

export interface MetricsSources {
  readonly allocator: Allocator;
  readonly store: EventStore;
  /** Revision the live projections reflect. */
  projectionRevision(): number;
  ready(): boolean;
  /** The last footprint measurement (FootprintMonitor), if any. */
  footprint?(): Footprint | undefined;
  /** The log's horizon as last read (HorizonMonitor), if cut. */
  horizon?(): Horizon | undefined;
  /** This daemon's part in log maintenance (only with --archive-dir). */
  maintenance?(): MaintenanceStatus;
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
    // The log's lifecycle (README "Log lifecycle"): the horizon on every daemon; maintenance and the archive where it runs.
    const h = () => src.horizon?.();
    footprintGauge(r, 'ipam_log_horizon_revision', 'The log horizon H: commits at or before it are in the horizon checkpoint and the archive, gone from etcd (0: never cut)', () => h()?.revision);
    footprintGauge(r, 'ipam_log_horizon_age_seconds', 'Age of the last event at or before the horizon: etcd holds the log younger than this (retention keeps it near --retain-min-age)', () => {
      const at = h()?.lastEventAt;
      return at ? Math.max(0, (Date.now() - Date.parse(at)) / 1000) : undefined;
    });
    footprintGauge(r, 'ipam_log_horizon_moved_timestamp_seconds', 'When the maintaining daemon last moved the horizon (unix seconds)', () => {
      const at = h()?.movedAt;
      return at ? Date.parse(at) / 1000 : undefined;
    });
    totalFrom(r, 'ipam_log_horizon_restarts_total', 'Times the log subscription fell behind the horizon (its next records archived out of etcd) and the model and projections restarted from the horizon checkpoint', () => src.allocator.horizonRestarts);
    // Only where maintenance runs (--archive-dir): absent, not 0, on the daemons that never maintain.
    if (src.maintenance) this.maintenanceMetrics(src.maintenance);
    src.store.onCommitted = (members, _events, ms) => {
      this.txnMembers.observe(members);
      this.txnSeconds.observe(ms / 1000);
    };
  }

  /** This daemon's part in maintenance and the archive as its last run left it (0 until the first run says). */
  private maintenanceMetrics(status: () => MaintenanceStatus): void {
    const r = this.registry;
    const ts = (ms: number) => (ms > 0 ? ms / 1000 : undefined);
    footprintGauge(r, 'ipam_log_maintainer', '1 while this daemon maintains the log (held the maintenance lease in its last run)', () => (status().maintainer ? 1 : 0));
    totalFrom(r, 'ipam_log_maintenance_runs_total', "Maintenance passes run by this daemon (a follower's pass only checks the lease)", () => status().runs);
    totalFrom(r, 'ipam_log_maintenance_failures_total', 'Maintenance passes that failed (logged; the next pass resumes)', () => status().failures);
    footprintGauge(r, 'ipam_log_maintenance_last_run_ok', '1 when the last maintenance pass succeeded, 0 when it failed', () => (status().lastOk ? 1 : 0));
    footprintGauge(r, 'ipam_log_maintenance_last_run_timestamp_seconds', 'End of the last maintenance pass (unix seconds)', () => ts(status().lastRunAt));
    footprintGauge(r, 'ipam_log_maintenance_last_success_timestamp_seconds', 'End of the last successful maintenance pass (unix seconds)', () => ts(status().lastSuccessAt));
    footprintGauge(r, 'ipam_log_maintenance_last_run_seconds', 'Duration of the last successful maintenance pass', () => status().lastSeconds);
    const arch = () => status().archive;
    footprintGauge(r, 'ipam_log_archive_bytes', "Compressed bytes of the archive's segments (as the maintaining daemon last loaded its manifest)", () => arch()?.bytes);
    footprintGauge(r, 'ipam_log_archive_segments', 'Segments in the archive', () => arch()?.segments);
    footprintGauge(r, 'ipam_log_archive_revision', 'Every commit at or before this revision is in the archive', () => arch()?.through);
    footprintGauge(r, 'ipam_log_archive_checkpoints', 'Horizon checkpoints kept in the archive (reads of the past start from the nearest)', () => arch()?.checkpoints);
  }

  observeRequest(route: string, status: number, seconds: number): void {
    const k = `${route} ${status}`;
    let h = this.requestChildren.get(k);
    if (!h) this.requestChildren.set(k, (h = this.requestSeconds.labels(route, String(status))));
    h.observe(seconds);
  }
}
