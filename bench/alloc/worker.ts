// One allocating process of a multi-process `bench alloc` run; prints its LoadResult (and engine stats) as JSON.
import { runAllocLoad } from './driver.js';
import { openEngine } from './engine.js';
import { ownCpuSeconds, warmUp } from './scenario.js';

const o = JSON.parse(process.argv[2]!) as { endpoints: string[]; prefix: string; tag: string; requesters: number; count: number; timeLimitMs: number; warmup: number };
const a = await openEngine(o.endpoints, o.prefix, o.tag);
await warmUp(a, o);
const cpuBefore = ownCpuSeconds();
const result = await runAllocLoad(a, { requesters: o.requesters, count: o.count, timeLimitMs: o.timeLimitMs });
const cpuSeconds = ownCpuSeconds() - cpuBefore;
const st = a.store.stats;
process.stdout.write(JSON.stringify({ result, conflicts: a.engine.stats.conflicts, txns: st.txns, batchSizes: st.batchSizes, cpuSeconds }) + '\n');
await a.close();
