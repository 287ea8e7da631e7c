// Open-loop load: calls arrive on a seeded Poisson schedule whatever the system answers, and each call's latency is
// measured from its scheduled arrival, so a slow answer cannot hold back the arrivals behind it (no coordinated
// omission). Bounded: a fixed arrival window, at most `maxOutstanding` calls in flight (arrivals beyond it are
// dropped and counted), and a grace period after which calls still running count as timed out.
import { PerformanceObserver, constants, monitorEventLoopDelay } from 'node:perf_hooks';
import { startArrivalClock } from './arrival-clock.js';
import { round } from './stats.js';

/** mulberry32: a small seeded generator, so a sweep's arrival times are the same in every run and round. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bound on the arrivals of one step (memory of the schedule and the samples). */
export const MAX_ARRIVALS = 1_000_000;

/**
 * Arrival times (ms from the step's start) of a Poisson process of `ratePerSec` over `durationMs`: exponential gaps
 * with mean 1000 / rate. At most MAX_ARRIVALS.
 */
export function poissonArrivals(ratePerSec: number, durationMs: number, seed: number): Float64Array {
  if (!(ratePerSec > 0 && durationMs > 0)) throw new Error('ratePerSec and durationMs must be positive');
  const rng = seededRandom(seed);
  const mean = 1000 / ratePerSec;
  const out: number[] = [];
  // 1 - u is in (0, 1]: log never sees 0.
  for (let t = -Math.log(1 - rng()) * mean; t < durationMs && out.length < MAX_ARRIVALS; t += -Math.log(1 - rng()) * mean) out.push(t);
  return Float64Array.from(out);
}

/** p50/p99/p99.9/max of `samples` (ms) with `missing` more calls that never answered counted as infinitely slow. */
export function openLoopPercentiles(samples: readonly number[], missing = 0): { p50: number; p99: number; p999: number; max: number } {
  const n = samples.length + missing;
  if (n === 0) return { p50: NaN, p99: NaN, p999: NaN, max: NaN };
  const s = Float64Array.from(samples).sort();
  // Nearest rank: the smallest latency at least q of all arrivals met; Infinity once it falls among the missing.
  const at = (q: number) => {
    const rank = Math.max(1, Math.ceil(q * n));
    return rank <= s.length ? round(s[rank - 1]!, 2) : Infinity;
  };
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: missing > 0 ? Infinity : round(s[s.length - 1]!, 2) };
}

export interface OpenLoopOptions {
  readonly ratePerSec: number;
  /** Arrivals are scheduled over this window. */
  readonly durationMs: number;
  readonly seed: number;
  /** Calls in flight at most; an arrival finding this many is dropped (counted, infinitely slow in the percentiles). */
  readonly maxOutstanding: number;
  /** After the window, calls still running this much longer count as timed out (default 5000 ms). */
  readonly graceMs?: number;
  /** An arrival started this much after its scheduled time counts as late (the generator fell behind; default 5 ms). */
  readonly lateMs?: number;
  /**
   * What wakes the generator at each arrival: 'thread' (default) a clock thread with sub-millisecond sleeps
   * (arrival-clock.ts); 'timers' this thread's setTimeout (whole milliseconds, late whenever this thread is busy).
   */
  readonly clock?: 'thread' | 'timers';
}

/** Garbage-collection pauses of this process during a step (ms). */
export interface GcPauses {
  readonly count: number;
  readonly totalMs: number;
  readonly maxMs: number;
  /** Young-generation (scavenge) pauses alone. */
  readonly minorCount: number;
  readonly minorMaxMs: number;
}

export interface OpenLoopResult<T> {
  readonly offeredPerSec: number;
  readonly arrivals: number;
  readonly completed: number;
  /** Arrivals not sent: `maxOutstanding` calls were in flight. */
  readonly dropped: number;
  /** Arrivals sent more than `lateMs` after their scheduled time (their latency still counts from the schedule). */
  readonly late: number;
  /** Calls still running at the end of the grace period. */
  readonly timedOut: number;
  readonly errors: number;
  readonly errorMessages: string[];
  /** Answers per second over the arrival window plus the time the last answer took. */
  readonly achievedPerSec: number;
  /** From each arrival's scheduled time; dropped, timed-out and failed calls count as infinitely slow. */
  readonly latencyMs: { p50: number; p99: number; p999: number; max: number };
  /** How long after its scheduled time each arrival was sent (ms): the generator's own share of the latency. */
  readonly sendLagMs: { p50: number; p99: number };
  /** This process's event-loop delay during the step (ms): how late its timers and answers could run. */
  readonly loopDelayMs: { p99: number; max: number };
  /** Garbage-collection pauses during the step (absent where not measured). */
  readonly gcPauses?: GcPauses;
  /** Answers of completed calls, with the arrival index and the latency counted (ms from the scheduled arrival). */
  readonly answers: { index: number; value: T; ms: number }[];
  /** Calls that had not answered when the step ended: settle them before checking a log against the answers. */
  readonly pending: Promise<{ index: number; value: T } | undefined>[];
}

/** Runs one open-loop step: `call(i)` at each arrival i of the schedule. */
export async function runOpenLoop<T>(call: (index: number) => Promise<T>, o: OpenLoopOptions): Promise<OpenLoopResult<T>> {
  const schedule = poissonArrivals(o.ratePerSec, o.durationMs, o.seed);
  const graceMs = o.graceMs ?? 5000;
  const lateMs = o.lateMs ?? 5;
  const samples: number[] = [];
  const lags: number[] = [];
  const answers: { index: number; value: T; ms: number }[] = [];
  const errorMessages: string[] = [];
  const running = new Map<number, Promise<{ index: number; value: T } | undefined>>();
  let dropped = 0;
  let late = 0;
  let errors = 0;
  let lastAnswer = 0;
  let ended = false;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const gc = { count: 0, totalMs: 0, maxMs: 0, minorCount: 0, minorMaxMs: 0 };
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.count++;
      gc.totalMs += e.duration;
      gc.maxMs = Math.max(gc.maxMs, e.duration);
      if ((e as unknown as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) {
        gc.minorCount++;
        gc.minorMaxMs = Math.max(gc.minorMaxMs, e.duration);
      }
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  // The clock's start (set before the first arrival is due).
  let t0 = performance.now();

  const start = (i: number, scheduled: number) => {
    const p = call(i).then(
      (value) => {
        const done = performance.now();
        if (!ended) {
          samples.push(done - scheduled);
          answers.push({ index: i, value, ms: done - scheduled });
          lastAnswer = done;
        }
        running.delete(i);
        return { index: i, value };
      },
      (e: unknown) => {
        if (!ended) {
          errors++;
          if (errorMessages.length < 5) errorMessages.push(e instanceof Error ? e.message : String(e));
        }
        running.delete(i);
        return undefined;
      },
    );
    running.set(i, p);
  };

  // Every wake-up sends whatever is due; a late wake-up makes late starts, not fewer arrivals.
  let next = 0;
  const sendDue = (due: number, now: number) => {
    for (; next < due; next++) {
      const scheduled = t0 + schedule[next]!;
      if (running.size >= o.maxOutstanding) dropped++;
      else {
        const lag = Math.max(0, now - scheduled);
        if (lag > lateMs) late++;
        lags.push(lag);
        start(next, scheduled);
      }
    }
  };
  if (schedule.length === 0) {
    // Nothing to send.
  } else if ((o.clock ?? 'thread') === 'thread') {
    let clock: Awaited<ReturnType<typeof startArrivalClock>> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        startArrivalClock(schedule, (due) => {
          sendDue(due, performance.now());
          if (next >= schedule.length) resolve();
        }).then((c) => {
          clock = c;
          t0 = c.t0;
        }, reject);
      });
    } finally {
      await clock?.stop();
    }
  } else {
    t0 = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        let due = next;
        while (due < schedule.length && t0 + schedule[due]! <= now) due++;
        sendDue(due, now);
        if (next >= schedule.length) return resolve();
        setTimeout(tick, Math.max(0, t0 + schedule[next]! - performance.now()));
      };
      tick();
    });
  }

  // Wait for the calls in flight, at most graceMs.
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([Promise.all(running.values()), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
  clearTimeout(timer);
  ended = true;
  loop.disable();
  gcObserver.disconnect();
  const timedOut = running.size;
  const completed = samples.length;
  const seconds = Math.max(o.durationMs, lastAnswer - t0) / 1000;
  return {
    offeredPerSec: o.ratePerSec,
    arrivals: schedule.length,
    completed,
    dropped,
    late,
    timedOut,
    errors,
    errorMessages,
    achievedPerSec: round(completed / seconds, 1),
    latencyMs: openLoopPercentiles(samples, dropped + timedOut + errors),
    sendLagMs: (() => {
      const l = openLoopPercentiles(lags);
      return { p50: l.p50, p99: l.p99 };
    })(),
    loopDelayMs: { p99: round(loop.percentile(99) / 1e6, 2), max: round(loop.max / 1e6, 2) },
    gcPauses: { count: gc.count, totalMs: round(gc.totalMs, 1), maxMs: round(gc.maxMs, 2), minorCount: gc.minorCount, minorMaxMs: round(gc.minorMaxMs, 2) },
    answers,
    pending: [...running.values()],
  };
}

/** The answers of `pending` calls that settle within `ms` (bounded: a call that never answers is left out). */
export async function settledWithin<T>(pending: readonly Promise<T | undefined>[], ms: number): Promise<T[]> {
  const out: T[] = [];
  let timer: NodeJS.Timeout | undefined;
  const each = pending.map((p) => p.then((v) => void (v !== undefined && out.push(v))));
  await Promise.race([Promise.all(each), new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
  return out.slice();
}
