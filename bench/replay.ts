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
  /** Also time each projection alone over the same log (one extra pass per projection). */
  readonly perProjection?: boolean;
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
  const perProjection: Record<string, number> = {};
  if (o.perProjection) {
    for (const p of ALL_PROJECTIONS) {
      const mine = commits.flat().filter((e) => p.handles.includes(e.event.type));
      if (mine.length === 0) continue; // e.g. subnets: the synthetic log defines none
      let st = p.initial();
      const t0 = performance.now();
      for (let i = 0; i < mine.length; i += o.batch) st = p.apply(st, mine.slice(i, i + o.batch));
      perProjection[p.name] = round(mine.length / ((performance.now() - t0) / 1000));
    }
  }
  return {
    ...(o.perProjection ? { perProjection } : {}),
    scenario: 'replay',
    events: total,
    batch: o.batch,
    eventsPerSec: round(median(rates)),
    rounds: rates.map((x) => round(x)),
    liveEndpoints,
    peakRssMB: round(process.resourceUsage().maxRSS / 1024),
  };
}

export interface ColdStartOptions {
  readonly endpoints: string[];
  readonly events: number;
  readonly live: number;
  /** Events appended after the checkpoint (the tail a restart replays). */
  readonly tail: number;
}

/** Loads a synthetic log into etcd, checkpoints all projections short of its end, times a fresh process's start. */
export async function runColdStart(o: ColdStartOptions) {
  const { randomBytes } = await import('node:crypto');
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const { openEtcd } = await import('../src/store/connect.js');
  const { EventStore } = await import('../src/store/event-store.js');
  const { replay } = await import('../projections/runtime.js');
  const { saveAll } = await import('../projections/checkpoint.js');
  const prefix = `/bench-cold-${randomBytes(4).toString('hex')}/`;
  const client = openEtcd({ endpoints: o.endpoints, callTimeoutMs: 60_000 });
  const store = new EventStore(client, { prefix });
  await store.open();
  const commits = [...synthLog({ events: o.events, poolPairs: 10, live: o.live, perCommit: 60 })];
  const total = commits.reduce((n, c) => n + c.length, 0);
  const bar = progress('load log into etcd', total);
  let written = 0;
  let checkpointAt = 0;
  // One append per synthetic commit, in order (each sees the previous one, so their implicit guards hold).
  for (const c of commits) {
    const r = await store.append(c.map((e) => e.event), undefined, { trusted: true });
    written += c.length;
    if (written <= total - o.tail) checkpointAt = r.revision;
    bar.update(written);
  }
  bar.stop();
  const states = await replay(store, ALL_PROJECTIONS, { until: checkpointAt });
  await saveAll(store, ALL_PROJECTIONS, states);
  const worker = fileURLToPath(new URL('./cold-start.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=32', worker, o.endpoints.join(','), prefix], { maxBuffer: 16 << 20 });
  const r = JSON.parse(stdout) as { coldStartSeconds: number; checkpointLoadSeconds: number; fromCheckpoint: boolean; peakRssMB: number };
  await client.delete().prefix(prefix);
  client.close();
  return { events: total, tail: o.tail, coldStartSeconds: round(r.coldStartSeconds, 2), checkpointLoadSeconds: round(r.checkpointLoadSeconds, 2), fromCheckpoint: r.fromCheckpoint, coldStartPeakRssMB: round(r.peakRssMB) };
}
