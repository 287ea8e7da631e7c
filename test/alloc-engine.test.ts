// The engine on a real etcd: answers at commit, yet never lets its own in-flight writes be missed.
import test from 'ava';
import { AT, openAllocator, request } from './helpers/alloc.js';

const pool = { ipVersion: 4, subnet: '10.40.0.0/24', ips: ['10.40.0.10-10.40.0.250'], default: true };

test('an ADD followed at once by its DEL releases what the ADD got (no leak while the watch catches up)', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('p', pool, { at: AT }); // config is readable right after it is written
  for (let i = 0; i < 20; i++) {
    const add = await f.allocator.allocate(request(`pod-${i}`));
    const del = await f.allocator.releaseContainer(`ctr-pod-${i}`, undefined, AT);
    t.deepEqual(del.released.map((a) => a.address), add.allocations.map((a) => a.address));
  }
  await f.allocator.sync();
  t.is(f.allocator.model.byId.size, 0);
});

test('a DEL followed at once by another pod\'s ADD in a pool of one address gets that address (free or asked for by name), not a refusal', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('one', { ipVersion: 4, subnet: '10.41.0.0/29', ips: ['10.41.0.2'], default: true }, { at: AT });
  // Each ADD is decided right after the DEL's commit, often before the watch has brought the DEL into the model.
  for (let i = 0; i < 30; i++) {
    const add = await f.allocator.allocate(request(`one-${i}`));
    t.is(add.allocations[0]!.address, '10.41.0.2');
    await f.allocator.releaseContainer(`ctr-one-${i}`, undefined, AT);
  }
  // a static IP a DEL just freed is given to the next pod asking for it (StatefulSet-style reuse), not "already allocated"
  for (let i = 0; i < 30; i++) {
    const add = await f.allocator.allocate(request(`static-${i}`, { addresses: { ipv4: '10.41.0.2' } }));
    t.is(add.allocations[0]!.address, '10.41.0.2');
    await f.allocator.releaseContainer(`ctr-static-${i}`, undefined, AT);
  }
  // and a pool that is really full, or an address really held, still says so
  await f.allocator.allocate(request('holder'));
  await t.throwsAsync(f.allocator.allocate(request('late')), { message: /exhausted/ });
  await t.throwsAsync(f.allocator.allocate(request('late-static', { addresses: { ipv4: '10.41.0.2' } })), { message: /already allocated to default\/holder/ });
});

test('concurrent identical ADDs in one process get one allocation and the same address', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('p', pool, { at: AT });
  const results = await Promise.all(Array.from({ length: 8 }, () => f.allocator.allocate(request('same'))));
  t.is(new Set(results.map((r) => r.allocations[0]!.address)).size, 1);
  t.is(results.filter((r) => !r.reused).length, 1);
  let logged = 0;
  for await (const _ of f.store.read({ types: ['IPAllocated'] })) logged++;
  t.is(logged, 1);
});

test('dryRun validates and decides but writes nothing; a bad spec names its field', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const before = await f.store.headRevision();
  const r = await f.allocator.definePool('p', pool, { at: AT, dryRun: true });
  t.deepEqual(r.events.map((e) => e.type), ['PoolDefined']);
  await t.throwsAsync(f.allocator.definePool('q', { ...pool, gateway: '10.41.0.1' }, { at: AT }), { message: /^spec\.gateway/ });
  t.is(await f.store.headRevision(), before);
  t.false(f.allocator.model.pools.has('p'));
});
