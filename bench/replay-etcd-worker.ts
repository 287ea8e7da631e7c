// A fresh process that replays a log from etcd into every projection through `replay()` (projections/runtime.ts,
// what `ipam replay` and a checkpoint-less restart run: the store's readPages, its codec, applyBatch): times the
// whole read + decode + apply, and apart from it the time spent applying (outside the page source). Prints one JSON
// line. Run with --expose-gc (it measures the heap the projections hold after the replay).
import { PerformanceObserver, constants, type PerformanceEntry } from 'node:perf_hooks';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { documentsOf, replay } from '../projections/runtime.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import type { ReadOptions, ReadPage } from '../src/store/reader.js';

const [endpoints, prefix, inFlightArg, perPageArg] = process.argv.slice(2);
if (!endpoints || !prefix) throw new Error('usage: replay-etcd-worker.js <endpoints> <prefix> [reads in flight] [events per page]');
// The reader's defaults unless given (A/B of its page shapes on one log).
const pageOpts = { ...(inFlightArg ? { readsInFlight: Number(inFlightArg) } : {}), ...(perPageArg ? { eventsPerPage: Number(perPageArg) } : {}) };
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('replay-etcd-worker.js needs --expose-gc (it measures the heap the projections hold)');
const mb = (bytes: number) => bytes / (1024 * 1024);

const client = openEtcd({ endpoints: endpoints.split(','), callTimeoutMs: 60_000 });
const store = new EventStore(client, { prefix });
await store.open();
gc();
const heapBefore = process.memoryUsage().heapUsed;
let events = 0;
let waitMs = 0;
// The store's own page source; only the time the replay waits for its next page is measured here.
async function* timed(opts: ReadOptions): AsyncGenerator<ReadPage> {
  const it = store.readPages({ ...opts, ...pageOpts });
  for (;;) {
    const t0 = performance.now();
    const r = await it.next();
    waitMs += performance.now() - t0;
    if (r.done) return;
    events += r.value.events.length;
    yield r.value;
  }
}
// Time in GC pauses over the replay, and how many were full (mark-compact) collections.
let gcMs = 0;
let fullGcs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullGcs++;
  }
});
gcs.observe({ entryTypes: ['gc'] });
const t0 = performance.now();
const c0 = process.cpuUsage();
const s = await replay(store, ALL_PROJECTIONS, { pages: timed });
const totalMs = performance.now() - t0;
const cpu = process.cpuUsage(c0);
const peakRssMB = process.resourceUsage().maxRSS / 1024;
await new Promise((r) => setImmediate(r)); // the observer is told of the last pauses asynchronously
gcs.disconnect();
gc();
const heldMB = mb(process.memoryUsage().heapUsed - heapBefore);
process.stdout.write(
  JSON.stringify({
    events,
    revision: s.revision,
    seconds: totalMs / 1000,
    applySeconds: (totalMs - waitMs) / 1000,
    waitSeconds: waitMs / 1000,
    // CPU of this process over the replay (every thread: the GC's helpers too)
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    gcSeconds: gcMs / 1000,
    fullGcs,
    peakRssMB,
    heldMB,
    liveEndpoints: documentsOf(s, 'spider-endpoints')!.size,
  }) + '\n',
);
client.close();
