// Whereabouts' overlapping ranges on a real etcd: pools that share their addresses (spec.sharedAddresses) in one
// scope, allocated from concurrently by two allocators (as two nodes' daemons) in Whereabouts' lowest-first order,
// never hold one address twice; checked on the log afterwards.
import test from 'ava';
import { AllocError } from '../src/alloc/errors.js';
import { parseWhereaboutsIpam } from '../src/upstream/whereabouts/config.js';
import { rangeRequests, whereaboutsPools } from '../src/upstream/whereabouts/pools.js';
import { AT, openAllocator, request } from './helpers/alloc.js';
import { freshPrefix } from './helpers/store.js';

test('given overlapping Whereabouts pools, when two allocators take addresses from both at once, then no address is held twice in the scope', async (t) => {
  const prefix = freshPrefix();
  const [a, b] = [await openAllocator(prefix), await openAllocator(prefix)];
  t.teardown(() => Promise.all([a.close(), b.close()]).then(() => undefined));
  const wide = whereaboutsPools(parseWhereaboutsIpam({ range: '10.77.0.0/24' }));
  const narrow = whereaboutsPools(parseWhereaboutsIpam({ range: '10.77.0.0/26', range_start: '10.77.0.1' }));
  await a.allocator.definePool(wide[0]!.name, wide[0]!.spec, { at: AT });
  await a.allocator.definePool(narrow[0]!.name, narrow[0]!.spec, { at: AT });
  await b.allocator.sync();
  // 120 pods, alternating allocator and pool: the narrow pool's 62 addresses are all inside the wide one.
  const results = await Promise.allSettled(
    Array.from({ length: 120 }, (_, i) => {
      const f = i % 2 === 0 ? a : b;
      const pools = i % 4 < 2 ? wide : narrow;
      return f.allocator.allocate(request(`pod-${i}`, { ranges: rangeRequests(pools) }));
    }),
  );
  // Both pools fill .1 upwards, so the narrow pool runs out once its 62 addresses are taken by either: those
  // requests are refused as exhausted; every wide request is served.
  results.forEach((r, i) => {
    if (r.status === 'fulfilled') return;
    const e = r.reason as unknown;
    t.true(i % 4 >= 2 && e instanceof AllocError && e.code === 'PoolExhausted', `pod-${i}: ${String(e)}`);
  });
  const ok = results.filter((r) => r.status === 'fulfilled').length;
  const refused = results.length - ok;
  // The log, in order: an address given while another endpoint holds it (in any pool of the scope) is a duplicate.
  const held = new Map<string, string>();
  let duplicates = 0;
  let allocated = 0;
  for await (const { event: e } of a.store.read({ types: ['IPAllocated', 'IPReleased'] })) {
    if (e.type === 'IPAllocated') {
      allocated++;
      if (held.has(e.data.address)) duplicates++;
      held.set(e.data.address, e.data.allocationId);
    } else if (e.type === 'IPReleased' && held.get(e.data.address) === e.data.allocationId) held.delete(e.data.address);
  }
  t.is(duplicates, 0);
  t.is(allocated, ok);
  // Lowest first across both pools: the held addresses are 10.77.0.1 upwards without a gap.
  const last = Math.max(...[...held.keys()].map((x) => Number(x.split('.')[3])));
  t.is(held.size, last, 'no gap below the highest address handed out');
  // A narrow request was refused only once all of its 62 addresses were held (by either pool).
  if (refused > 0) t.true(last >= 62 && [...Array(62).keys()].every((k) => held.has(`10.77.0.${k + 1}`)));
});
