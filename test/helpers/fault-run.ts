// A closed-loop allocation run with faults injected at given points (acknowledgements reached, or seconds elapsed),
// and how long throughput took to come back after each.
import { runAllocLoad, timelineToRate, type LoadOptions, type LoadResult } from '../../bench/alloc/driver.js';
import type { Allocator } from '../../bench/alloc/types.js';

export interface Fault {
  readonly name: string;
  readonly at: { readonly acks: number } | { readonly seconds: number };
  run(): Promise<void>;
}

export interface FaultRecord {
  readonly name: string;
  /** Seconds since the load started when the fault was injected, and when its action finished. */
  readonly t: number;
  readonly tDone: number;
  /** Allocations/s over the second before the fault. */
  readonly rateBefore: number;
  /** Seconds from the fault until a 1 s window ran at half the rate before it again; null: never in this run. */
  readonly recoverySeconds: number | null;
}

/** Seconds from `t` until the 1 s rate is back to half of what it was just before `t`. */
export function recoveryAfter(timeline: LoadResult['timeline'], t: number): { rateBefore: number; recoverySeconds: number | null } {
  const rates = timelineToRate(timeline);
  const before = rates.filter((r) => r.t <= t).at(-1)?.v ?? 0;
  // Samples more than 1 s after t: their window lies wholly after the fault.
  const back = rates.find((r) => r.t >= t + 1 && r.v >= before / 2);
  return { rateBefore: before, recoverySeconds: back ? Math.round((back.t - 1 - t) * 10) / 10 : null };
}

export async function loadWithFaults(alloc: Allocator, load: LoadOptions, faults: readonly Fault[]): Promise<{ result: LoadResult; faults: FaultRecord[] }> {
  const t0 = performance.now();
  const now = () => (performance.now() - t0) / 1000;
  const pending = [...faults];
  const done: { name: string; t: number; tDone: number }[] = [];
  let chain = Promise.resolve();
  let failure: unknown;
  const fire = (acks: number) => {
    for (const f of [...pending]) {
      const due = 'acks' in f.at ? acks >= f.at.acks : now() >= f.at.seconds;
      if (!due) continue;
      pending.splice(pending.indexOf(f), 1);
      chain = chain.then(async () => {
        const t = now();
        await f.run().catch((e: unknown) => (failure ??= e));
        done.push({ name: f.name, t, tDone: now() });
      });
    }
  };
  let acks = 0;
  const ticker = setInterval(() => fire(acks), 50);
  let result: LoadResult;
  try {
    result = await runAllocLoad(alloc, {
      ...load,
      onProgress: (n) => {
        acks = n;
        fire(n);
        load.onProgress?.(n);
      },
    });
  } finally {
    clearInterval(ticker);
  }
  await chain;
  if (failure) throw failure;
  if (pending.length) throw new Error(`faults never injected (the run ended first): ${pending.map((f) => f.name).join(', ')}`);
  return { result, faults: done.map((d) => ({ ...d, ...recoveryAfter(result.timeline, d.t) })) };
}
