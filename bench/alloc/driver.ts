// Closed-loop load on an Allocator: N requesters, each awaiting its previous allocation before asking again.
import { Latencies, round } from '../lib/stats.js';
import type { Allocator } from './types.js';

export interface LoadOptions {
  /** Concurrent requester loops. */
  requesters: number;
  /** Stop after this many successful allocations in total. */
  count: number;
  /** Start no new call after this; calls still running `graceMs` later are abandoned. */
  timeLimitMs: number;
  onProgress?: (done: number) => void;
  /** How long in-flight calls may finish after the time limit (default 5000 ms). */
  graceMs?: number;
  /** Stop after this many failed calls (default 100). Failures are counted, not thrown. */
  maxErrors?: number;
}

export interface LoadResult {
  /** Acknowledged allocations, in completion order. */
  allocations: { address: string; requester: number; seq: number }[];
  seconds: number;
  allocsPerSec: number;
  /** Latency of successful calls. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Sum of the retries reported by successful calls. */
  conflicts: number;
  /** Some call answered 'exhausted'. */
  exhausted: boolean;
  /** Cumulative successes, sampled every 100 ms from t = 0 (s since start), plus a final sample. */
  timeline: { t: number; done: number }[];
  /** Why the run stopped. */
  stoppedBy: 'count' | 'exhausted' | 'time' | 'errors';
  /** Failed calls and the first few messages. */
  errors: number;
  errorMessages: string[];
  /** Calls still running when the driver gave up waiting (their outcome is unknown to the result). */
  abandoned: number;
  /** Raw latency samples in ms, for merging runs of several processes. */
  latencySamples: readonly number[];
}

const SAMPLE_MS = 100;

export async function runAllocLoad(alloc: Allocator, opts: LoadOptions): Promise<LoadResult> {
  if (!(opts.requesters > 0 && opts.count > 0 && opts.timeLimitMs > 0)) throw new Error('requesters, count and timeLimitMs must be positive');
  const graceMs = opts.graceMs ?? 5000;
  const maxErrors = opts.maxErrors ?? 100;
  const allocations: LoadResult['allocations'] = [];
  const latencies = new Latencies();
  const errorMessages: string[] = [];
  let errors = 0;
  let conflicts = 0;
  let exhausted = false;
  let claimed = 0; // calls started that may still succeed: never more than `count` in flight or done
  let inFlight = 0;
  let stoppedBy: LoadResult['stoppedBy'] | undefined;
  const stop = (why: LoadResult['stoppedBy']) => (stoppedBy ??= why);

  const t0 = performance.now();
  const deadline = t0 + opts.timeLimitMs;
  const elapsed = () => (performance.now() - t0) / 1000;
  const timeline: LoadResult['timeline'] = [{ t: 0, done: 0 }];
  const sampler = setInterval(() => timeline.push({ t: round(elapsed(), 3), done: allocations.length }), SAMPLE_MS);
  const limitTimer = setTimeout(() => stop('time'), opts.timeLimitMs);

  const loop = async (requester: number) => {
    for (let seq = 0; ; seq++) {
      if (stoppedBy !== undefined) return;
      if (performance.now() >= deadline) return void stop('time');
      if (claimed - errors >= opts.count) return; // enough calls succeeded or in flight
      claimed++;
      inFlight++;
      const started = performance.now();
      try {
        const out = await alloc.allocate(requester, seq);
        if (out === 'exhausted') {
          claimed--;
          exhausted = true;
          stop('exhausted');
        } else {
          latencies.add(performance.now() - started);
          conflicts += out.conflicts;
          allocations.push({ address: out.address, requester, seq });
          opts.onProgress?.(allocations.length);
          if (allocations.length >= opts.count) stop('count');
        }
      } catch (e) {
        errors++;
        if (errorMessages.length < 5) errorMessages.push(e instanceof Error ? e.message : String(e));
        if (errors >= maxErrors) stop('errors');
      } finally {
        inFlight--;
      }
    }
  };

  let hardTimer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'gave-up'>((resolve) => {
    hardTimer = setTimeout(() => resolve('gave-up'), opts.timeLimitMs + graceMs);
  });
  const loops = Promise.all(Array.from({ length: opts.requesters }, (_, i) => loop(i)));
  const how = await Promise.race([loops, gaveUp]);
  const abandoned = how === 'gave-up' ? inFlight : 0;
  clearInterval(sampler);
  clearTimeout(limitTimer);
  clearTimeout(hardTimer);
  stop(how === 'gave-up' ? 'time' : allocations.length >= opts.count ? 'count' : 'time');
  const seconds = elapsed();
  timeline.push({ t: round(seconds, 3), done: allocations.length });
  const snapshot = allocations.slice(); // abandoned calls finishing later must not change the result
  return {
    allocations: snapshot,
    seconds: round(seconds, 3),
    allocsPerSec: round(snapshot.length / seconds, 1),
    latencyMs: latencies.count > 0 ? latencies.summary() : { p50: NaN, p90: NaN, p99: NaN, max: NaN },
    conflicts,
    exhausted,
    timeline,
    stoppedBy: stoppedBy ?? 'time',
    errors,
    errorMessages,
    abandoned,
    latencySamples: latencies.values().slice(),
  };
}

/**
 * Throughput over time for charts: allocations/s over the last `windowSec` seconds (default 1 s; the 100 ms samples
 * alone are coarse at low rates), at every timeline sample.
 */
export function timelineToRate(timeline: readonly { t: number; done: number }[], windowSec = 1): { t: number; v: number }[] {
  const out: { t: number; v: number }[] = [];
  let j = 0;
  for (let i = 1; i < timeline.length; i++) {
    const b = timeline[i]!;
    while (j < i - 1 && b.t - timeline[j + 1]!.t >= windowSec) j++;
    const a = timeline[j]!;
    if (b.t > a.t) out.push({ t: b.t, v: round((b.done - a.done) / (b.t - a.t), 1) });
  }
  return out;
}
