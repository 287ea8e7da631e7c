// Maintenance runs sized by the backlog, on real etcd: a run that stops inside a page of the log (its record cap or
// the retention age) leaves the projections where the model is (the horizon checkpoint equals a replay of the
// archive up to H), a run with too little to move keeps its place for the next, and the tag GC of the tags a run
// passed over leaves nothing that a sweep of every tag key would still delete; on its own etcd the maintainer
// compacts etcd's history up to each move.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { loadHorizonCheckpoint } from '../projections/checkpoint.js';
import { restoreModel } from '../src/alloc/model-checkpoint.js';
import { collectTags } from '../src/lifecycle/tag-gc.js';
import { verifyLifecycle } from '../src/lifecycle/verify.js';
import { readHorizon } from '../src/store/horizon.js';
import { AT, openAllocator } from './helpers/alloc.js';
import { CHURN_POOL, churn, fastPolicy, openMaintainer } from './helpers/lifecycle.js';
import { freshPrefix, openStore } from './helpers/store.js';
import { Allocator } from '../src/alloc/allocator.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { Maintainer } from '../src/lifecycle/maintainer.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { MaintenanceLease } from '../src/store/lease.js';

test('runs capped inside a page keep the projections with the model: every horizon checkpoint equals a replay of the archive', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-runs-'));
  const a = await openAllocator(prefix);
  // 37 records per run: never a whole page of the pass (256), so every run stops inside one.
  const m = await openMaintainer(prefix, dir, fastPolicy({ maxRecordsPerRun: 37, segmentRecords: 16 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(a.allocator, 300, 40);
    let moves = 0;
    for (let i = 0; i < 6; i++) {
      const run = await m.maintainer.runOnce();
      if (run.horizon > run.from) moves++;
      t.true(run.archivedRecords <= 37, `a run archives at most its cap: ${run.archivedRecords}`);
      next = await churn(a.allocator, 20, 40, next);
    }
    t.true(moves >= 5, `the horizon moved in ${moves} of 6 runs`);
    const check = await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS);
    t.deepEqual(check.problems, [], 'checkpoint at H == replay of the archive up to H, for the model and every projection');
  } finally {
    await m.close();
    await a.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a run with too little to move the horizon for keeps its place; the next run moves it over both', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-runs-'));
  const a = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ minRecordsPerMove: 60, segmentRecords: 1000 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(a.allocator, 30, 10, 0, 1);
    const idle = await m.maintainer.runOnce();
    t.is(idle.horizon, idle.from, `too little to move for: ${JSON.stringify(idle)}`);
    t.is(m.archive.through, 0, 'nothing archived yet');
    next = await churn(a.allocator, 60, 10, next, 1);
    const run = await m.maintainer.runOnce();
    t.true(run.horizon > 0, JSON.stringify(run));
    t.is(m.archive.through, run.horizon);
    t.true(run.archivedRecords >= 60, `the records of both runs went into the archive: ${run.archivedRecords}`);
    t.deepEqual((await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS)).problems, []);
  } finally {
    await m.close();
    await a.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the tag GC of the tags a run passed over leaves nothing a sweep of every tag key would delete", async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-runs-'));
  const a = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 50 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(a.allocator, 200, 30);
    const first = await m.maintainer.runOnce(); // a maintainer's first run sweeps
    t.true((first.tags?.deleted ?? 0) > 0);
    let touchedDeleted = 0;
    for (let i = 0; i < 3; i++) {
      next = await churn(a.allocator, 150, 30, next);
      const run = await m.maintainer.runOnce();
      t.true(run.horizon > run.from);
      t.true(run.steps !== undefined && 'tags' in run.steps, `an incremental run, not a sweep: ${JSON.stringify(run.steps)}`);
      touchedDeleted += run.tags?.deleted ?? 0;
    }
    t.true(touchedDeleted > 300, `the incremental runs deleted the released pods' tags: ${touchedDeleted}`);
    const hs = await readHorizon(a.store.client, a.store.keys);
    const model = restoreModel((await loadHorizonCheckpoint(a.store, hs.horizon!.checkpoint)).model);
    const sweep = await collectTags(m.f.store, model, hs.horizon!.revision, hs.mod, (await m.lease.tryAcquire())!);
    t.is(sweep.deleted, 0, `a sweep after them finds nothing left to delete (scanned ${sweep.scanned})`);
    t.deepEqual((await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS)).problems, []);
  } finally {
    await m.close();
    await a.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('compactEtcd (a daemon on its own local etcd): each horizon move compacts etcd history up to the move, and service goes on', async (t) => {
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-runs-'));
  const a = await openStore({ prefix }, etcd.endpoints);
  const allocator = new Allocator(a.store);
  await allocator.start();
  const f = await openStore({ prefix }, etcd.endpoints);
  const archive = new ArchiveDir(dir, prefix);
  const lease = new MaintenanceLease(f.client, f.store.keys, 'compacting');
  const maintainer = new Maintainer({ store: f.store, archive, lease, projections: ALL_PROJECTIONS, policy: fastPolicy({ segmentRecords: 50 }), compactEtcd: true });
  try {
    await allocator.definePool('churn', CHURN_POOL, { at: AT });
    const firstRevision = await a.store.currentRevision();
    let next = await churn(allocator, 120, 20);
    const run = await maintainer.runOnce();
    t.true(run.horizon > run.from && run.steps !== undefined && 'compact' in run.steps, JSON.stringify(run.steps));
    const { mod } = await readHorizon(f.client, f.store.keys);
    // History before the move is gone: a read at an older revision is refused as compacted; at the move it is not.
    await t.throwsAsync(f.client.kv.range({ key: Buffer.from(f.store.keys.head), revision: firstRevision }), { message: /compacted/ });
    await t.notThrowsAsync(f.client.kv.range({ key: Buffer.from(f.store.keys.head), revision: mod }));
    next = await churn(allocator, 60, 20, next);
    const run2 = await maintainer.runOnce();
    t.true(run2.horizon > run.horizon);
    await allocator.sync();
    t.deepEqual((await verifyLifecycle(a.store, archive, ALL_PROJECTIONS)).problems, []);
  } finally {
    await lease.release();
    await allocator.stop();
    await a.close();
    await f.close();
    await rm(dir, { recursive: true, force: true });
  }
});
