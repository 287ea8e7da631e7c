// Projections over a real log written by the allocator: live == replay, checkpoints, time travel, audit, archive.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportLog, importLog } from '../projections/archive.js';
import { loadAll, loadCheckpoint, saveAll } from '../projections/checkpoint.js';
import { history } from '../projections/history.js';
import { mapStats } from '../projections/persistent-map.js';
import { ALL_PROJECTIONS, spiderIPPoolProjection } from '../projections/index.js';
import { LiveProjections, replay } from '../projections/runtime.js';
import { documentsOf, type ProjectionStates } from '../projections/runtime.js';
import { AT, openAllocator, request } from './helpers/alloc.js';
import { freshPrefix } from './helpers/store.js';

/** Two sets of states are equal: the same checkpoint form and the same rendered objects, projection by projection. */
function assertSame(t: ExecutionContext, a: ProjectionStates, b: ProjectionStates): void {
  for (const p of ALL_PROJECTIONS) {
    const x = documentsOf(a, p.name)!;
    const y = documentsOf(b, p.name)!;
    t.deepEqual(JSON.parse(JSON.stringify(x)), JSON.parse(JSON.stringify(y)), p.name);
    t.deepEqual([...x.list()], [...y.list()], p.name);
  }
}

/** A realistic little history: subnet, pools, dual-stack pods, a StatefulSet reuse, releases. */
async function writeHistory(f: Awaited<ReturnType<typeof openAllocator>>) {
  const a = f.allocator;
  await a.defineSubnet('sn4', { ipVersion: 4, subnet: '10.50.0.0/16', ips: ['10.50.0.1-10.50.0.200'] }, { at: AT });
  await a.definePool('v4', { ipVersion: 4, subnet: '10.50.0.0/16', ips: ['10.50.0.10-10.50.0.60'], gateway: '10.50.0.1', default: true }, { at: AT });
  await a.definePool('v6', { ipVersion: 6, subnet: 'fd00:50::/64', ips: ['fd00:50::10-fd00:50::60'], default: true }, { at: AT });
  const acks = await Promise.all(Array.from({ length: 20 }, (_, i) => a.allocate(request(`web-${i}`, { at: `2026-11-23T12:00:${String(i).padStart(2, '0')}Z` }))));
  await a.allocate(request('db-0', {}, { owner: { kind: 'StatefulSet', name: 'db' } }));
  await a.allocate(request('db-0', {}, { owner: { kind: 'StatefulSet', name: 'db' }, uid: 'uid-db-0b', containerID: 'ctr-db-0b' }));
  for (let i = 0; i < 20; i += 3) await a.releaseContainer(`ctr-web-${i}`, undefined, '2026-11-23T13:00:00Z');
  await a.sync();
  return acks;
}

test('live projections equal a fresh replay of the same log at the same revision', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const live = new LiveProjections(f.store, ALL_PROJECTIONS);
  await live.start();
  t.teardown(() => live.stop());
  await writeHistory(f);
  await live.sync();
  const fresh = await replay(f.store, ALL_PROJECTIONS, { until: live.current.revision });
  assertSame(t, live.current, fresh);
  const v4 = live.get('spider-ippool', 'v4') as unknown as { status: { allocatedIPCount: number } };
  t.is(v4.status.allocatedIPCount, 21 - 7, '21 pods, 7 released');
});

test('coalescing live projections (the daemon\'s): batches held for the window, applied at once when anything reads, listeners told once; equal to a replay', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const live = new LiveProjections(f.store, ALL_PROJECTIONS);
  // A window far longer than the test: only reads (and waitFor/sync) can make the batches apply.
  const heard: { changes: number; revision: number }[] = [];
  live.onChange((changes, revision) => heard.push({ changes: changes.length, revision }));
  const delivered: number[] = [];
  const sub = f.store.subscribe({
    after: 0,
    onEvents: (events, through) => {
      delivered.push(events.length);
      live.apply(events, through);
    },
  });
  t.teardown(() => sub.close());
  live.follow(sub, { coalesceMs: 60_000 });
  await writeHistory(f);
  await sub.sync();
  t.true(delivered.length > 1, 'several batches arrived');
  t.deepEqual(heard, [], 'nothing applied while the window is open');
  // A read applies everything received, in one batch: one notification.
  const v4 = live.get('spider-ippool', 'v4') as unknown as { status: { allocatedIPCount: number } };
  t.is(v4.status.allocatedIPCount, 21 - 7);
  t.is(heard.length, 1);
  t.true(heard[0]!.changes > 0);
  const fresh = await replay(f.store, ALL_PROJECTIONS, { until: live.revision });
  assertSame(t, live.current, fresh);
  // waitFor sees a batch held after it.
  const ack = await f.allocator.allocate(request('after-window'));
  await live.waitFor(ack.revision);
  t.truthy(live.get('spider-endpoints', 'default/after-window'));
  await live.stop();
});

test('a checkpoint plus the tail equals a full replay; a checkpoint of another projection version is ignored', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await writeHistory(f);
  const mid = await replay(f.store, ALL_PROJECTIONS);
  await saveAll(f.store, ALL_PROJECTIONS, mid);
  for (let i = 0; i < 5; i++) await f.allocator.allocate(request(`late-${i}`));
  await f.allocator.sync();
  const cp = await loadAll(f.store, ALL_PROJECTIONS);
  t.truthy(cp);
  t.is(cp!.revision, mid.revision);
  const fromCp = await replay(f.store, ALL_PROJECTIONS, { from: cp! });
  const full = await replay(f.store, ALL_PROJECTIONS, { until: fromCp.revision });
  assertSame(t, fromCp, full);
  t.is(await loadCheckpoint(f.store, { ...spiderIPPoolProjection, version: spiderIPPoolProjection.version + 1 }), undefined);
});

test('time travel: a projection as of a revision or a timestamp', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await writeHistory(f);
  const head = await f.store.headRevision();
  const early = await replay(f.store, [spiderIPPoolProjection], { asOf: new Date('2026-11-23T12:00:04Z') });
  const count = (s: ProjectionStates) => (documentsOf(s, spiderIPPoolProjection.name)!.get('v4') as unknown as { status: { allocatedIPCount: number } }).status.allocatedIPCount;
  t.is(count(early), 5 + 1, 'web-0..web-4 (12:00:00-04) and db-0 (reused in place, at 12:00:00), before any release');
  const atHead = await replay(f.store, [spiderIPPoolProjection], { until: head });
  t.is(count(atHead), 14);
});

test('history of an address and of a pod: who held it, from when to when, why it ended', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const acks = await writeHistory(f);
  const addr = acks[0]!.allocations[0]!.address;
  const h = await history(f.store, { address: addr });
  t.is(h[0]!.pod, 'default/web-0');
  t.is(h[0]!.until?.reason, 'cni-del');
  const db = await history(f.store, { pod: 'default/db-0' });
  t.deepEqual(db.map((x) => x.containerID), ['ctr-db-0', 'ctr-db-0', 'ctr-db-0b', 'ctr-db-0b']);
  t.deepEqual(db.map((x) => x.until?.reason), ['reused', 'reused', undefined, undefined]);
});

test('an exported log imported into an empty store reproduces the same projections', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await writeHistory(f);
  const file = join(mkdtempSync(join(tmpdir(), 'ipam-export-')), 'log.jsonl');
  const n = await exportLog(f.store, file);
  t.true(n > 40);
  const g = await openAllocator(freshPrefix());
  t.teardown(() => g.close());
  t.is(await importLog(g.store, file), n);
  const a = await replay(f.store, ALL_PROJECTIONS);
  const b = await replay(g.store, ALL_PROJECTIONS);
  assertSame(t, b, a);
  await t.throwsAsync(importLog(g.store, file), { message: /empty store/ });
});

test('a live read model reports each changed object once per batch, and get/list agree with the states', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const live = new LiveProjections(f.store, ALL_PROJECTIONS);
  await live.start();
  t.teardown(() => live.stop());
  const seen: { type: string; projection: string; key: string }[] = [];
  live.onChange((changes) => seen.push(...changes.map((c) => ({ type: c.type, projection: c.projection, key: c.key }))));
  await f.allocator.definePool('p4', { ipVersion: 4, subnet: '10.60.0.0/24', ips: ['10.60.0.10-10.60.0.20'], default: true }, { at: AT });
  await live.sync();
  t.true(seen.some((c) => c.type === 'ADDED' && c.projection === 'spider-ippool' && c.key === 'p4'));
  const ack = await f.allocator.allocate(request('rm-0'));
  await live.waitFor(ack.revision);
  t.true(seen.some((c) => c.type === 'MODIFIED' && c.projection === 'spider-ippool' && c.key === 'p4'));
  t.true(seen.some((c) => c.type === 'ADDED' && c.projection === 'spider-endpoints' && c.key === 'default/rm-0'));
  await f.allocator.releaseContainer('ctr-rm-0', undefined, AT);
  await live.sync();
  t.true(seen.some((c) => c.type === 'DELETED' && c.projection === 'spider-endpoints' && c.key === 'default/rm-0'));
  t.is(live.get('spider-endpoints', 'default/rm-0'), undefined);
  t.deepEqual([...live.list('spider-ippool')].map((o) => o.metadata.name), ['p4']);
  t.is(live.revision, live.current.revision);
});

test.serial('live projections record no changes until their first listener (a daemon catching up): nothing copied meanwhile; the listener then hears every later change, equal to a replay', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const live = new LiveProjections(f.store, ALL_PROJECTIONS);
  await live.start();
  t.teardown(() => live.stop());
  const copies = mapStats.copies;
  await writeHistory(f);
  await live.sync();
  // Nobody read or listened: every batch changed the pools' maps in place (a tracked batch snapshots a pool first).
  t.is(mapStats.copies, copies, 'no persistent-map node copied while nobody listened');
  const early = live.get('spider-endpoints', 'default/web-1');
  const earlyJson = JSON.stringify(early);
  const heard: { type: string; projection: string; key: string }[] = [];
  live.onChange((changes) => heard.push(...changes.map((c) => ({ type: c.type, projection: c.projection, key: c.key }))));
  await f.allocator.allocate(request('late-0'));
  await f.allocator.releaseContainer('ctr-web-1', undefined, '2026-11-23T14:00:00Z');
  await live.sync();
  // One batch or two (the allocation and the release may arrive apart): the distinct changes.
  const seen = (projection: string) => [...new Set(heard.filter((c) => c.projection === projection).map((c) => `${c.type} ${c.key}`))].sort();
  t.deepEqual(seen('spider-endpoints'), ['ADDED default/late-0', 'DELETED default/web-1'], 'only what changed after the listener came');
  t.deepEqual(seen('spider-ippool'), ['MODIFIED v4', 'MODIFIED v6']);
  t.is(JSON.stringify(early), earlyJson, 'an object read before tracking began never changes');
  assertSame(t, live.current, await replay(f.store, ALL_PROJECTIONS, { until: live.current.revision }));
});
