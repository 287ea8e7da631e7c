// A fresh process: load every projection's checkpoint and replay the tail of the log; prints the timing as JSON.
import { ALL_PROJECTIONS } from '../projections/index.js';
import { loadAll } from '../projections/checkpoint.js';
import { replay } from '../projections/runtime.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';

const [endpoints, prefix] = process.argv.slice(2);
const t0 = performance.now();
const client = openEtcd({ endpoints: endpoints!.split(','), callTimeoutMs: 60_000 });
const store = new EventStore(client, { prefix: prefix! });
await store.open();
const cp = await loadAll(store, ALL_PROJECTIONS);
const tLoaded = performance.now();
const s = await replay(store, ALL_PROJECTIONS, cp ? { from: cp } : {});
const t1 = performance.now();
process.stdout.write(
  JSON.stringify({
    coldStartSeconds: (t1 - t0) / 1000,
    checkpointLoadSeconds: (tLoaded - t0) / 1000,
    fromCheckpoint: cp !== undefined,
    checkpointRevision: cp?.revision ?? 0,
    revision: s.revision,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  }) + '\n',
);
client.close();
