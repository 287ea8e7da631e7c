// A fresh process that replays a synthetic log from a JSON Lines file (one commit per line, as written by
// writeSynthLog) into every projection, a page of records at a time, as a replay from etcd decodes pages: so its
// peak RSS is that of a process holding the projections (plus one page and the garbage decoding makes), not of
// the generator. Decoding and applying are timed apart. Prints one JSON line. Run with --expose-gc.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { LoggedEvent } from '../events/catalogue.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { applyBatch, documentsOf, initialStates } from '../projections/runtime.js';

const [file, batchArg, renderArg] = process.argv.slice(2);
const batch = Number(batchArg);
if (!file || !Number.isInteger(batch) || batch < 1) throw new Error('usage: replay-worker.js <log.jsonl> <events per batch> [render]');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('replay-worker.js needs --expose-gc (it measures the heap the projections hold)');
const mb = (bytes: number) => bytes / (1024 * 1024);
const rssMB = () => process.resourceUsage().maxRSS / 1024;

gc();
const heapBefore = process.memoryUsage().heapUsed;
const states = initialStates(ALL_PROJECTIONS);
let page: LoggedEvent[] = [];
let events = 0;
let decodeMs = 0;
let applyMs = 0;
let applyCpuUs = 0;
const flush = () => {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  applyBatch(ALL_PROJECTIONS, states, page);
  const c = process.cpuUsage(c0);
  applyCpuUs += c.user + c.system;
  applyMs += performance.now() - t0;
  events += page.length;
  page = [];
};
// Pages end on record (commit) boundaries, as the store's pages do.
for await (const line of createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity })) {
  if (line === '') continue;
  const t0 = performance.now();
  for (const e of JSON.parse(line) as LoggedEvent[]) page.push(e);
  decodeMs += performance.now() - t0;
  if (page.length >= batch) flush();
}
flush();
const peakRssMB = rssMB();
gc();
const heldMB = mb(process.memoryUsage().heapUsed - heapBefore);
const liveEndpoints = documentsOf(states, 'spider-endpoints')!.size;
let render: { objects: number; seconds: number; peakRssMB: number } | undefined;
if (renderArg === 'render') {
  // A daemon that lists everything once (e.g. status write-back after a restart) holds every rendered object too.
  const t0 = performance.now();
  let objects = 0;
  for (const p of ALL_PROJECTIONS) for (const _ of documentsOf(states, p.name)?.list() ?? []) objects++;
  render = { objects, seconds: (performance.now() - t0) / 1000, peakRssMB: rssMB() };
}
process.stdout.write(JSON.stringify({ events, applySeconds: applyMs / 1000, applyCpuSeconds: applyCpuUs / 1e6, decodeSeconds: decodeMs / 1000, peakRssMB, heldMB, liveEndpoints, render }) + '\n');
