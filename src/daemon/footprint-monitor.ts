// Measures the engine's footprint in etcd now and then (bounded: see src/store/footprint.ts) for the metrics, and
// warns before etcd's quota is reached (at NOSPACE etcd refuses every write, the cluster's own included).
import type { Logger } from 'pino';
import { footprint, type Footprint, type FootprintOptions } from '../store/footprint.js';
import type { EventStore } from '../store/event-store.js';

export interface FootprintPolicy extends FootprintOptions {
  /** How often to measure (ms). */
  readonly intervalMs: number;
  /** Warn when etcd's db size passes this fraction of its quota. */
  readonly warnFraction: number;
}

export const DEFAULT_FOOTPRINT: FootprintPolicy = { intervalMs: 60_000, warnFraction: 0.8 };

export class FootprintMonitor {
  private timer: NodeJS.Timeout | undefined;
  private measuring: Promise<Footprint | undefined> | undefined;
  private next: Promise<Footprint | undefined> | undefined;
  /** The last measurement (undefined until the first one completes). */
  latest: Footprint | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly log: Logger,
    private readonly policy: FootprintPolicy = DEFAULT_FOOTPRINT,
  ) {}

  start(): void {
    void this.measure();
    this.timer = setInterval(() => void this.measure(), this.policy.intervalMs);
    this.timer.unref();
  }

  /**
   * Measures now (one measurement at a time): the answer is from a measurement started after this call, so it sees every
   * write made before it (one already out is not joined: callers arriving meanwhile share the next one).
   * Undefined when etcd did not answer.
   */
  measure(): Promise<Footprint | undefined> {
    if (this.measuring) {
      this.next ??= this.measuring.then(() => {
        this.next = undefined;
        return this.measure();
      });
      return this.next;
    }
    this.measuring = footprint(this.store.client, this.store.keys, this.policy)
      .then((f) => {
        this.latest = f;
        this.warnIfNearQuota(f);
        return f;
      })
      .catch((e: unknown) => {
        this.log.warn({ err: (e as Error).message }, 'footprint measurement failed; will try again');
        return undefined;
      })
      .finally(() => (this.measuring = undefined));
    return this.measuring;
  }

  private warnIfNearQuota(f: Footprint): void {
    if (f.dbSizeBytes === undefined || f.dbSizeBytes < f.quotaBytes * this.policy.warnFraction) return;
    this.log.warn(
      { dbSizeBytes: f.dbSizeBytes, dbSizeInUseBytes: f.dbSizeInUseBytes, quotaBytes: f.quotaBytes, prefixBytes: f.prefixBytes, prefixKeys: f.prefixKeys },
      `etcd's db size is ${Math.round((f.dbSizeBytes / f.quotaBytes) * 100)}% of its quota: at 100% etcd raises NOSPACE and refuses every write; ` +
        'archive old log records (retention), compact and defragment etcd, or raise --quota-backend-bytes',
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.measuring;
  }
}
