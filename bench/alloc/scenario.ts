// `bench alloc`: N requesters across P processes allocate from one pool; figures are medians over rounds, with the
// pool-CAS baseline and the etcd ceiling measured in the same run, and the log's invariants checked afterwards.
import { execFile } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { withCpuProfile } from '../lib/cpu-profile.js';
import { cpuSecondsOfAll, rateOnCores } from '../lib/proc-cpu.js';
import { progress } from '../lib/progress.js';
import { Latencies, median, round } from '../lib/stats.js';
import { runAllocLoad, timelineToRate, type LoadResult } from './driver.js';
import { definePool, openEngine, openEngineAlias } from './engine.js';
import { checkInvariants, loggedAllocationsThenDrop } from './invariants.js';
import { measureEtcdCeiling } from './etcd-ceiling.js';
import { runBaselines, type BaselineResult } from './run-baselines.js';
import { podRef } from './types.js';
import { PoolOrder } from '../../events/catalogue.js';
import { defaultTagLayout, type TagLayoutName } from '../../src/store/tag-layout.js';

/** Runs `work` with new logs created in `layout` (the engine and the worker processes read IPAM_TAG_LAYOUT). */
async function inLayout<T>(layout: TagLayoutName, work: () => Promise<T>): Promise<T> {
  const before = process.env.IPAM_TAG_LAYOUT;
  process.env.IPAM_TAG_LAYOUT = layout;
  try {
    return await work();
  } finally {
    if (before === undefined) delete process.env.IPAM_TAG_LAYOUT;
    else process.env.IPAM_TAG_LAYOUT = before;
  }
}

/** allocations/s of each order over the first order's, median of the rounds run back to back. */
function pairedRatios(orders: readonly PoolOrder[], byOrder: ReadonlyMap<PoolOrder, readonly Round[]>): Record<string, number> {
  const base = byOrder.get(orders[0]!)!;
  return Object.fromEntries(orders.slice(1).map((x) => [x, round(median(byOrder.get(x)!.map((r, i) => r.allocsPerSec / base[i]!.allocsPerSec)), 3)]));
}

const exec = promisify(execFile);
/** The raw etcd ceiling measured before and after every round: the shape run-baselines uses (20,000 keys, 16 txns of 128). */
const CEILING = { keys: 20_000, concurrency: 16, txnOps: 128 } as const;
const workerPath = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface AllocScenarioOptions {
  readonly endpoints: string[];
  readonly requesters: number;
  readonly processes: number;
  readonly count: number;
  readonly rounds: number;
  readonly poolCidr: string;
  readonly timeLimitMs: number;
  /** Unmeasured allocations per process before each round (default 2000). */
  readonly warmup: number;
  /** Pool orders to measure, each round running every order (alternating which goes first); default scattered. */
  readonly orders?: readonly PoolOrder[];
  /** Also run every round on this pool, back to back (order alternating), for a ratio from paired rounds. */
  readonly comparePool?: string;
  /** Also run every round on a log of this tag layout (src/store/tag-layout.ts), back to back, alternating which goes first. */
  readonly compareLayout?: TagLayoutName;
  /** Local etcd members' process ids, for etcd's CPU per allocation (none: not reported). */
  readonly etcdPids?: readonly number[];
  /** Write a CPU profile of the first round's measured run (one process only) to this file. */
  readonly cpuProfile?: string;
}

interface ProcessRun {
  result: LoadResult;
  tag: string;
  conflicts: number;
  txns: number;
  batchSizes: number[];
  /** CPU seconds (user + system) the allocating process used over its measured run. */
  cpuSeconds: number;
  /** The allocating thread's event-loop utilization over the run (0-1; undefined with worker processes). */
  mainThreadBusy?: number;
}

/** CPU seconds this process has used (user + system). */
export function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** Unmeasured allocations first, so JIT compilation and connection set-up do not land in the figures. */
export async function warmUp(a: Awaited<ReturnType<typeof openEngine>>, o: { requesters: number; warmup: number }): Promise<void> {
  if (o.warmup <= 0) return;
  const warm = await openEngineAlias(a);
  await runAllocLoad(warm, { requesters: o.requesters, count: o.warmup, timeLimitMs: 60_000 });
}

async function oneRound(o: AllocScenarioOptions, r: number, order: PoolOrder, poolCidr = o.poolCidr) {
  const prefix = `/bench-alloc-${randomBytes(4).toString('hex')}/`;
  const size = await definePool(o.endpoints, prefix, poolCidr, order);
  if (size < o.count + o.warmup) throw new Error(`pool ${poolCidr} has ${size} usable addresses, fewer than --count ${o.count} + --warmup ${o.warmup}`);
  const share = (total: number, i: number) => Math.floor(total / o.processes) + (i < total % o.processes ? 1 : 0);
  // The raw etcd ceiling right before the round too: the round is paired with the mean of the ceilings around it
  // (this machine's speed moves within a minute, and one measurement after the round alone pairs it with whatever
  // the next seconds bring).
  const ceilingBefore = await measureEtcdCeiling(o.endpoints, prefix, CEILING);
  let runs: ProcessRun[];
  const t0 = performance.now();
  let etcdBefore: number | undefined;
  if (o.processes === 1) {
    const a = await openEngine(o.endpoints, prefix, 'p0');
    await warmUp(a, o);
    const bar = progress(`alloc round ${r + 1} ${poolCidr} (${order})`, o.count);
    const txnsBefore = a.store.stats.txns;
    const sizesBefore = a.store.stats.batchSizes.length;
    etcdBefore = cpuSecondsOfAll(o.etcdPids);
    const cpuBefore = ownCpuSeconds();
    const eluBefore = performance.eventLoopUtilization();
    const result = await withCpuProfile(r === 0 ? o.cpuProfile : undefined, () => runAllocLoad(a, { requesters: o.requesters, count: o.count, timeLimitMs: o.timeLimitMs, onProgress: (d) => bar.update(d) }));
    const cpu = ownCpuSeconds() - cpuBefore;
    const busy = performance.eventLoopUtilization(eluBefore).utilization;
    bar.stop();
    runs = [{ result, tag: 'p0', conflicts: a.engine.stats.conflicts, txns: a.store.stats.txns - txnsBefore, batchSizes: a.store.stats.batchSizes.slice(sizesBefore), cpuSeconds: cpu, mainThreadBusy: busy }];
    await a.close();
  } else {
    etcdBefore = cpuSecondsOfAll(o.etcdPids);
    runs = await Promise.all(
      Array.from({ length: o.processes }, async (_, i) => {
        const args = { endpoints: o.endpoints, prefix, tag: `p${i}`, requesters: share(o.requesters, i), count: share(o.count, i), timeLimitMs: o.timeLimitMs, warmup: share(o.warmup, i) };
        const { stdout } = await exec(process.execPath, ['--max-semi-space-size=32', workerPath, JSON.stringify(args)], { maxBuffer: 256 << 20 });
        return { ...(JSON.parse(stdout) as Omit<ProcessRun, 'tag'>), tag: args.tag };
      }),
    );
  }
  // etcd's CPU over the measured runs (with several processes: also their warm-ups, which the note says).
  const etcdAfter = cpuSecondsOfAll(o.etcdPids);
  const wall = (performance.now() - t0) / 1000;
  // Invariants: what the log holds against what callers were told.
  const logged = await loggedAllocationsThenDrop(o.endpoints, prefix);
  const acks = runs.flatMap((p) => p.result.allocations.map((a) => ({ address: a.address, id: `${p.tag}-${podRef(a.requester, a.seq)}` })));
  const inv = checkInvariants(acks, logged);
  const allocations = acks.length;
  // The raw etcd ceiling right after the round, on the same etcd: a ratio per round, paired with the mean of the
  // ceilings before and after it, and etcd's CPU per raw key next to its CPU per allocation.
  const ceilingEtcdBefore = cpuSecondsOfAll(o.etcdPids);
  const ceilingAfter = await measureEtcdCeiling(o.endpoints, prefix, CEILING);
  const ceilingEtcdAfter = cpuSecondsOfAll(o.etcdPids);
  const ceilingKeysPerSec = Math.round((ceilingBefore.keysPerSec + ceilingAfter.keysPerSec) / 2);
  // Processes run side by side: the rate is all allocations over the slowest process's time.
  const seconds = Math.max(...runs.map((p) => p.result.seconds));
  const lat = Latencies.merge(runs.map((p) => p.result.latencySamples)).summary();
  const batches = runs.flatMap((p) => p.batchSizes);
  const us = (sec: number) => round((sec * 1e6) / Math.max(1, allocations));
  const cpuUsPerAlloc = { node: us(runs.reduce((n, p) => n + p.cpuSeconds, 0)), etcd: etcdBefore !== undefined && etcdAfter !== undefined ? us(etcdAfter - etcdBefore) : undefined };
  const busy = runs.length === 1 ? runs[0]!.mainThreadBusy : undefined;
  return {
    /** CPU µs per acknowledged allocation over the measured run: the allocating process(es), and etcd. */
    cpuUsPerAlloc,
    bounds: roundBounds(allocations / seconds, ceilingKeysPerSec, cpuUsPerAlloc, busy),
    ceiling: {
      /** The mean of the ceilings measured right before and right after the round (the ratio's denominator). */
      keysPerSec: ceilingKeysPerSec,
      before: ceilingBefore.keysPerSec,
      after: ceilingAfter.keysPerSec,
      etcdCpuUsPerKey: ceilingEtcdBefore !== undefined && ceilingEtcdAfter !== undefined ? round(((ceilingEtcdAfter - ceilingEtcdBefore) * 1e6) / CEILING.keys, 1) : undefined,
    },
    ratioVsCeiling: round(allocations / seconds / ceilingKeysPerSec, 3),
    allocsPerSec: allocations / seconds,
    allocations,
    seconds,
    wallSeconds: wall,
    latencyMs: lat,
    conflicts: runs.reduce((n, p) => n + p.conflicts, 0),
    errors: runs.reduce((n, p) => n + p.result.errors, 0),
    txns: runs.reduce((n, p) => n + p.txns, 0),
    txnBatch: { mean: round(batches.reduce((a, b) => a + b, 0) / Math.max(1, batches.length), 1), max: Math.max(0, ...batches) },
    invariants: { duplicates: inv.duplicates, lost: inv.lost, extra: inv.extra },
    timeline: runs[0]!.result.timeline,
    processes: runs.map((p) => ({ tag: p.tag, allocations: p.result.allocations.length, allocsPerSec: round(p.result.allocsPerSec), conflicts: p.conflicts })),
  };
}

/**
 * What a round's own figures allow, as ratios to its ceiling: `busyThreadRatio`, the rate had the allocating thread
 * been busy all the time at its µs per allocation (rate / its event-loop utilization); `coresRatio`, the rate had the
 * machine's cores done nothing but the process's and etcd's CPU per allocation (the bench's driver is in the process's).
 */
export function roundBounds(rate: number, ceiling: number, cpu: { node: number; etcd: number | undefined }, busy: number | undefined, cores = availableParallelism()) {
  return {
    mainThreadBusy: busy === undefined ? undefined : round(busy, 3),
    busyThreadRatio: busy === undefined || busy <= 0 ? undefined : round(rate / busy / ceiling, 3),
    cores,
    // µs per allocation: one allocation over (node + etcd) / 1e6 CPU-seconds.
    coresRatio: cpu.etcd === undefined ? undefined : round(rateOnCores(1, (cpu.node + cpu.etcd) / 1e6, cores) / ceiling, 3),
  };
}

type Round = Awaited<ReturnType<typeof oneRound>>;

function orderSummary(rounds: readonly Round[]) {
  const byRate = [...rounds].sort((a, b) => a.allocsPerSec - b.allocsPerSec);
  const mid = byRate[Math.floor((byRate.length - 1) / 2)]!;
  return {
    allocsPerSec: round(median(rounds.map((x) => x.allocsPerSec))),
    conflicts: median(rounds.map((x) => x.conflicts)),
    latencyMs: mid.latencyMs,
    perRound: rounds.map((x) => ({ allocsPerSec: round(x.allocsPerSec), conflicts: x.conflicts })),
    invariants: {
      duplicates: rounds.reduce((n, x) => n + x.invariants.duplicates, 0),
      lost: rounds.reduce((n, x) => n + x.invariants.lost, 0),
      extra: rounds.reduce((n, x) => n + x.invariants.extra, 0),
    },
  };
}

/** Medians over rounds of each field of roundBounds (undefined where any round lacks it). */
export function medianBounds(bs: readonly ReturnType<typeof roundBounds>[]) {
  const med = (xs: (number | undefined)[]) => (xs.every((x) => x !== undefined) && xs.length > 0 ? round(median(xs as number[]), 3) : undefined);
  return {
    mainThreadBusy: med(bs.map((b) => b.mainThreadBusy)),
    busyThreadRatio: med(bs.map((b) => b.busyThreadRatio)),
    cores: bs[0]?.cores ?? availableParallelism(),
    coresRatio: med(bs.map((b) => b.coresRatio)),
  };
}

export async function runAllocScenario(o: AllocScenarioOptions) {
  const orders = o.orders?.length ? o.orders : [PoolOrder.Scattered];
  const byOrder = new Map<PoolOrder, Round[]>(orders.map((x) => [x, []]));
  const layout = defaultTagLayout('block');
  const layoutRounds: Round[] = [];
  for (let r = 0; r < o.rounds; r++) {
    const main = async () => {
      for (const order of r % 2 === 0 ? orders : [...orders].reverse()) byOrder.get(order)!.push(await inLayout(layout, () => oneRound(o, r, order)));
    };
    const other = async () => {
      if (o.compareLayout) layoutRounds.push(await inLayout(o.compareLayout, () => oneRound(o, r, orders[0]!)));
    };
    if (r % 2 === 0) await main().then(other);
    else await other().then(main);
  }
  const rounds = byOrder.get(orders[0]!)!;
  // --compare-pool: the first order on another pool, each round back to back with the main pool's (paired rounds).
  const others: Round[] = [];
  if (o.comparePool !== undefined) for (let r = 0; r < o.rounds; r++) others.push(await oneRound(o, r, orders[0]!, o.comparePool));
  const invariantsOf = (rs: Round[]) => ({
    duplicates: rs.reduce((n, x) => n + x.invariants.duplicates, 0),
    lost: rs.reduce((n, x) => n + x.invariants.lost, 0),
    extra: rs.reduce((n, x) => n + x.invariants.extra, 0),
  });
  const compare =
    o.comparePool === undefined
      ? undefined
      : {
          pool: o.comparePool,
          allocsPerSec: round(median(others.map((x) => x.allocsPerSec))),
          rounds: others.map((x) => round(x.allocsPerSec)),
          ratio: round(median(rounds.map((x, i) => x.allocsPerSec / others[i]!.allocsPerSec)), 3),
          invariants: invariantsOf(others),
        };
  const layoutCompare =
    o.compareLayout === undefined
      ? undefined
      : {
          layout: o.compareLayout,
          allocsPerSec: round(median(layoutRounds.map((x) => x.allocsPerSec))),
          rounds: layoutRounds.map((x) => round(x.allocsPerSec)),
          ratioVsCeiling: round(median(layoutRounds.map((x) => x.ratioVsCeiling)), 3),
          ratiosVsCeiling: layoutRounds.map((x) => x.ratioVsCeiling),
          cpuUsPerAlloc: layoutRounds.map((x) => x.cpuUsPerAlloc),
          /** Main layout's allocations/s over this one's, median of paired rounds. */
          ratio: round(median(rounds.map((x, i) => x.allocsPerSec / layoutRounds[i]!.allocsPerSec)), 3),
          invariants: invariantsOf(layoutRounds),
        };
  const allRounds = [...byOrder.values(), layoutRounds].flat();
  const orderFigures = Object.fromEntries(orders.map((x) => [x, orderSummary(byOrder.get(x)!)]));
  const byRate = [...rounds].sort((a, b) => a.allocsPerSec - b.allocsPerSec);
  const mid = byRate[Math.floor((byRate.length - 1) / 2)]!;
  const bar = progress('baselines', 1);
  const baselines: BaselineResult = await runBaselines(o.endpoints, { requesters: o.requesters, count: o.count, poolCidr: '10.200.0.0/16', timeLimitMs: 20_000 });
  bar.stop();
  const allocsPerSec = median(rounds.map((x) => x.allocsPerSec));
  const ceilingMedian = median(rounds.map((x) => x.ceiling.keysPerSec));
  return {
    scenario: 'alloc',
    pool: o.poolCidr,
    ...(compare ? { compare } : {}),
    tagLayout: layout,
    ...(layoutCompare ? { layoutCompare } : {}),
    requesters: o.requesters,
    processes: o.processes,
    count: o.count,
    order: orders[0],
    /** Per pool order, same run: medians over the rounds (the paired ratio compares rounds run back to back). */
    orders: orderFigures,
    ...(orders.length > 1 ? { orderRatios: pairedRatios(orders, byOrder) } : {}),
    allocsPerSec: round(allocsPerSec),
    latencyMs: mid.latencyMs,
    cpuUsPerAlloc: mid.cpuUsPerAlloc,
    /** Medians over rounds of each round's bounds (roundBounds). */
    bounds: medianBounds(rounds.map((x) => x.bounds)),
    conflicts: mid.conflicts,
    retries: mid.conflicts,
    txnBatch: mid.txnBatch,
    invariants: invariantsOf(allRounds),
    baselines: {
      // The baseline's own check: an "extra" there is a call its time limit abandoned that committed later.
      poolCas: { allocsPerSec: baselines.poolCas.allocsPerSec, latencyMs: baselines.poolCas.latencyMs, conflicts: baselines.poolCas.conflicts, allocations: baselines.poolCas.allocations, invariants: baselines.poolCas.invariants },
      etcdCeiling: { keysPerSec: round(ceilingMedian), perRound: rounds.map((x) => x.ceiling.keysPerSec), beforeAfter: rounds.map((x) => [x.ceiling.before, x.ceiling.after]), etcdCpuUsPerKey: mid.ceiling.etcdCpuUsPerKey, atEnd: baselines.etcdCeiling.keysPerSec },
    },
    ratios: {
      vsPoolCas: round(allocsPerSec / baselines.poolCas.allocsPerSec, 1),
      /** Median of the rounds' ratios, each round against the mean of the ceilings measured right before and after it. */
      vsEtcdCeiling: round(median(rounds.map((x) => x.ratioVsCeiling)), 3),
      /** The medians' ratio (against the per-round ceilings' median). */
      vsEtcdCeilingOfMedians: round(allocsPerSec / ceilingMedian, 3),
      /** Against the single ceiling measured at the end with the pool-CAS baseline (the figure before 2026-12-01). */
      vsEtcdCeilingAtEnd: round(allocsPerSec / baselines.etcdCeiling.keysPerSec, 3),
    },
    rounds: rounds.map(({ timeline: _t, ...r }) => ({ ...r, allocsPerSec: round(r.allocsPerSec) })),
    chart: {
      series: [
        { name: `engine (${o.processes} proc)`, points: timelineToRate(mid.timeline) },
        { name: 'pool-cas', points: timelineToRate(baselines.poolCas.timeline) },
      ],
      percentiles: [
        { name: 'engine', ...mid.latencyMs },
        { name: 'pool-cas', ...baselines.poolCas.latencyMs },
      ],
    },
  };
}
