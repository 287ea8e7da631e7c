// The console's reads over the allocator's model: utilization, address maps of a /16, a /14 and a sparse IPv6 /64,
// endpoint search, and the time machine replaying a pool to a past revision or time.
import test from 'ava';
import { CellState } from '../src/console/wire.js';
import { MAP_PAGE, overview, poolMap, searchEndpoints } from '../src/console/reads.js';
import { TimeMachine } from '../src/console/time-travel.js';
import { AT, openAllocator, request } from './helpers/alloc.js';

const cellsOf = (b64: string) => new Uint8Array(Buffer.from(b64, 'base64'));

test('a /16 is one page of 65,536 cells; a /14 starts at the page of its first address; counts and holders match the allocations', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const a = f.allocator;
  await a.definePool('b16', { ipVersion: 4, subnet: '10.80.0.0/16', ips: ['10.80.0.1-10.80.255.254'], excludeIPs: ['10.80.1.0-10.80.1.255'], gateway: '10.80.0.1' }, { at: AT });
  await a.definePool('b14', { ipVersion: 4, subnet: '10.84.0.0/14', ips: ['10.86.0.10-10.86.0.20'] }, { at: AT });
  const got = [];
  for (let i = 0; i < 3; i++) got.push((await a.allocate(request(`p${i}`, { pools: { ipv4: ['b16'] } }))).allocations[0]!);
  await a.awaitOwnWrites(); // an allocation answers at commit; the model has it once the watch brought it
  const m = poolMap(a.model, 'b16', 0n)!;
  t.is(m.cellCount, MAP_PAGE);
  t.is(m.pages, '1');
  t.is(m.first, '10.80.0.0');
  t.deepEqual(m.counts, { Outside: 2, Free: 65_536 - 2 - 256 - 1 - 3, Allocated: 3, Reserved: 0, Excluded: 256, Infrastructure: 1 });
  const cells = cellsOf(m.cells);
  for (const g of got) {
    const i = Number(g.address.split('.')[2]) * 256 + Number(g.address.split('.')[3]);
    t.is(cells[i], CellState.Allocated);
    t.is(m.holders.find((h) => h.cell === i)?.pod, `default/${g.endpoint.name}`);
  }
  t.is(cells[1], CellState.Infrastructure); // the gateway
  // The /14's owned addresses are on its third page; the map starts at the page holding the first of them.
  const w = poolMap(a.model, 'b14', 0n)!;
  t.is(w.first, '10.86.0.0');
  t.is(w.pages, '2');
  t.is(w.counts.Free, 11);
  t.throws(() => poolMap(a.model, 'b14', 2n), { message: /page 2 is outside 0..1/ });
  t.is(poolMap(a.model, 'nope', 0n), undefined);
  const o = overview(a.model);
  const b16 = o.pools.find((p) => p.name === 'b16')!;
  t.is(b16.total, String(65_534 - 256));
  t.is(b16.allocatable, String(65_534 - 256 - 1));
  t.is(b16.allocated, 3);
  t.is(b16.state, 'ok');
});

test('a sparse IPv6 pool in a /64 maps from the page of its first address; counts are decimal strings', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('v6', { ipVersion: 6, subnet: 'fd00:10::/64', ips: ['fd00:10::1:10-fd00:10::1:1f'] }, { at: AT });
  await f.allocator.awaitOwnWrites();
  const m = poolMap(f.allocator.model, 'v6', 0n)!;
  t.is(m.first, 'fd00:10::1:0');
  t.is(m.pages, String((1n << 64n) / 65_536n - 1n));
  t.is(m.counts.Free, 16);
  t.is(overview(f.allocator.model).pools[0]!.total, '16');
});

test('endpoint search matches namespace, pod, container id and address; bounded', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const a = f.allocator;
  await a.definePool('s', { ipVersion: 4, subnet: '10.81.0.0/24', ips: ['10.81.0.10-10.81.0.200'], default: true }, { at: AT });
  for (let i = 0; i < 12; i++) await a.allocate(request(`web-${i}`, {}, { namespace: i % 2 ? 'blue' : 'green', containerID: `ctr-${i}` }));
  await a.awaitOwnWrites();
  const addr = [...a.model.byId.values()].find((r) => r.endpoint.name === 'web-5')!.address;
  t.is(searchEndpoints(a.model, 'blue').items.length, 6);
  t.deepEqual(searchEndpoints(a.model, 'ctr-11').items.map((e) => e.name), ['web-11']);
  t.deepEqual(searchEndpoints(a.model, addr).items.map((e) => e.name), ['web-5']);
  const few = searchEndpoints(a.model, '', 5);
  t.is(few.items.length, 5);
  t.true(few.truncated);
});

test('the time machine shows a pool as it was at a revision and at a time', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const a = f.allocator;
  await a.definePool('tt', { ipVersion: 4, subnet: '10.82.0.0/24', ips: ['10.82.0.10-10.82.0.20'], default: true }, { at: AT });
  const r1 = await a.allocate(request('a', {}, {}));
  const later = '2026-11-23T13:00:00Z';
  await a.allocate({ ...request('b'), at: later });
  await a.releaseContainer(r1.allocations[0]!.endpoint.containerID, undefined, later);
  const machine = new TimeMachine(f.store);
  t.is(poolMap(await machine.modelAt({ revision: r1.revision }), 'tt', 0n)!.counts.Allocated, 1);
  const before = await machine.modelAt({ time: new Date('2026-11-23T12:30:00Z') });
  t.deepEqual([...before.byId.values()].map((x) => x.endpoint.name), ['a']);
  const now = await machine.modelAt({ revision: await f.store.currentRevision() });
  t.deepEqual([...now.byId.values()].map((x) => x.endpoint.name), ['b']);
});
