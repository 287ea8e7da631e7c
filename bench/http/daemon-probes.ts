// What the HTTP open loop reads from the daemon beside its answers: its own counters from /metrics around each step
// (txns sent to etcd, its GC), and the unloaded p50's parts (an HTTPS round trip alone).
import type { Agent } from 'node:https';
import type { ServerSplit, StepPhases } from '../lib/sweep.js';
import { Latencies } from '../lib/stats.js';
import { cpuSeconds } from '../lib/proc-cpu.js';
import { openLoopPercentiles } from '../lib/open-loop.js';
import { getText, type DaemonEndpoint } from './client.js';

/** The counters a step's phases are the difference of. */
export interface DaemonCounters {
  readonly txns: number;
  readonly gcSeconds: number;
  /** Of which mark-compact pauses (kind="major"). */
  readonly majorGcSeconds: number;
  /** GC pauses recorded so far, and those of at most 10 ms (the histogram's 0.01 bucket). */
  readonly gcPauses: number;
  readonly gcUpTo10Ms: number;
  /** Event-loop delay since the previous scrape (prom-client resets its histogram on each), p99 and max, seconds. */
  readonly loopLagP99: number;
  readonly loopLagMax: number;
}

/** Sum of a Prometheus text sample over every label set matching `labels` (a substring of the label list). */
function sampleSum(text: string, name: string, labels = ''): number {
  let n = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    n += Number(rest.slice(rest.lastIndexOf(' ') + 1));
  }
  return n;
}

/** The counters out of the daemon's /metrics text (prom-client's exposition format). */
export function parseDaemonCounters(text: string): DaemonCounters {
  return {
    txns: sampleSum(text, 'ipam_txn_duration_seconds_count'),
    gcSeconds: sampleSum(text, 'nodejs_gc_duration_seconds_sum'),
    majorGcSeconds: sampleSum(text, 'nodejs_gc_duration_seconds_sum', 'kind="major"'),
    gcPauses: sampleSum(text, 'nodejs_gc_duration_seconds_count'),
    gcUpTo10Ms: sampleSum(text, 'nodejs_gc_duration_seconds_bucket', 'le="0.01"'),
    loopLagP99: sampleSum(text, 'nodejs_eventloop_lag_p99_seconds'),
    loopLagMax: sampleSum(text, 'nodejs_eventloop_lag_max_seconds'),
  };
}

/** Scrapes a 429 sends again after this long, at most SCRAPE_ATTEMPTS times in all. */
const SCRAPE_RETRY_MS = 1000;
const SCRAPE_ATTEMPTS = 10;

/**
 * The daemon's counters. A scrape is a request from the same peer as the open-loop client, whose 128 connections can
 * all be in flight at the end of an overloaded step: the daemon then refuses it with 429 (peer-admission.ts,
 * maxInFlight 128), and it waits for answers as its Retry-After says.
 */
async function counters(d: DaemonEndpoint, agent: Agent): Promise<DaemonCounters> {
  for (let attempt = 1; ; attempt++) {
    const r = await getText(d, agent, '/metrics');
    if (r.status === 200) return parseDaemonCounters(r.text);
    if (r.status !== 429 || attempt >= SCRAPE_ATTEMPTS) throw new Error(`daemon /metrics answered ${r.status}`);
    await new Promise((ok) => setTimeout(ok, SCRAPE_RETRY_MS));
  }
}

/** CPU seconds so far of the daemon (/proc) and of this process, all its threads (the open-loop client's among them). */
function cpuNow(pid: number | undefined): { daemon: number | undefined; bench: number } {
  const u = process.cpuUsage();
  return { daemon: cpuSeconds(pid), bench: (u.user + u.system) / 1e6 };
}

/**
 * Sweep phases from the daemon's /metrics: scraped before a step's first arrival and after its last answer; and the
 * CPU the daemon and this process used between the two (`pid`: the daemon's).
 */
export function daemonPhases(d: DaemonEndpoint & { pid?: number }, agent: Agent): { begin(): Promise<void>; end(): Promise<StepPhases> } {
  let before: DaemonCounters | undefined;
  let began = 0;
  let cpuBefore = cpuNow(undefined);
  return {
    async begin() {
      before = await counters(d, agent);
      cpuBefore = cpuNow(d.pid);
      began = performance.now();
    },
    async end() {
      const ms = performance.now() - began;
      const cpu = cpuNow(d.pid);
      const after = await counters(d, agent);
      const b = before!;
      return {
        txnsPerSec: ((after.txns - b.txns) * 1000) / ms,
        daemonGc: {
          totalMs: Math.round((after.gcSeconds - b.gcSeconds) * 1e5) / 100,
          majorMs: Math.round((after.majorGcSeconds - b.majorGcSeconds) * 1e5) / 100,
          over10Ms: after.gcPauses - b.gcPauses - (after.gcUpTo10Ms - b.gcUpTo10Ms),
        },
        // The begin scrape reset the daemon's loop-delay histogram: the end scrape's figures are this step's.
        daemonLoopDelayMs: { p99: Math.round(after.loopLagP99 * 1e5) / 100, max: Math.round(after.loopLagMax * 1e5) / 100 },
        cpuSeconds: { daemon: cpu.daemon !== undefined && cpuBefore.daemon !== undefined ? cpu.daemon - cpuBefore.daemon : NaN, bench: cpu.bench - cpuBefore.bench },
      };
    },
  };
}

/**
 * Where a step's answers waited: the daemon's own time (Server-Timing) and the rest (client, TLS, network: the
 * latency from the scheduled arrival less it), p50/p99 each; and over the tail (answers at or above the step's p99)
 * the median of each, so the slowest 1% say which side they waited on.
 */
export function serverSplit(answers: readonly { ms: number; value: unknown }[]): ServerSplit | undefined {
  const pairs = answers.flatMap((a) => {
    const s = (a.value as { serverMs?: number }).serverMs;
    return s === undefined ? [] : [{ ms: a.ms, server: s }];
  });
  if (pairs.length === 0) return undefined;
  // The open loop's own nearest-rank percentiles, so the tail below is the step's own p99.
  const server = openLoopPercentiles(pairs.map((x) => x.server));
  const outside = openLoopPercentiles(pairs.map((x) => x.ms - x.server));
  const p99 = openLoopPercentiles(pairs.map((x) => x.ms)).p99;
  const tail = pairs.filter((x) => x.ms >= p99);
  return {
    serverP50Ms: server.p50,
    serverP99Ms: server.p99,
    outsideP50Ms: outside.p50,
    outsideP99Ms: outside.p99,
    tailServerMs: openLoopPercentiles(tail.map((x) => x.server)).p50,
    tailOutsideMs: openLoopPercentiles(tail.map((x) => x.ms - x.server)).p50,
  };
}

/** One connection, closed loop: GET /healthz `calls` times; its p50 is the HTTPS round trip with no work behind it. */
export async function httpsRoundTripP50(d: DaemonEndpoint, agent: Agent, calls: number): Promise<number> {
  for (let i = 0; i < 20; i++) await getText(d, agent, '/healthz');
  const l = new Latencies();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await getText(d, agent, '/healthz');
    l.add(performance.now() - t);
  }
  return l.summary().p50;
}
