import test from 'ava';
import { Allocator } from '../src/alloc/allocator.js';
import { AppendConditionFailed, HORIZON_FENCE, isAppendConditionFailed } from '../src/store/errors.js';
import { moveHorizon, readHorizon, type Horizon } from '../src/store/horizon.js';
import { MaintenanceLease } from '../src/store/lease.js';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, type StoreFixture } from './helpers/store.js';

async function move(f: StoreFixture, lease: MaintenanceLease, revision: number): Promise<number> {
  const holder = (await lease.tryAcquire())!;
  const { mod } = await readHorizon(f.client, f.store.keys);
  const next: Horizon = { revision, lastEventAt: '2026-11-23T12:00:00Z', movedAt: new Date().toISOString(), checkpoint: 'test' };
  return moveHorizon(f.client, f.store.keys, f.store.writer, next, mod, holder);
}

async function count(f: StoreFixture): Promise<number> {
  let n = 0;
  for await (const _ of f.store.read({ beforeHorizon: 'allow' })) n++;
  return n;
}

test('given a view older than the horizon move, when appending, then it fails with the HORIZON_FENCE conflict and writes nothing; a view as fresh as the move commits', async (t) => {
  const f = await openStore();
  const lease = new MaintenanceLease(f.client, f.store.keys, 'test');
  const r0 = await f.store.currentRevision();
  const first = await f.store.append([allocated(f.store.newId(), '10.0.0.1', 'a')], allocationCondition('10.0.0.1', 'a', r0));
  const moved = await move(f, lease, first.revision);
  const err = await t.throwsAsync(f.store.append([allocated(f.store.newId(), '10.0.0.2', 'b')], allocationCondition('10.0.0.2', 'b', first.revision)));
  t.true(isAppendConditionFailed(err));
  t.deepEqual((err as AppendConditionFailed).tags, [HORIZON_FENCE]);
  t.is((err as AppendConditionFailed).seenRevision, moved, 'the caller learns how fresh its next view must be');
  t.is(await count(f), 1);
  const ok = await f.store.append([allocated(f.store.newId(), '10.0.0.2', 'b')], allocationCondition('10.0.0.2', 'b', moved));
  t.true(ok.revision > moved);
  await lease.release();
  await f.close();
});

test('given one stale and two fresh members in one group commit, then only the stale one fails with the fence conflict and the others commit together', async (t) => {
  const f = await openStore();
  const lease = new MaintenanceLease(f.client, f.store.keys, 'test');
  const r0 = await f.store.currentRevision();
  const moved = await move(f, lease, r0);
  const results = await f.store.appendBatch([
    { events: [allocated(f.store.newId(), '10.0.1.1', 'a')], condition: allocationCondition('10.0.1.1', 'a', moved) },
    { events: [allocated(f.store.newId(), '10.0.1.2', 'b')], condition: allocationCondition('10.0.1.2', 'b', moved - 1) },
    { events: [allocated(f.store.newId(), '10.0.1.3', 'c')], condition: allocationCondition('10.0.1.3', 'c', moved) },
  ]);
  t.deepEqual(results.map((r) => r.ok), [true, false, true]);
  const stale = results[1]!;
  t.true(!stale.ok && stale.error instanceof AppendConditionFailed && stale.error.tags[0] === HORIZON_FENCE);
  const revs = new Set(results.flatMap((r) => (r.ok ? [r.result.revision] : [])));
  t.is(revs.size, 1, 'the fresh members were resent together');
  t.is(await count(f), 2);
  await lease.release();
  await f.close();
});

test('given an allocator whose view predates a horizon move, when it allocates, then it re-decides from a view past the move (the move is a commit its subscription delivers) and succeeds', async (t) => {
  const f = await openStore();
  const a = new Allocator(f.store);
  await a.start();
  await a.definePool('p1', { ipVersion: 4, subnet: '10.2.0.0/24', ips: ['10.2.0.1-10.2.0.20'], default: true }, { at: '2026-11-23T12:00:00Z' });
  const lease = new MaintenanceLease(f.client, f.store.keys, 'test');
  // A second store moves the horizon: this allocator hears of it only through its subscription.
  const g = await openStore({ prefix: f.prefix });
  const moved = await move(g, lease, a.revision);
  const r = await a.allocate({ endpoint: { namespace: 'default', name: 'p', uid: 'u', containerID: 'c', node: 'n', nic: 'eth0' }, at: '2026-11-23T12:00:00Z' });
  t.true(r.revision > moved);
  t.true(a.stats.conflicts <= 1, 'at most one fenced attempt');
  await a.waitFor(moved); // resolves: the move's own (empty) record advances every view past it
  t.true(a.revision >= moved);
  await lease.release();
  await a.stop();
  await g.close();
  await f.close();
});

test('given the lease is held by another daemon, when moving the horizon, then the move is refused', async (t) => {
  const f = await openStore();
  const mine = new MaintenanceLease(f.client, f.store.keys, 'mine');
  const theirs = new MaintenanceLease(f.client, f.store.keys, 'theirs');
  t.truthy(await theirs.tryAcquire());
  t.is(await mine.tryAcquire(), undefined);
  const fake = { key: mine.key, createRevision: 1 };
  await t.throwsAsync(moveHorizon(f.client, f.store.keys, f.store.writer, { revision: 1, lastEventAt: '', movedAt: '', checkpoint: '' }, 0, fake), { message: /maintenance lease/ });
  await theirs.release();
  t.truthy(await mine.tryAcquire(), 'released at once: the next one takes over without waiting for the TTL');
  await mine.release();
  await f.close();
});
