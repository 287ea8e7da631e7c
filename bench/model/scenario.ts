// `bench model`: the allocator's read model alone (no etcd): picks + applied allocations per second and the heap
// held by `count` live allocations in one pool, against a baseline pool in the same run (rounds alternate; each
// run is a fresh process, so heaps do not mix).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { median, round } from '../lib/stats.js';

const exec = promisify(execFile);
const workerPath = fileURLToPath(new URL('./worker.js', import.meta.url));

export interface ModelBenchOptions {
  readonly pool: string;
  readonly comparePool: string;
  readonly count: number;
  readonly rounds: number;
}

interface Run {
  pool: string;
  count: number;
  allocsPerSec: number;
  heldMB: number;
  bytesPerAllocation: number;
}

async function once(pool: string, count: number): Promise<Run> {
  const { stdout } = await exec(process.execPath, ['--max-semi-space-size=32', '--expose-gc', workerPath, pool, String(count)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as Run;
}

export async function runModelBench(o: ModelBenchOptions) {
  const a: Run[] = [];
  const b: Run[] = [];
  for (let r = 0; r < o.rounds; r++) {
    if (r % 2 === 1) b.push(await once(o.comparePool, o.count));
    a.push(await once(o.pool, o.count));
    if (r % 2 === 0) b.push(await once(o.comparePool, o.count));
  }
  const summary = (runs: Run[], pool: string) => ({
    pool,
    allocsPerSec: round(median(runs.map((x) => x.allocsPerSec))),
    heldMB: round(median(runs.map((x) => x.heldMB)), 1),
    bytesPerAllocation: round(median(runs.map((x) => x.bytesPerAllocation))),
    rounds: runs.map((x) => ({ allocsPerSec: round(x.allocsPerSec), heldMB: round(x.heldMB, 1) })),
  });
  return {
    scenario: 'model',
    count: o.count,
    result: summary(a, o.pool),
    compare: summary(b, o.comparePool),
    ratios: {
      allocsPerSec: round(median(a.map((x, i) => x.allocsPerSec / b[i]!.allocsPerSec)), 3),
      heldMB: round(median(a.map((x, i) => x.heldMB / b[i]!.heldMB)), 3),
    },
  };
}
