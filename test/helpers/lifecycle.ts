// Lifecycle fixtures: churn (a new pod allocated, the oldest live one released, as Deployments and Jobs churn) and
// a maintainer on its own etcd client over an archive directory.
import { ALL_PROJECTIONS } from '../../projections/index.js';
import type { Allocator } from '../../src/alloc/allocator.js';
import { ArchiveDir } from '../../src/lifecycle/archive.js';
import { Maintainer, type MaintainerOptions } from '../../src/lifecycle/maintainer.js';
import type { RetentionPolicy } from '../../src/lifecycle/retention.js';
import { MaintenanceLease } from '../../src/store/lease.js';
import { openStore, type StoreFixture } from './store.js';
import { AT, request } from './alloc.js';

export const CHURN_POOL = { ipVersion: 4, subnet: '10.40.0.0/22', ips: ['10.40.0.1-10.40.3.254'], default: true } as const;

/** Retention compressed in time: everything but the last `minRevisions` revisions may go. */
export function fastPolicy(over: Partial<RetentionPolicy> = {}): RetentionPolicy {
  return { minAgeMs: 0, minRevisions: 20, maxBytes: undefined, intervalMs: 50, maxRecordsPerRun: 1_000_000, segmentRecords: 100, minRecordsPerMove: 1, ...over };
}

/** `cycles` times: allocate a new pod; once `live` are held, release the oldest. Returns the next pod number. */
export async function churn(a: Allocator, cycles: number, live: number, start = 0, concurrency = 8): Promise<number> {
  const held: number[] = [];
  let next = start;
  const one = async () => {
    const n = next++;
    await a.allocate(request(`churn-${n}`));
    held.push(n);
    if (held.length > live) {
      const old = held.shift()!;
      await a.releaseContainer(`ctr-churn-${old}`, undefined, AT);
    }
  };
  let done = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (done < cycles) {
        done++;
        await one();
      }
    }),
  );
  return next;
}

export interface MaintainerFixture {
  readonly maintainer: Maintainer;
  readonly archive: ArchiveDir;
  readonly lease: MaintenanceLease;
  readonly f: StoreFixture;
  close(): Promise<void>;
}

export async function openMaintainer(prefix: string, dir: string, policy: RetentionPolicy, over: Partial<MaintainerOptions> = {}): Promise<MaintainerFixture> {
  const f = await openStore({ prefix });
  const archive = new ArchiveDir(dir, prefix);
  const lease = new MaintenanceLease(f.client, f.store.keys, `test-${process.pid}`);
  const maintainer = new Maintainer({ store: f.store, archive, lease, projections: ALL_PROJECTIONS, policy, ...over });
  return {
    maintainer,
    archive,
    lease,
    f,
    async close() {
      await lease.release();
      await f.close();
    },
  };
}
