// `bench alloc --open-loop`: per round, on a fresh pool, the unloaded p50 (one requester, closed loop), the
// closed-loop saturation (N requesters), then Poisson arrivals at fixed rates and at fractions of that saturation.
import { randomBytes } from 'node:crypto';
import { progress } from '../lib/progress.js';
import { openLoopPercentiles, settledWithin } from '../lib/open-loop.js';
import { measureOpenLoopBaselines } from '../lib/open-loop-baselines.js';
import { inProcessSteps, runSweep, summarizeSweep, summedInvariants, type SweepRound } from '../lib/sweep.js';
import { runAllocLoad } from './driver.js';
import { definePool, openEngine, openEngineAlias } from './engine.js';
import { checkInvariants, loggedAllocationsThenDrop } from './invariants.js';
import { warmUp } from './scenario.js';
import { podRef, type AllocOutcome } from './types.js';

export interface AllocOpenLoopOptions {
  readonly endpoints: string[];
  /** Closed-loop requesters for the saturation run. */
  readonly requesters: number;
  /** Allocations of the saturation run. */
  readonly count: number;
  readonly rounds: number;
  readonly poolCidr: string;
  readonly warmup: number;
  readonly unloadedCount: number;
  readonly rates: readonly number[];
  readonly fractions: readonly number[];
  readonly stepMs: number;
  readonly maxOutstanding: number;
  readonly seed: number;
  /** The local etcd's data dir: the baselines probe its fsync latency there. */
  readonly etcdDataDir?: string;
}

/** The floor (issue #17): in-process, p99 at 25% of saturation <= 3x the unloaded p50. */
export const ALLOC_OPEN_LOOP_FLOOR = { at: 0.25, factor: 3 } as const;

async function oneRound(o: AllocOpenLoopOptions, r: number): Promise<SweepRound & { invariants: { duplicates: number; lost: number; extra: number } }> {
  const prefix = `/bench-alloc-open-${randomBytes(4).toString('hex')}/`;
  await definePool(o.endpoints, prefix, o.poolCidr);
  const a = await openEngine(o.endpoints, prefix, 'p0');
  const acks: { address: string; id: string }[] = [];
  try {
    await warmUp(a, o);
    const unloaded = await runAllocLoad(await openEngineAlias(a, 'u'), { requesters: 1, count: o.unloadedCount, timeLimitMs: 60_000 });
    for (const x of unloaded.allocations) acks.push({ address: x.address, id: `u-${podRef(x.requester, x.seq)}` });
    const bar = progress(`alloc open loop round ${r + 1}: closed-loop saturation`, o.count);
    const sat = await runAllocLoad(a, { requesters: o.requesters, count: o.count, timeLimitMs: 120_000, onProgress: (d) => bar.update(d) });
    bar.stop();
    for (const x of sat.allocations) acks.push({ address: x.address, id: `p0-${podRef(x.requester, x.seq)}` });
    const open = await openEngineAlias(a, 'o');
    const call = async (step: number, i: number) => {
      const out = await open.allocate(step, i);
      if (out === 'exhausted') throw new Error('pool exhausted');
      return out;
    };
    let txns = 0;
    let began = 0;
    const steps = await runSweep(inProcessSteps(call), {
      rates: o.rates,
      fractions: o.fractions,
      saturationPerSec: sat.allocsPerSec,
      stepMs: o.stepMs,
      maxOutstanding: o.maxOutstanding,
      seed: o.seed,
      onStep: (label) => process.stderr.write(`alloc open loop round ${r + 1}: ${label}\n`),
      phases: {
        begin: () => {
          a.store.traceCommits(true);
          txns = 0;
          began = performance.now();
          a.store.onCommitted = () => void txns++;
        },
        end: () => {
          a.store.onCommitted = undefined;
          const t = a.store.traceCommits(false)!;
          const w = openLoopPercentiles(t.waitMs);
          const x = openLoopPercentiles(t.txnMs);
          return { waitMs: { p50: w.p50, p99: w.p99 }, txnMs: { p50: x.p50, p99: x.p99 }, txnsPerSec: (txns * 1000) / (performance.now() - began) };
        },
      },
    });
    for (const [k, s] of steps.entries()) {
      const settled = [...s.result.answers, ...(await settledWithin(s.result.pending, 30_000))];
      for (const x of settled) acks.push({ address: (x.value as AllocOutcome).address, id: `o-${podRef(k, x.index)}` });
    }
    await a.close();
    process.stderr.write(`alloc open loop round ${r + 1}: baselines (harness, etcd alone)\n`);
    const floorStep = steps.find((x) => x.asFraction === ALLOC_OPEN_LOOP_FLOOR.at);
    const baselines = await measureOpenLoopBaselines(o.endpoints, Math.max(1, Math.round(ALLOC_OPEN_LOOP_FLOOR.at * sat.allocsPerSec)), o.stepMs, o.seed, o.etcdDataDir, floorStep?.phases?.txnsPerSec);
    const inv = checkInvariants(acks, await loggedAllocationsThenDrop(o.endpoints, prefix));
    return { unloadedP50Ms: unloaded.latencyMs.p50, saturationPerSec: sat.allocsPerSec, steps, baselines, invariants: { duplicates: inv.duplicates, lost: inv.lost, extra: inv.extra } };
  } catch (e) {
    await a.close();
    throw e;
  }
}

export async function runAllocOpenLoop(o: AllocOpenLoopOptions) {
  const rounds = [];
  for (let r = 0; r < o.rounds; r++) rounds.push(await oneRound(o, r));
  const summary = summarizeSweep(rounds, ALLOC_OPEN_LOOP_FLOOR);
  return {
    scenario: 'alloc',
    mode: 'open-loop',
    pool: o.poolCidr,
    requesters: o.requesters,
    rounds: o.rounds,
    stepSeconds: o.stepMs / 1000,
    maxOutstanding: o.maxOutstanding,
    seed: o.seed,
    ...summary,
    invariants: summedInvariants(rounds),
  };
}
