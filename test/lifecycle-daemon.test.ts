// Two daemons with `lifecycle` configured on one prefix: exactly one maintains (the lease), the horizon moves while
// they serve, and a daemon started afterwards comes up from the horizon checkpoint (the log before it is gone from
// etcd) with the same allocations and projections as the running ones.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { readHorizon } from '../src/store/horizon.js';
import { AT } from './helpers/alloc.js';
import { startDaemon } from './helpers/daemon.js';
import { CHURN_POOL, churn, fastPolicy } from './helpers/lifecycle.js';
import { freshPrefix } from './helpers/store.js';
import { snapshot } from './helpers/alloc.js';

test('daemons elect one maintainer, the horizon moves while they serve, and a new daemon starts from the horizon checkpoint equal to them', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const lifecycle = { archiveDir: dir, policy: fastPolicy({ intervalMs: 200, segmentRecords: 20 }) };
  const a = await startDaemon({ prefix, node: 'a', extra: { lifecycle } });
  const b = await startDaemon({ prefix, node: 'b', extra: { lifecycle } });
  try {
    await a.daemon.allocator.definePool('churn', CHURN_POOL, { at: AT });
    await churn(a.daemon.allocator, 200, 30, 0, 4);
    // Wait for a horizon move (the maintainer runs every 200 ms).
    let h = 0;
    for (let i = 0; i < 100 && h === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      h = (await readHorizon(a.store.client, a.store.keys)).horizon?.revision ?? 0;
    }
    t.true(h > 0, 'the horizon moved');
    const holding = [a, b].filter((d) => d.daemon.maintenance?.lease.holder !== undefined);
    t.is(holding.length, 1, 'exactly one daemon holds the maintenance lease; the other follows');
    t.is(await a.daemon.maintenance!.lease.current(), `${holding[0] === a ? 'a' : 'b'}/${process.pid}`);
    await churn(b.daemon.allocator, 100, 30, 200, 4);
    await a.daemon.allocator.sync();
    await b.daemon.allocator.sync();
    const c = await startDaemon({ prefix, node: 'c' });
    try {
      await c.daemon.allocator.sync();
      t.true((c.daemon.startedFromCheckpoint ?? 0) >= h, 'projections started at or after the horizon');
      t.deepEqual(snapshot(c.daemon.allocator.model), snapshot(a.daemon.allocator.model));
      t.deepEqual(snapshot(c.daemon.allocator.model), snapshot(b.daemon.allocator.model));
      await c.daemon.projections.sync();
      await a.daemon.projections.sync();
      t.deepEqual([...c.daemon.projections.list('spider-ippool')], [...a.daemon.projections.list('spider-ippool')]);
    } finally {
      await c.close();
    }
  } finally {
    await a.close();
    await b.close();
    await rm(dir, { recursive: true, force: true });
  }
});
