// Wakes the open-loop generator at its scheduled arrivals from a thread of its own (arrival-clock-worker.ts), so the
// generator's timing does not depend on setTimeout's whole-millisecond granularity nor on this thread being idle.
import { Worker } from 'node:worker_threads';

export const CLOCK_STOP = 0;
export const CLOCK_STARTED = 1;

export interface ArrivalClockData {
  /** Arrival times, ms after the start. */
  readonly schedule: Float64Array;
  /** Int32 [CLOCK_STOP], Int32 [CLOCK_STARTED], then the start (Float64 at byte 8) on the wall clock every thread shares. */
  readonly shared: SharedArrayBuffer;
}

export interface ArrivalClock {
  /** performance.now() of this thread at the schedule's time 0. */
  readonly t0: number;
  stop(): Promise<void>;
}

/**
 * Starts the clock once its thread is ready: `due(n)` is called whenever arrivals [0, n) are due (n grows), from
 * this thread's event loop. Resolves with the start time.
 */
export async function startArrivalClock(schedule: Float64Array, due: (n: number) => void): Promise<ArrivalClock> {
  const shared = new SharedArrayBuffer(16);
  const flags = new Int32Array(shared, 0, 2);
  const worker = new Worker(new URL('./arrival-clock-worker.js', import.meta.url), { workerData: { schedule, shared } satisfies ArrivalClockData });
  await new Promise<void>((resolve, reject) => {
    worker.once('message', () => resolve());
    worker.once('error', reject);
  });
  worker.on('message', (n: number) => due(n));
  const t0 = performance.now() + 1;
  new Float64Array(shared, 8, 1)[0] = performance.timeOrigin + t0;
  Atomics.store(flags, CLOCK_STARTED, 1);
  Atomics.notify(flags, CLOCK_STARTED);
  return {
    t0,
    async stop() {
      Atomics.store(flags, CLOCK_STOP, 1);
      Atomics.notify(flags, CLOCK_STOP);
      await worker.terminate();
    },
  };
}
