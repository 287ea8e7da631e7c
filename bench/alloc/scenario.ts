// `bench alloc`: N requesters across P processes allocate from one pool; figures are medians over rounds, with the
// pool-CAS baseline and the etcd ceiling measured in the same run, and the log's invariants checked afterwards.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { progress } from '../lib/progress.js';
import { Latencies, median, round } from '../lib/stats.js';
import { runAllocLoad, timelineToRate, type LoadResult } from './driver.js';
import { definePool, openEngine, openEngineAlias } from './engine.js';
import { checkInvariants, loggedAllocationsThenDrop } from './invariants.js';
import { runBaselines, type BaselineResult } from './run-baselines.js';
import { podRef } from './types.js';
import { PoolOrder } from '../../events/catalogue.js';

/** allocations/s of each order over the first order's, median of the rounds run back to back. */
function pairedRatios(orders: readonly PoolOrder[], byOrder: ReadonlyMap<PoolOrder, readonly Round[]>): Record<string, number> {
  const base = byOrder.get(orders[0]!)!;
  return Object.fromEntries(orders.slice(1).map((x) => [x, round(median(byOrder.get(x)!.map((r, i) => r.allocsPerSec / base[i]!.allocsPerSec)), 3)]));
}

const exec = promisify(execFile);
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
}

interface ProcessRun {
  result: LoadResult;
  tag: string;
  conflicts: number;
  txns: number;
  batchSizes: number[];
}

/** Unmeasured allocations first, so JIT compilation and connection set-up do not land in the figures. */
export async function warmUp(a: Awaited<ReturnType<typeof openEngine>>, o: { requesters: number; warmup: number }): Promise<void> {
  if (o.warmup <= 0) return;
  const warm = await openEngineAlias(a);
  await runAllocLoad(warm, { requesters: o.requesters, count: o.warmup, timeLimitMs: 60_000 });
}

async function oneRound(o: AllocScenarioOptions, r: number, order: PoolOrder) {
  const prefix = `/bench-alloc-${randomBytes(4).toString('hex')}/`;
  const size = await definePool(o.endpoints, prefix, o.poolCidr, order);
  if (size < o.count + o.warmup) throw new Error(`pool ${o.poolCidr} has ${size} usable addresses, fewer than --count ${o.count} + --warmup ${o.warmup}`);
  const share = (total: number, i: number) => Math.floor(total / o.processes) + (i < total % o.processes ? 1 : 0);
  let runs: ProcessRun[];
  const t0 = performance.now();
  if (o.processes === 1) {
    const a = await openEngine(o.endpoints, prefix, 'p0');
    await warmUp(a, o);
    const bar = progress(`alloc round ${r + 1} (${order})`, o.count);
    const result = await runAllocLoad(a, { requesters: o.requesters, count: o.count, timeLimitMs: o.timeLimitMs, onProgress: (d) => bar.update(d) });
    bar.stop();
    runs = [{ result, tag: 'p0', conflicts: a.engine.stats.conflicts, txns: a.store.stats.txns, batchSizes: a.store.stats.batchSizes }];
    await a.close();
  } else {
    runs = await Promise.all(
      Array.from({ length: o.processes }, async (_, i) => {
        const args = { endpoints: o.endpoints, prefix, tag: `p${i}`, requesters: share(o.requesters, i), count: share(o.count, i), timeLimitMs: o.timeLimitMs, warmup: share(o.warmup, i) };
        const { stdout } = await exec(process.execPath, ['--max-semi-space-size=32', workerPath, JSON.stringify(args)], { maxBuffer: 256 << 20 });
        return { ...(JSON.parse(stdout) as Omit<ProcessRun, 'tag'>), tag: args.tag };
      }),
    );
  }
  const wall = (performance.now() - t0) / 1000;
  // Invariants: what the log holds against what callers were told.
  const logged = await loggedAllocationsThenDrop(o.endpoints, prefix);
  const acks = runs.flatMap((p) => p.result.allocations.map((a) => ({ address: a.address, id: `${p.tag}-${podRef(a.requester, a.seq)}` })));
  const inv = checkInvariants(acks, logged);
  const allocations = acks.length;
  // Processes run side by side: the rate is all allocations over the slowest process's time.
  const seconds = Math.max(...runs.map((p) => p.result.seconds));
  const lat = Latencies.merge(runs.map((p) => p.result.latencySamples)).summary();
  const batches = runs.flatMap((p) => p.batchSizes);
  return {
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

export async function runAllocScenario(o: AllocScenarioOptions) {
  const orders = o.orders?.length ? o.orders : [PoolOrder.Scattered];
  const byOrder = new Map<PoolOrder, Round[]>(orders.map((x) => [x, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const order of r % 2 === 0 ? orders : [...orders].reverse()) byOrder.get(order)!.push(await oneRound(o, r, order));
  }
  const rounds = byOrder.get(orders[0]!)!;
  const allRounds = [...byOrder.values()].flat();
  const orderFigures = Object.fromEntries(orders.map((x) => [x, orderSummary(byOrder.get(x)!)]));
  const byRate = [...rounds].sort((a, b) => a.allocsPerSec - b.allocsPerSec);
  const mid = byRate[Math.floor((byRate.length - 1) / 2)]!;
  const bar = progress('baselines', 1);
  const baselines: BaselineResult = await runBaselines(o.endpoints, { requesters: o.requesters, count: o.count, poolCidr: '10.200.0.0/16', timeLimitMs: 20_000 });
  bar.stop();
  const allocsPerSec = median(rounds.map((x) => x.allocsPerSec));
  const sum = (k: 'duplicates' | 'lost' | 'extra') => allRounds.reduce((n, x) => n + x.invariants[k], 0);
  return {
    scenario: 'alloc',
    requesters: o.requesters,
    processes: o.processes,
    count: o.count,
    order: orders[0],
    /** Per pool order, same run: medians over the rounds (the paired ratio compares rounds run back to back). */
    orders: orderFigures,
    ...(orders.length > 1 ? { orderRatios: pairedRatios(orders, byOrder) } : {}),
    allocsPerSec: round(allocsPerSec),
    latencyMs: mid.latencyMs,
    conflicts: mid.conflicts,
    retries: mid.conflicts,
    txnBatch: mid.txnBatch,
    invariants: { duplicates: sum('duplicates'), lost: sum('lost'), extra: sum('extra') },
    baselines: {
      // The baseline's own check: an "extra" there is a call its time limit abandoned that committed later.
      poolCas: { allocsPerSec: baselines.poolCas.allocsPerSec, latencyMs: baselines.poolCas.latencyMs, conflicts: baselines.poolCas.conflicts, allocations: baselines.poolCas.allocations, invariants: baselines.poolCas.invariants },
      etcdCeiling: { keysPerSec: baselines.etcdCeiling.keysPerSec },
    },
    ratios: {
      vsPoolCas: round(allocsPerSec / baselines.poolCas.allocsPerSec, 1),
      vsEtcdCeiling: round(allocsPerSec / baselines.etcdCeiling.keysPerSec, 3),
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
