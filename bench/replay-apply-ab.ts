// Applying only, two builds in one process: each page of a synthetic log (a JSON Lines file written by
// writeSynthLog, as `bench replay` makes) is decoded once and applied into build A's and build B's projections, the
// order alternating per page, each apply timed; so the machine's load hits both builds alike (on a shared machine
// separate processes differ by more than a change to the projections does). The second build in a page finds the
// events in cache: run both orientations (A B, then B A) and take sqrt(ratio1 / ratio2) as B's effect.
// Usage: node --max-semi-space-size=32 dist/bench/replay-apply-ab.js <buildA> <buildB> <log.jsonl> [events per page]
// where a build is a checkout with its dist/ compiled; a missing log file is first written with the replay floor's
// shape (1,000,000 events, 100,000 live pods, as `bench replay --events 1000000 --live 100000`). Prints one JSON line.
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoggedEvent } from '../events/catalogue.js';
import type * as Runtime from '../projections/runtime.js';
import { EVENTS_PER_COMMIT, writeSynthLog } from './lib/synth.js';

const [dirA, dirB, file, batchArg = '3840'] = process.argv.slice(2);
const batch = Number(batchArg);
if (!dirA || !dirB || !file || !Number.isInteger(batch) || batch < 1) throw new Error('usage: replay-apply-ab.js <buildA> <buildB> <log.jsonl> [events per page]');

interface Build {
  readonly projections: readonly Runtime.AnyProjection[];
  readonly runtime: typeof Runtime;
  readonly states: Runtime.ProjectionStates;
  ms: number;
}

async function load(dir: string): Promise<Build> {
  const at = (f: string) => pathToFileURL(resolve(dir, 'dist/projections', f)).href;
  const { ALL_PROJECTIONS } = (await import(at('index.js'))) as typeof import('../projections/index.js');
  const runtime = (await import(at('runtime.js'))) as typeof Runtime;
  return { projections: ALL_PROJECTIONS, runtime, states: runtime.initialStates(ALL_PROJECTIONS), ms: 0 };
}

if (!existsSync(file)) await writeSynthLog(file, { events: 1_000_000, poolPairs: 10, live: 100_000, perCommit: EVENTS_PER_COMMIT });
const a = await load(dirA);
const b = await load(dirB);
let page: LoggedEvent[] = [];
let events = 0;
let pages = 0;
const applyTimed = (x: Build) => {
  const t0 = performance.now();
  x.runtime.applyBatch(x.projections, x.states, page);
  x.ms += performance.now() - t0;
};
const flush = () => {
  for (const x of pages++ % 2 === 0 ? [a, b] : [b, a]) applyTimed(x);
  events += page.length;
  page = [];
};
for await (const line of createInterface({ input: createReadStream(file, { highWaterMark: 1 << 20 }), crlfDelay: Infinity })) {
  if (line === '') continue;
  for (const e of JSON.parse(line) as LoggedEvent[]) page.push(e);
  if (page.length >= batch) flush();
}
flush();
const live = (x: Build) => x.runtime.documentsOf(x.states, 'spider-endpoints')!.size;
process.stdout.write(JSON.stringify({ events, secondsA: a.ms / 1000, secondsB: b.ms / 1000, ratioBOverA: b.ms / a.ms, liveEndpointsA: live(a), liveEndpointsB: live(b) }) + '\n');
