// Two allocators on one /64 whose scans start at the same offset (the same rng): they collide, the conditional
// appends refuse the loser, it jumps elsewhere; afterwards the log holds every address at most once.
import test from 'ava';
import { Address6 } from 'ip-address';
import { AT, openAllocator, replay, request } from './helpers/alloc.js';

function seeded(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 16807) % 2147483647) / 2147483647;
}

test('given two allocators starting their scans at the same place in a /64, when both allocate concurrently, then no address is held twice and the loser jumps away', async (t) => {
  const a = await openAllocator(undefined, { rng: seeded(99) });
  t.teardown(() => a.close());
  const b = await openAllocator(a.prefix, { rng: seeded(99) });
  t.teardown(() => b.close());
  await a.allocator.definePool('v6', { ipVersion: 6, subnet: 'fd00:77::/64', ips: ['fd00:77::-fd00:77::ffff:ffff:ffff:ffff'], default: true }, { at: AT });
  await b.allocator.sync();

  const per = 60;
  const results = await Promise.all([
    ...Array.from({ length: per }, (_, i) => a.allocator.allocate(request(`a-${i}`, { families: [6] }))),
    ...Array.from({ length: per }, (_, i) => b.allocator.allocate(request(`b-${i}`, { families: [6] }))),
  ]);
  const addresses = results.map((r) => r.allocations[0]!.address);
  t.is(new Set(addresses).size, 2 * per, 'every acknowledged address distinct');

  const conflicts = a.allocator.stats.conflicts + b.allocator.stats.conflicts;
  t.true(conflicts > 0, 'the same start makes them collide');
  // After losing, a scan restarts at a random place: the addresses are no longer one run.
  const offsets = addresses.map((x) => new Address6(x).bigInt() - new Address6('fd00:77::').bigInt()).sort((x, y) => (x < y ? -1 : 1));
  t.true(offsets[offsets.length - 1]! - offsets[0]! > 1n << 40n, `spread after the jump: ${offsets[0]} .. ${offsets[offsets.length - 1]}`);

  // The log, replayed: one holder per address, the same 120 allocations.
  const m = await replay(a.store);
  t.is(m.byId.size, 2 * per);
  t.deepEqual([...m.byId.values()].map((r) => r.address).sort(), [...addresses].sort());
  t.is(m.pools.get('v6')!.allocated, 2 * per);
});
