// What the metrics say about the log's lifecycle: the horizon as etcd holds it (re-read every few seconds: one key),
// and, on a daemon that takes part in maintenance, its last run and the archive's size.
import type { EventStore } from '../store/event-store.js';
import { readHorizon, type Horizon } from '../store/horizon.js';
import type { MaintenanceRun } from '../lifecycle/maintainer.js';
import type { ArchiveDir } from '../lifecycle/archive.js';

/** How often the horizon key is re-read for the metrics. */
const HORIZON_REFRESH_MS = 5_000;

export class HorizonMonitor {
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  /** The horizon as last read (undefined: never cut, or not read yet). */
  latest: Horizon | undefined;

  constructor(private readonly store: EventStore) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), HORIZON_REFRESH_MS);
    this.timer.unref();
  }

  /** Reads the horizon key now (one read at a time; a failed read keeps the last value). */
  refresh(): Promise<void> {
    this.reading ??= readHorizon(this.store.client, this.store.keys)
      .then((h) => void (this.latest = h.horizon))
      .catch(() => undefined)
      .finally(() => (this.reading = undefined));
    return this.reading;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.reading;
  }
}

/** The last maintenance run of this daemon, and the archive as that run left it. */
export interface MaintenanceStatus {
  runs: number;
  failures: number;
  /** Unix ms of the last run's end, of the last successful one (0: none yet). */
  lastRunAt: number;
  lastSuccessAt: number;
  lastOk: boolean;
  lastSeconds: number;
  /** This daemon held the maintenance lease in its last run. */
  maintainer: boolean;
  archive: { bytes: number; segments: number; through: number; checkpoints: number } | undefined;
}

export function newMaintenanceStatus(): MaintenanceStatus {
  return { runs: 0, failures: 0, lastRunAt: 0, lastSuccessAt: 0, lastOk: false, lastSeconds: 0, maintainer: false, archive: undefined };
}

/** Records one run's outcome; the archive's figures from its manifest as the run loaded it (maintainer only). */
export function recordRun(s: MaintenanceStatus, r: MaintenanceRun | Error, archive: ArchiveDir, checkpoints: number | undefined, now = Date.now()): void {
  s.runs++;
  s.lastRunAt = now;
  s.lastOk = !(r instanceof Error);
  if (r instanceof Error) {
    s.failures++;
    return;
  }
  s.lastSuccessAt = now;
  s.lastSeconds = r.ms / 1000;
  s.maintainer = r.role === 'maintainer';
  if (!s.maintainer) return;
  let bytes = 0;
  for (const seg of archive.segments) bytes += seg.bytes;
  s.archive = { bytes, segments: archive.segments.length, through: archive.through, checkpoints: checkpoints ?? s.archive?.checkpoints ?? 0 };
}
