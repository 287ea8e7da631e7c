// `bench daemon-memory`: what a daemon holding N live pods costs in memory. The synthetic log (bench/lib/synth.ts:
// dual-stack pods coming and going, --live of them at the end) is written into etcd through the store; then a real
// `ipam serve` (src/local/serve-process.ts, the daemon's own Node flags) starts on it without a checkpoint, replays it
// into its allocator model and every live projection, and is read once ready and settled: VmRSS, VmHWM and its V8
// heap (its /metrics: prom-client's nodejs_* gauges). A daemon on an empty log in the same run is the baseline, so
// the per-pod figures are (log - empty) / live pods. Apart from the daemon, bench/memory/worker.ts measures the
// heap the model and the projections hold after a full GC, per live pod, in a fresh process on the same log.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startServe } from '../src/local/serve-process.js';
import { loadSynthLog } from './replay.js';
import { EVENTS_PER_COMMIT } from './lib/synth.js';
import { median, round } from './lib/stats.js';
import { cpuSeconds } from './lib/proc-cpu.js';

export interface DaemonMemoryOptions {
  readonly endpoints: readonly string[];
  readonly events: number;
  readonly live: number;
  readonly rounds: number;
  /** Extra node flags for the measured daemons. */
  readonly nodeArgs: readonly string[];
  /** Also measure daemons with these flags instead, paired with the others in every round (an A/B of V8 flags). */
  readonly compareNodeArgs?: readonly string[];
  /** Extra environment of the measured daemons (e.g. IPAM_SETTLE_HEAP, glibc's MALLOC_* settings). */
  readonly env?: Readonly<Record<string, string>>;
  /** The compared daemons' environment instead (with or without --compare-node-args). */
  readonly compareEnv?: Readonly<Record<string, string>>;
  /** Seconds a ready daemon is left before it is read (default 3). */
  readonly settleSeconds?: number;
  /** Also write a heap snapshot of each measured daemon (after it was read) into this directory. */
  readonly heapSnapshotDir?: string;
}

/** The floor of issue #17: a daemon holding 100,000 live endpoints within this RSS. */
export const DAEMON_RSS_FLOOR_MB = 350;

/** Seconds a started daemon is left to settle before it is read (coalesced projections, first timers). */
const SETTLE_SECONDS = 3;

export interface DaemonReading {
  readonly readySeconds: number;
  /** CPU seconds the daemon used until ready (its start: the replay of the log, the GC's threads included). */
  readonly cpuSecondsToReady: number;
  readonly rssMB: number;
  readonly peakRssMB: number;
  readonly heapUsedMB: number;
  readonly heapTotalMB: number;
  readonly externalMB: number;
  /** V8 heap spaces in use (old, new, code, large_object, ...), MB. */
  readonly spacesMB: Record<string, number>;
  readonly allocatedAddresses: number;
}

const MB = 1024 * 1024;

async function metricsOf(socket: string): Promise<string> {
  return new Promise<string>((ok, fail) =>
    get({ socketPath: socket, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c)).on('end', () => ok(body)).on('error', fail);
    }).on('error', fail),
  );
}

function gauge(metrics: string, name: string, labels = ''): number {
  const m = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : ''} ([\\d.e+]+)`, 'm').exec(metrics);
  return m ? Number(m[1]) : NaN;
}

/** Starts `ipam serve` on `prefix`, waits until it is ready and settled, reads it, stops it. */
export async function readDaemon(endpoints: readonly string[], prefix: string, nodeArgs: readonly string[], settleSeconds = SETTLE_SECONDS, heapSnapshotDir?: string, env: Readonly<Record<string, string>> = {}): Promise<DaemonReading> {
  const t0 = performance.now();
  const snapshotArgs = heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapSnapshotDir}`] : [];
  const d = await startServe({ endpoints, prefix, node: 'bench-node', timeoutMs: 600_000, nodeArgs: [...nodeArgs, ...snapshotArgs], env });
  try {
    const readySeconds = (performance.now() - t0) / 1000;
    const cpuSecondsToReady = cpuSeconds(d.pid) ?? NaN;
    await new Promise((r) => setTimeout(r, settleSeconds * 1000));
    const status = readFileSync(`/proc/${d.pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    const rssMB = kb('VmRSS') / 1024;
    const peakRssMB = kb('VmHWM') / 1024;
    // After RSS was read: a scrape renders nothing the daemon holds (pool gauges come from the model).
    const metrics = await metricsOf(d.socket);
    let allocated = 0;
    for (const m of metrics.matchAll(/^ipam_pool_allocated_addresses\{[^}]*\} (\d+)/gm)) allocated += Number(m[1]);
    const spacesMB: Record<string, number> = {};
    for (const m of metrics.matchAll(/^nodejs_heap_space_size_used_bytes\{space="([a-z_]+)"\} ([\d.e+]+)/gm)) spacesMB[m[1]!] = round(Number(m[2]) / MB, 1);
    if (heapSnapshotDir) await heapSnapshot(d.pid, heapSnapshotDir);
    return {
      readySeconds: round(readySeconds, 2),
      cpuSecondsToReady: round(cpuSecondsToReady, 2),
      rssMB: round(rssMB, 1),
      peakRssMB: round(peakRssMB, 1),
      heapUsedMB: round(gauge(metrics, 'nodejs_heap_size_used_bytes') / MB, 1),
      heapTotalMB: round(gauge(metrics, 'nodejs_heap_size_total_bytes') / MB, 1),
      externalMB: round(gauge(metrics, 'nodejs_external_memory_bytes') / MB, 1),
      spacesMB,
      allocatedAddresses: allocated,
    };
  } finally {
    await d.stop();
  }
}

/** Signals the daemon to write a heap snapshot (it forces a full GC) and waits until the file is complete. */
async function heapSnapshot(pid: number, dir: string): Promise<void> {
  const { readdirSync, statSync } = await import('node:fs');
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  for (let last = -1, stable = 0; stable < 3; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const f = readdirSync(dir).find((x) => !before.has(x) && x.endsWith('.heapsnapshot'));
    const size = f ? statSync(`${dir}/${f}`).size : -1;
    stable = size > 0 && size === last ? stable + 1 : 0;
    last = size;
  }
}

interface HeldReading {
  readonly pods: number;
  readonly bytesPerPod: number;
}

/** bench/memory/worker.ts on the same synthetic log: heap held after a full GC, per live pod, of one part. */
async function heldPerPod(part: 'model' | 'projections' | 'all', events: number, live: number): Promise<HeldReading> {
  const worker = fileURLToPath(new URL('./memory/worker.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', worker, part, String(events), String(live)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as HeldReading;
}

export async function runDaemonMemory(o: DaemonMemoryOptions) {
  const id = randomBytes(4).toString('hex');
  const prefix = `/bench-daemon-memory-${id}/`;
  const empty = `/bench-daemon-memory-${id}-empty/`;
  const { client, total } = await loadSynthLog(o.endpoints, prefix, { events: o.events, poolPairs: 10, live: o.live, perCommit: EVENTS_PER_COMMIT }, Infinity, 8);
  try {
    const env = o.env ?? {};
    const comparing = o.compareNodeArgs !== undefined || o.compareEnv !== undefined;
    const variants = [{ nodeArgs: o.nodeArgs, env }, ...(comparing ? [{ nodeArgs: o.compareNodeArgs ?? o.nodeArgs, env: o.compareEnv ?? env }] : [])];
    const baseline: DaemonReading[] = [];
    const runs: DaemonReading[][] = variants.map(() => []);
    for (let r = 0; r < o.rounds; r++) {
      baseline.push(await readDaemon(o.endpoints, empty, o.nodeArgs, o.settleSeconds, undefined, env));
      // Paired: every variant once per round, the order alternating (this machine's load drifts).
      const order = variants.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      for (const i of order) runs[i]!.push(await readDaemon(o.endpoints, prefix, variants[i]!.nodeArgs, o.settleSeconds, o.heapSnapshotDir, variants[i]!.env));
    }
    const model = await heldPerPod('model', o.events, o.live);
    const projections = await heldPerPod('projections', o.events, o.live);
    // The pods the log leaves live (the synthetic churn ends near --live, not on it), as the model counts them.
    const pods = model.pods;
    for (const x of runs.flat()) if (x.allocatedAddresses !== 2 * pods) throw new Error(`the daemon holds ${x.allocatedAddresses} addresses; the log leaves ${2 * pods} (${pods} dual-stack pods)`);
    const med = (xs: readonly DaemonReading[], f: (x: DaemonReading) => number) => round(median(xs.map(f)), 1);
    const summary = (xs: readonly DaemonReading[], v: (typeof variants)[number]) => ({
      nodeArgs: v.nodeArgs,
      env: v.env,
      rssMB: med(xs, (x) => x.rssMB),
      peakRssMB: med(xs, (x) => x.peakRssMB),
      heapUsedMB: med(xs, (x) => x.heapUsedMB),
      heapTotalMB: med(xs, (x) => x.heapTotalMB),
      externalMB: med(xs, (x) => x.externalMB),
      readySeconds: med(xs, (x) => x.readySeconds),
      cpuSecondsToReady: med(xs, (x) => x.cpuSecondsToReady),
      rssBytesPerPod: Math.round(median(xs.map((x, i) => ((x.rssMB - baseline[i]!.rssMB) * MB) / pods))),
      heapUsedBytesPerPod: Math.round(median(xs.map((x, i) => ((x.heapUsedMB - baseline[i]!.heapUsedMB) * MB) / pods))),
      rounds: xs,
      floor: { rssMB: DAEMON_RSS_FLOOR_MB, met: pods >= 100_000 && med(xs, (x) => x.rssMB) <= DAEMON_RSS_FLOOR_MB },
    });
    const main = summary(runs[0]!, variants[0]!);
    return {
      scenario: 'daemon-memory',
      events: total,
      livePods: pods,
      settleSeconds: o.settleSeconds ?? SETTLE_SECONDS,
      ...main,
      baseline: { rssMB: med(baseline, (x) => x.rssMB), heapUsedMB: med(baseline, (x) => x.heapUsedMB), rounds: baseline },
      heldBytesPerPod: { model: model.bytesPerPod, projections: projections.bytesPerPod },
      ...(comparing ? { compare: summary(runs[1]!, variants[1]!) } : {}),
    };
  } finally {
    await client.delete().prefix(prefix);
    await client.delete().prefix(empty);
    client.close();
  }
}
