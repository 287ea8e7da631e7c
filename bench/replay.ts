// `bench replay`: events/s of replaying a realistic synthetic log into every projection in one process, and the
// peak memory of holding the resulting live endpoints. (Cold start from etcd with a checkpoint: --cold.)
import { ALL_PROJECTIONS } from '../projections/index.js';
import { applyBatch, initialStates } from '../projections/runtime.js';
import type { LoggedEvent } from '../events/catalogue.js';
import { synthLog } from './lib/synth.js';
import { progress } from './lib/progress.js';
import { median, round } from './lib/stats.js';

export interface ReplayBenchOptions {
  readonly events: number;
  readonly live: number;
  readonly batch: number;
  readonly rounds: number;
}

export function runReplayBench(o: ReplayBenchOptions) {
  // Generate once (not timed), replay several times.
  const commits: LoggedEvent[][] = [];
  let total = 0;
  for (const c of synthLog({ events: o.events, poolPairs: 10, live: o.live, perCommit: 60 })) {
    commits.push(c);
    total += c.length;
  }
  const rates: number[] = [];
  let liveEndpoints = 0;
  for (let r = 0; r < o.rounds; r++) {
    const s = initialStates(ALL_PROJECTIONS);
    const bar = progress(`replay round ${r + 1}`, total);
    let pending: LoggedEvent[] = [];
    let done = 0;
    const t0 = performance.now();
    for (const c of commits) {
      for (const e of c) pending.push(e);
      if (pending.length >= o.batch) {
        applyBatch(ALL_PROJECTIONS, s, pending);
        done += pending.length;
        pending = [];
        bar.update(done);
      }
    }
    applyBatch(ALL_PROJECTIONS, s, pending);
    const secs = (performance.now() - t0) / 1000;
    bar.stop();
    rates.push(total / secs);
    liveEndpoints = Object.keys((s.states.get('spider-endpoints') as { objects: object }).objects).length;
  }
  return {
    scenario: 'replay',
    events: total,
    batch: o.batch,
    eventsPerSec: round(median(rates)),
    rounds: rates.map((x) => round(x)),
    liveEndpoints,
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
  };
}
