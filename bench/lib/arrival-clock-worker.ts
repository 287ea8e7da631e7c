// The open-loop generator's clock, on a thread of its own: it sleeps until each scheduled arrival with
// Atomics.wait (sub-millisecond timeouts, where the event loop's setTimeout rounds up to whole milliseconds), then
// tells the main thread how many arrivals are due. The main thread still starts each call and measures it from its
// scheduled time, so a busy engine thread still shows as send lag, as a request waiting in a socket would.
import { parentPort, workerData } from 'node:worker_threads';
import { CLOCK_STARTED, CLOCK_STOP, type ArrivalClockData } from './arrival-clock.js';

const { schedule, shared } = workerData as ArrivalClockData;
const flags = new Int32Array(shared, 0, 2);
const start = new Float64Array(shared, 8, 1);
const now = () => performance.timeOrigin + performance.now();
parentPort!.postMessage('ready');
while (Atomics.load(flags, CLOCK_STARTED) === 0) Atomics.wait(flags, CLOCK_STARTED, 0, 1000);
const t0 = start[0]!;
let next = 0;
while (next < schedule.length && Atomics.load(flags, CLOCK_STOP) === 0) {
  const wait = t0 + schedule[next]! - now();
  if (wait > 0) {
    Atomics.wait(flags, CLOCK_STOP, 0, wait);
    continue;
  }
  const t = now() - t0;
  while (next < schedule.length && schedule[next]! <= t) next++;
  // Arrivals [0, next) are due.
  parentPort!.postMessage(next);
}
