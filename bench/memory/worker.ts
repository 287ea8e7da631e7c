// A fresh process (run with --expose-gc) that builds what a daemon holds for a synthetic log's live pods, one part at
// a time, and prints the heap each part holds after a full GC, per live pod. The log goes through the store's record
// encoding and decoding (one record per synthetic commit), so the events are shaped as a daemon's are.
import { ALL_PROJECTIONS } from '../../projections/index.js';
import { applyBatch, initialStates } from '../../projections/runtime.js';
import { AllocatorModel } from '../../src/alloc/model.js';
import { decodeRecordValue, encodeRecord } from '../../events/record-codec.js';
import { defaultCodec } from '../../events/codec.js';
import type { LoggedEvent } from '../../events/catalogue.js';
import { synthLog, EVENTS_PER_COMMIT } from '../lib/synth.js';

const [what, eventsArg, liveArg, trackArg] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/memory/worker.js needs --expose-gc');
const events = Number(eventsArg);
const live = Number(liveArg);
const track = trackArg === 'track';

function* decoded(): Generator<LoggedEvent[]> {
  for (const c of synthLog({ events, poolPairs: 10, live, perCommit: EVENTS_PER_COMMIT })) {
    const rec = decodeRecordValue(encodeRecord(c.map((l) => l.event)));
    yield rec.events.map((raw, position) => ({ event: defaultCodec.decode(raw, 'bench'), revision: c[0]!.revision, position }));
  }
}

gc();
const before = process.memoryUsage().heapUsed;
const model = what === 'model' || what === 'all' ? new AllocatorModel() : undefined;
const states = what === 'projections' || what === 'all' ? initialStates(ALL_PROJECTIONS) : undefined;
if (track && states) for (const st of states.states.values()) (st as { trackChanges(): void }).trackChanges();
const t0 = performance.now();
let n = 0;
for (const batch of decoded()) {
  n += batch.length;
  if (model) for (const e of batch) model.apply(e.event, e.revision);
  if (states) {
    applyBatch(ALL_PROJECTIONS, states, batch);
    if (track) for (const p of ALL_PROJECTIONS) (states.states.get(p.name) as { takeChanges(n: string): unknown[] }).takeChanges(p.name);
  }
}
const seconds = (performance.now() - t0) / 1000;
gc();
const held = process.memoryUsage().heapUsed - before;
const pods = model ? model.byId.size / 2 : (states!.states.get('spider-endpoints') as { size: number }).size;
process.stdout.write(JSON.stringify({ what, track, events: n, pods, heldBytes: held, bytesPerPod: Math.round(held / pods), seconds, rssMB: Math.round(process.memoryUsage().rss / 1048576) }) + '\n');
// keep them alive until measured
if (model && model.byId.size < 0) console.log(states);
