// Retention: how much of the log stays in etcd. The horizon moves to the newest commit that is older than minAge
// AND at least minRevisions behind the head; past the byte budget the age is waived (archive early, warn), never the
// revisions. Parsed from `ipam serve` flags.

export interface RetentionPolicy {
  /** Keep commits younger than this in etcd (ms; default 7 days). */
  readonly minAgeMs: number;
  /** Keep at least this many etcd revisions behind the head (default 10,000). */
  readonly minRevisions: number;
  /** Byte budget of the prefix in etcd; past it the age is waived. Undefined: no budget. */
  readonly maxBytes: number | undefined;
  /** How often the maintaining daemon considers moving the horizon (ms; default 60 s). */
  readonly intervalMs: number;
  /** Records archived per run at most (bounds one run's time and memory; the next run continues). */
  readonly maxRecordsPerRun: number;
  /** A segment holds at most this many records. */
  readonly segmentRecords: number;
  /**
   * Move the horizon only when at least this many records would be archived (each move writes a checkpoint of the
   * whole state: moving for a handful of records would cost more etcd bytes than it frees). At most segmentRecords.
   */
  readonly minRecordsPerMove: number;
}

export const DEFAULT_RETENTION: RetentionPolicy = {
  minAgeMs: 7 * 24 * 3600_000,
  minRevisions: 10_000,
  maxBytes: 512 * 1024 * 1024,
  intervalMs: 60_000,
  maxRecordsPerRun: 100_000,
  segmentRecords: 20_000,
  minRecordsPerMove: 1_000,
};

/** The prefix's footprint in etcd (injected: the quota branch measures it in src/store/footprint.ts). */
export type FootprintFn = () => Promise<{ readonly bytes: number }>;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: 86_400_000 };

/** "7d", "36h", "90m", "30s", "250ms" -> milliseconds. */
export function parseDuration(s: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s.trim());
  if (!m) throw new Error(`${field} ${JSON.stringify(s)}: expected a duration such as 7d, 36h, 90m, 30s or 250ms`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

const BYTES: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 1024, mi: 1024 ** 2, gi: 1024 ** 3 };

/** "512MiB", "1GiB", "800MB", "1048576" -> bytes. */
export function parseBytes(s: string, field: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmg]i?)?b?$/i.exec(s.trim());
  if (!m) throw new Error(`${field} ${JSON.stringify(s)}: expected a size such as 512MiB, 1GiB or 800MB`);
  return Math.floor(Number(m[1]) * BYTES[(m[2] ?? '').toLowerCase()]!);
}

export function positiveInt(s: string, field: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${field} ${JSON.stringify(s)}: expected a whole number >= 0`);
  return n;
}
