// `bench http`: allocations through the daemon's HTTP API (64 clients by default), on one daemon and split over two
// daemons sharing one etcd; baseline: the same allocator in-process with the same number of requesters, same run.
import { randomBytes } from 'node:crypto';
import { get as httpsGet } from 'node:https';
import { runAllocLoad, type LoadResult } from '../alloc/driver.js';
import { definePool, openEngine } from '../alloc/engine.js';
import { checkInvariants, loggedAllocationsThenDrop } from '../alloc/invariants.js';
import { podRef } from '../alloc/types.js';
import { etcdStalls, stallsBetween, type EtcdStalls } from '../lib/etcd-stalls.js';
import { cpuSeconds } from '../lib/proc-cpu.js';
import { progress } from '../lib/progress.js';
import { median, round } from '../lib/stats.js';
import { httpAllocator } from './client.js';
import { runWrk } from './wrk.js';
import { startServe, type ServeProcess } from '../../src/local/serve-process.js';

export interface HttpBenchOptions {
  readonly endpoints: string[];
  /** Local etcd members' process ids, for their CPU per allocation (none: not reported). */
  readonly etcdPids?: readonly number[];
  readonly clients: number;
  readonly count: number;
  readonly rounds: number;
  readonly daemons: readonly number[];
  readonly warmup: number;
  readonly poolCidr: string;
  readonly timeLimitMs: number;
  /** Load generator: wrk (C, default) or Node's http client in this process. */
  readonly client: 'wrk' | 'node';
  /** Measured seconds per run with wrk (wrk runs for a time, not a count). */
  readonly seconds: number;
  /** All clients on the first daemon: the others only follow the log (their CPU is the cost of following). */
  readonly loadFirstOnly?: boolean;
}

interface RoundFigures {
  allocsPerSec: number;
  /** Appends per etcd txn in the daemons (from their /metrics), measured run only; in-process: from the store. */
  txnBatchMean: number;
  /** From the daemons' /metrics over the measured run: mean etcd txn round trip (ms) and allocation conflicts. */
  txnMeanMs?: number;
  conflicts?: number;
  latencyMs: LoadResult['latencyMs'];
  errors: number;
  errorMessages: string[];
  invariants: { duplicates: number; lost: number; extra: number };
  /** Logged but unanswered allocations tolerated: calls in flight when wrk stopped (it drops their answers). */
  extraAllowed: number;
  /** etcd's WAL fsyncs and backend commits over 16 ms during the measured run (a stalling disk shows here). */
  etcdStalls?: EtcdStalls;
  /** CPU microseconds per acknowledged allocation over the measured run: each daemon, and etcd. */
  cpuUsPerAlloc?: { daemons: number[]; etcd: number | undefined };
}

interface DaemonTotals {
  members: number;
  txns: number;
  txnSeconds: number;
  conflicts: number;
}

const perAlloc = (cpuSeconds: number, allocations: number) => round((cpuSeconds * 1e6) / allocations);

/** Sum of readings; undefined when any is missing. */
function sum(xs: readonly (number | undefined)[]): number | undefined {
  let n = 0;
  for (const x of xs) {
    if (x === undefined) return undefined;
    n += x;
  }
  return n;
}

function metricsText(d: ServeProcess): Promise<string> {
  return new Promise((ok, fail) => {
    const req = httpsGet(`${d.url}/metrics`, { headers: { authorization: `Bearer ${d.token}` }, ca: d.ca }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ok(text));
    });
    req.on('error', fail);
  });
}

/** Running totals from one daemon's /metrics. */
async function daemonTotals(d: ServeProcess): Promise<DaemonTotals> {
  const text = await metricsText(d);
  const num = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    members: num('ipam_txn_batch_members_sum'),
    txns: num('ipam_txn_batch_members_count'),
    txnSeconds: num('ipam_txn_duration_seconds_sum'),
    conflicts: num('ipam_conflicts_total'),
  };
}

/** What the daemons did between two readings of their totals (summed over daemons). */
function daemonFigures(before: readonly DaemonTotals[], after: readonly DaemonTotals[]): Pick<RoundFigures, 'txnBatchMean' | 'txnMeanMs' | 'conflicts'> {
  const d = (k: keyof DaemonTotals) => after.reduce((n, x, i) => n + x[k] - before[i]![k], 0);
  const txns = Math.max(1, d('txns'));
  return { txnBatchMean: round(d('members') / txns, 1), txnMeanMs: round((d('txnSeconds') * 1000) / txns, 2), conflicts: d('conflicts') };
}

function figures(result: LoadResult, tag: string, logged: { address: string; id: string }[], daemon: Pick<RoundFigures, 'txnBatchMean' | 'txnMeanMs' | 'conflicts'>): RoundFigures {
  const acks = result.allocations.map((a) => ({ address: a.address, id: `${tag}-${podRef(a.requester, a.seq)}` }));
  const inv = checkInvariants(acks, logged);
  return {
    allocsPerSec: round(result.allocsPerSec),
    ...daemon,
    latencyMs: result.latencyMs,
    errors: result.errors,
    errorMessages: result.errorMessages,
    invariants: { duplicates: inv.duplicates, lost: inv.lost, extra: inv.extra },
    extraAllowed: 0,
  };
}

/** One run with wrk: a short warm-up, then `seconds` measured, connections split over the daemons. */
async function wrkRun(o: HttpBenchOptions, procs: readonly ServeProcess[], prefix: string): Promise<RoundFigures> {
  const loaded = o.loadFirstOnly ? procs.slice(0, 1) : procs;
  const per = Math.ceil(o.clients / loaded.length);
  await Promise.all(loaded.map((d, i) => runWrk(d, { connections: per, seconds: 2, podPrefix: `warm-${i}-` })));
  const before = await Promise.all(procs.map(daemonTotals));
  const stallsBefore = await etcdStalls(o.endpoints);
  const cpu = () => ({ daemons: procs.map((p) => cpuSeconds(p.pid)), etcd: sum((o.etcdPids ?? []).map(cpuSeconds)) });
  const cpuBefore = cpu();
  const runs = await Promise.all(loaded.map((d, i) => runWrk(d, { connections: per, seconds: o.seconds, podPrefix: `m${i}-` })));
  const cpuAfter = cpu();
  const stalls = stallsBetween(stallsBefore, await etcdStalls(o.endpoints));
  const after = await Promise.all(procs.map(daemonTotals));
  await Promise.all(procs.map((p) => p.stop()));
  const logged = await loggedAllocationsThenDrop(o.endpoints, prefix);
  const acks = runs.flatMap((r) => r.acks);
  const inv = checkInvariants(acks, logged);
  // Several wrk processes: the worst of their percentiles (wrk does not export its histogram).
  const worst = (k: 'p50' | 'p90' | 'p99' | 'max') => Math.max(...runs.map((r) => r.latencyMs[k]));
  return {
    allocsPerSec: round(runs.reduce((n, r) => n + r.perSec, 0)),
    ...daemonFigures(before, after),
    latencyMs: { p50: worst('p50'), p90: worst('p90'), p99: worst('p99'), max: worst('max') },
    errors: runs.reduce((n, r) => n + r.errors, 0),
    errorMessages: runs.flatMap((r) => r.errorMessages).slice(0, 5),
    invariants: { duplicates: inv.duplicates, lost: inv.lost, extra: inv.extra },
    extraAllowed: o.clients,
    ...(stalls ? { etcdStalls: stalls } : {}),
    ...(acks.length > 0 && cpuAfter.daemons.every((x, i) => x !== undefined && cpuBefore.daemons[i] !== undefined)
      ? {
          cpuUsPerAlloc: {
            daemons: cpuAfter.daemons.map((x, i) => perAlloc(x! - cpuBefore.daemons[i]!, acks.length)),
            etcd: cpuAfter.etcd !== undefined && cpuBefore.etcd !== undefined && (o.etcdPids?.length ?? 0) > 0 ? perAlloc(cpuAfter.etcd - cpuBefore.etcd, acks.length) : undefined,
          },
        }
      : {}),
  };
}

async function httpRound(o: HttpBenchOptions, daemons: number, label: string): Promise<RoundFigures> {
  const prefix = `/bench-http-${randomBytes(4).toString('hex')}/`;
  await definePool(o.endpoints, prefix, o.poolCidr);
  const procs = await Promise.all(Array.from({ length: daemons }, (_, i) => startServe({ endpoints: o.endpoints, prefix, node: `bench-${i}` })));
  try {
    if (o.client === 'wrk') return await wrkRun(o, procs, prefix);
    const perDaemon = Math.ceil(o.clients / daemons);
    if (o.warmup > 0) {
      const warm = httpAllocator(procs, 'warm', perDaemon);
      await runAllocLoad(warm, { requesters: o.clients, count: o.warmup, timeLimitMs: 60_000 });
      await warm.close();
    }
    const a = httpAllocator(procs, 'm', perDaemon);
    const before = await Promise.all(procs.map(daemonTotals));
    const bar = progress(label, o.count);
    const result = await runAllocLoad(a, { requesters: o.clients, count: o.count, timeLimitMs: o.timeLimitMs, onProgress: (d) => bar.update(d) });
    bar.stop();
    const after = await Promise.all(procs.map(daemonTotals));
    await a.close();
    await Promise.all(procs.map((p) => p.stop()));
    return figures(result, 'm', await loggedAllocationsThenDrop(o.endpoints, prefix), daemonFigures(before, after));
  } finally {
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function inProcessRound(o: HttpBenchOptions, label: string): Promise<RoundFigures> {
  const prefix = `/bench-http-base-${randomBytes(4).toString('hex')}/`;
  await definePool(o.endpoints, prefix, o.poolCidr);
  const a = await openEngine(o.endpoints, prefix, 'm');
  try {
    if (o.warmup > 0) await runAllocLoad({ allocate: (r, s) => a.allocate(r, s + 1_000_000), close: async () => undefined }, { requesters: o.clients, count: o.warmup, timeLimitMs: 60_000 });
    const sizesBefore = a.store.stats.batchSizes.length;
    const bar = progress(label, o.count);
    const result = await runAllocLoad(a, { requesters: o.clients, count: o.count, timeLimitMs: o.timeLimitMs, onProgress: (d) => bar.update(d) });
    bar.stop();
    const sizes = a.store.stats.batchSizes.slice(sizesBefore);
    await a.close();
    // The warm-up used seq >= 1e6 under the same tag: count only the measured pods.
    const logged = (await loggedAllocationsThenDrop(o.endpoints, prefix)).filter((l) => Number(/-s(\d+)$/.exec(l.id)?.[1]) < 1_000_000);
    return figures(result, 'm', logged, { txnBatchMean: round(sizes.reduce((x, y) => x + y, 0) / Math.max(1, sizes.length), 1) });
  } catch (e) {
    await a.close();
    throw e;
  }
}

function summary(rounds: RoundFigures[]) {
  const byRate = [...rounds].sort((a, b) => a.allocsPerSec - b.allocsPerSec);
  const mid = byRate[Math.floor((byRate.length - 1) / 2)]!;
  return {
    allocsPerSec: round(median(rounds.map((r) => r.allocsPerSec))),
    txnBatchMean: mid.txnBatchMean,
    txnMeanMs: mid.txnMeanMs,
    conflicts: mid.conflicts,
    latencyMs: mid.latencyMs,
    p99PerRound: rounds.map((r) => r.latencyMs.p99),
    etcdStallsPerRound: rounds.map((r) => (r.etcdStalls ? `${r.etcdStalls.fsync}/${r.etcdStalls.commit}` : '-')),
    cpuUsPerAlloc: mid.cpuUsPerAlloc,
    perRound: rounds.map((r) => r.allocsPerSec),
    errors: rounds.reduce((n, r) => n + r.errors, 0),
    errorMessages: rounds.flatMap((r) => r.errorMessages).slice(0, 5),
    extraAllowed: rounds.reduce((n, r) => n + r.extraAllowed, 0),
    invariants: {
      duplicates: rounds.reduce((n, r) => n + r.invariants.duplicates, 0),
      lost: rounds.reduce((n, r) => n + r.invariants.lost, 0),
      extra: rounds.reduce((n, r) => n + r.invariants.extra, 0),
    },
  };
}

export async function runHttpBench(o: HttpBenchOptions) {
  const base: RoundFigures[] = [];
  const http = new Map<number, RoundFigures[]>(o.daemons.map((d) => [d, []]));
  // Interleave: each round measures the baseline and every daemon count back to back, so noise hits them alike.
  for (let r = 0; r < o.rounds; r++) {
    base.push(await inProcessRound(o, `in-process round ${r + 1}`));
    for (const d of o.daemons) http.get(d)!.push(await httpRound(o, d, `http ${d} daemon(s) round ${r + 1}`));
  }
  const baseline = summary(base);
  const configs = o.daemons.map((d) => {
    const s = summary(http.get(d)!);
    return { daemons: d, ...s, ratioVsInProcess: round(s.allocsPerSec / baseline.allocsPerSec, 3) };
  });
  return { scenario: 'http', client: o.client, clients: o.clients, count: o.count, seconds: o.seconds, rounds: o.rounds, baseline: { inProcess: baseline }, configs };
}
