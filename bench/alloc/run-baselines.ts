// The two baselines of the `alloc` scenario, measured on the same etcd in the same run as the allocator under test:
// pool-cas (one JSON pool key under CAS, what Spiderpool and Whereabouts do) and the raw etcd ceiling.
import { randomBytes } from 'node:crypto';
import { openEtcd } from '../../src/store/connect.js';
import { round } from '../lib/stats.js';
import { runAllocLoad, type LoadResult } from './driver.js';
import { measureEtcdCeiling } from './etcd-ceiling.js';
import { poolCasFactory } from './pool-cas.js';
import { podRef } from './types.js';
import { checkInvariants, type InvariantReport } from './invariants.js';

export interface BaselineOptions {
  requesters: number;
  /** Allocations the allocator under test makes; pool-cas makes at most `poolCasMaxCount` of them. */
  count: number;
  poolCidr: string;
  /** Time limit of the pool-cas run (it is capped at `poolCasMaxMs` as well). */
  timeLimitMs: number;
  /** Default 2000: pool-cas is two orders of magnitude slower, and its document grows with every allocation. */
  poolCasMaxCount?: number;
  /** Default 20 000. */
  poolCasMaxMs?: number;
  /** Ceiling shape; defaults 20 000 keys, 16 txns in flight, 128 puts per txn. */
  ceiling?: { keys?: number; concurrency?: number; txnOps?: number };
  onProgress?: (label: string, done: number, total: number) => void;
}

export interface BaselineResult {
  poolCas: {
    allocsPerSec: number;
    latencyMs: LoadResult['latencyMs'];
    conflicts: number;
    allocations: number;
    /** Allocations asked for, and what stopped the run (a time-limited run reports its rate over what it did). */
    requested: number;
    stoppedBy: LoadResult['stoppedBy'];
    seconds: number;
    timeline: LoadResult['timeline'];
    invariants: Omit<InvariantReport, 'details'>;
  };
  etcdCeiling: { keysPerSec: number; keys: number; concurrency: number; txnOps: number };
}

export async function runBaselines(endpoints: string[], opts: BaselineOptions): Promise<BaselineResult> {
  const prefix = `/bench-alloc-${randomBytes(4).toString('hex')}/`;
  const requested = Math.min(opts.count, opts.poolCasMaxCount ?? 2000);
  const limit = Math.min(opts.timeLimitMs, opts.poolCasMaxMs ?? 20_000);

  const alloc = await poolCasFactory.open({ endpoints, prefix, poolCidr: opts.poolCidr, size: requested });
  let load: LoadResult;
  let invariants: InvariantReport;
  try {
    load = await runAllocLoad(alloc, { requesters: opts.requesters, count: requested, timeLimitMs: limit, onProgress: (d) => opts.onProgress?.('pool-cas', d, requested) });
    const { doc } = await alloc.read();
    invariants = checkInvariants(
      load.allocations.map((a) => ({ address: a.address, id: podRef(a.requester, a.seq) })),
      Object.entries(doc.allocated).map(([address, id]) => ({ address, id })),
    );
  } finally {
    await alloc.close();
  }
  if (load.errors > 0) throw new Error(`pool-cas baseline: ${load.errors} failed calls, e.g. ${load.errorMessages[0]}`);

  const c = { keys: opts.ceiling?.keys ?? 20_000, concurrency: opts.ceiling?.concurrency ?? 16, txnOps: opts.ceiling?.txnOps ?? 128 };
  const ceiling = await measureEtcdCeiling(endpoints, prefix, c);

  // Leave nothing behind but etcd's history.
  const client = openEtcd({ endpoints });
  await client.delete().prefix(prefix).catch(() => undefined);
  client.close();

  return {
    poolCas: {
      allocsPerSec: load.allocsPerSec,
      latencyMs: load.latencyMs,
      conflicts: load.conflicts,
      allocations: load.allocations.length,
      requested,
      stoppedBy: load.stoppedBy,
      seconds: load.seconds,
      timeline: load.timeline,
      invariants: { duplicates: invariants.duplicates, lost: invariants.lost, extra: invariants.extra },
    },
    etcdCeiling: { keysPerSec: round(ceiling.keysPerSec), ...c },
  };
}
