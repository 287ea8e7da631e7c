// Standalone: pool-cas allocations/s, median of a few short runs, each on a fresh pool key.
// node dist/bench/alloc/measure-pool-cas.js [requesters=64] [count=500] [runs=3] [cidr=10.0.0.0/16]
// Uses ETCD_ENDPOINTS if set, else starts a local etcd.
import { randomBytes } from 'node:crypto';
import { openTarget } from '../lib/target.js';
import { median } from '../lib/stats.js';
import { runAllocLoad } from './driver.js';
import { poolCasFactory } from './pool-cas.js';

const [requesters = 64, count = 500, runs = 3] = process.argv.slice(2, 5).map(Number);
const cidr = process.argv[5] ?? '10.0.0.0/16';
const target = await openTarget({});
try {
  const rates: number[] = [];
  for (let r = 0; r < runs; r++) {
    const alloc = await poolCasFactory.open({ endpoints: target.endpoints, prefix: `/bench-poolcas-${randomBytes(4).toString('hex')}/`, poolCidr: cidr, size: count });
    const res = await runAllocLoad(alloc, { requesters, count, timeLimitMs: 60_000 });
    await alloc.close();
    rates.push(res.allocsPerSec);
    process.stdout.write(`run ${r + 1}: ${res.allocations.length} allocs in ${res.seconds} s = ${res.allocsPerSec}/s, conflicts ${res.conflicts}, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms, stopped by ${res.stoppedBy}\n`);
  }
  process.stdout.write(`pool-cas ${requesters} requesters ${count} allocs: median ${median(rates)} allocs/s (${rates.join(', ')})\n`);
} finally {
  await target.close();
}
