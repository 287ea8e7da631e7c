// `bench etcd-alone`: etcd's own open-loop tail under launch configurations of the local etcd, paired rounds (each
// round starts a fresh etcd per configuration, in alternating order): one 200-byte put per arrival, the same probe
// as the open-loop baselines (open-loop-baselines.ts), p99 against its own one-requester p50; and from etcd's /metrics
// over the measured steps, the WAL fsync and backend commit distributions (where etcd's own time goes).
import { LocalEtcd } from '../src/local/etcd.js';
import { measureEtcdAlone, type EtcdAlone } from './lib/open-loop-baselines.js';
import { median, round } from './lib/stats.js';

export interface EtcdConfig {
  readonly label: string;
  /** etcd flags (`--name=value`). */
  readonly args: readonly string[];
  /** Environment of the etcd process (e.g. GOGC=200). */
  readonly env: Readonly<Record<string, string>>;
}

/** "--backend-batch-interval=10ms GOGC=200": flags start with "-", the rest are NAME=value environment variables. */
export function parseEtcdConfig(spec: string): EtcdConfig {
  const tokens = spec.split(/\s+/).filter((t) => t && t !== 'default');
  const env: Record<string, string> = {};
  const args: string[] = [];
  for (const t of tokens) {
    if (t.startsWith('-')) args.push(t);
    else if (/^[A-Z_][A-Z0-9_]*=/.test(t)) env[t.slice(0, t.indexOf('='))] = t.slice(t.indexOf('=') + 1);
    else throw new Error(`etcd configuration "${spec}": "${t}" is neither a flag (--name=value) nor NAME=value`);
  }
  return { label: tokens.length ? tokens.join(' ') : 'default', args, env };
}

/** A histogram's buckets (upper bound -> cumulative count) from etcd's /metrics text. */
function buckets(text: string, metric: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const x of text.matchAll(new RegExp(`^${metric}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))) m.set(x[1] === '+Inf' ? Infinity : Number(x[1]), Number(x[2]));
  return m;
}

/** The bucket bound (ms) under which q of the observations between two readings fell; count observed. */
function between(before: Map<number, number>, after: Map<number, number>, q: number): { count: number; atMs: number } {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
  for (const b of bounds) if ((after.get(b) ?? 0) - (before.get(b) ?? 0) >= q * total) return { count: total, atMs: b * 1000 };
  return { count: total, atMs: NaN };
}

interface DiskFigures {
  readonly fsyncs: number;
  readonly fsyncP50Ms: number;
  readonly fsyncP99Ms: number;
  readonly commits: number;
  readonly commitP50Ms: number;
  readonly commitP99Ms: number;
  /** Go GC cycles of the etcd process a second over the run (go_gc_duration_seconds_count). */
  readonly goGcPerSec: number;
}

async function metricsText(endpoint: string): Promise<string> {
  return (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
}

async function oneRun(c: EtcdConfig, o: EtcdAloneOptions, roundIndex: number): Promise<EtcdAlone[] & { disk?: DiskFigures }> {
  const saved = Object.fromEntries(Object.keys(c.env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, c.env); // the etcd child inherits it
  let etcd: LocalEtcd;
  try {
    etcd = await LocalEtcd.start({ extraArgs: c.args, ...(o.dataDir ? { baseDir: o.dataDir } : {}) });
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    const ep = etcd.endpoints[0]!;
    const before = await metricsText(ep);
    const t0 = performance.now();
    const steps = await measureEtcdAlone(etcd.endpoints, o.rates, o.stepMs, o.seed + roundIndex);
    const after = await metricsText(ep);
    const seconds = (performance.now() - t0) / 1000;
    const gcs = (t: string) => Number(/^go_gc_duration_seconds_count (\S+)$/m.exec(t)?.[1] ?? NaN);
    const f = (metric: string, q: number) => between(buckets(before, metric), buckets(after, metric), q);
    const fs = 'etcd_disk_wal_fsync_duration_seconds';
    const bc = 'etcd_disk_backend_commit_duration_seconds';
    return Object.assign(steps, { disk: { fsyncs: f(fs, 0.5).count, fsyncP50Ms: f(fs, 0.5).atMs, fsyncP99Ms: f(fs, 0.99).atMs, commits: f(bc, 0.5).count, commitP50Ms: f(bc, 0.5).atMs, commitP99Ms: f(bc, 0.99).atMs, goGcPerSec: round((gcs(after) - gcs(before)) / seconds, 1) } });
  } finally {
    await etcd.stop();
  }
}

export interface EtcdAloneOptions {
  readonly configs: readonly EtcdConfig[];
  readonly rates: readonly number[];
  readonly rounds: number;
  readonly stepMs: number;
  readonly seed: number;
  readonly dataDir?: string;
}

export async function runEtcdAlone(o: EtcdAloneOptions) {
  const runs = o.configs.map(() => [] as Awaited<ReturnType<typeof oneRun>>[]);
  for (let r = 0; r < o.rounds; r++) {
    // Alternating order: a configuration measured first in one round is measured last in the next.
    const order = o.configs.map((_, i) => i);
    if (r % 2 === 1) order.reverse();
    for (const i of order) {
      process.stderr.write(`etcd alone round ${r + 1}: ${o.configs[i]!.label}\n`);
      runs[i]!.push(await oneRun(o.configs[i]!, o, r));
    }
  }
  return {
    scenario: 'etcd-alone',
    rounds: o.rounds,
    stepSeconds: o.stepMs / 1000,
    configs: o.configs.map((c, i) => {
      const rs = runs[i]!;
      const med = (f: (x: (typeof rs)[number]) => number) => round(median(rs.map(f)), 2);
      return {
        label: c.label,
        args: c.args,
        env: c.env,
        unloadedP50Ms: med((x) => x[0]!.unloadedP50Ms),
        steps: o.rates.map((rate, k) => ({
          offeredPerSec: rate,
          p50Ms: med((x) => x[k]!.p50Ms),
          p99Ms: med((x) => x[k]!.p99Ms),
          ratio: med((x) => x[k]!.ratio),
          ratioPerRound: rs.map((x) => x[k]!.ratio),
          achievedPerSec: med((x) => x[k]!.achievedPerSec),
        })),
        disk: rs[0]?.disk ? { fsyncP50Ms: med((x) => x.disk!.fsyncP50Ms), fsyncP99Ms: med((x) => x.disk!.fsyncP99Ms), commitsPerRun: med((x) => x.disk!.commits), commitP50Ms: med((x) => x.disk!.commitP50Ms), commitP99Ms: med((x) => x.disk!.commitP99Ms), goGcPerSec: med((x) => x.disk!.goGcPerSec) } : undefined,
      };
    }),
  };
}
