// The read model over a /64 pool (the sparse free structure): reservations of any size are intervals inside it,
// never enumerated, never handed out; STATUS counts what an ADD could take.
import test from 'ava';
import { makeEvent } from '../events/catalogue.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { freeAddresses } from '../src/cni/pool-status.js';
import { formatAddress } from '../src/net/address.js';

const AT = '2026-11-23T12:00:00Z';
const meta = (id: string) => ({ id, at: AT, tags: [] });
const zero = () => 0;

function model(): AllocatorModel {
  const m = new AllocatorModel();
  m.apply(makeEvent('PoolDefined', { name: 'v6', spec: { ipVersion: 6, subnet: 'fd00:10::/64', ips: ['fd00:10::-fd00:10::ffff:ffff:ffff:ffff'] } }, meta('p')), 1);
  return m;
}
const pickAddress = (m: AllocatorModel) => {
  const p = m.pools.get('v6')!;
  return formatAddress(6, p.offsets.addressAt(p.free.pick(zero)));
};

test('given a /64 pool, when SpiderReservedIP ranges (up to half the /64) are reserved and unreserved, then picks skip them without enumerating', (t) => {
  const m = model();
  t.is(pickAddress(m), 'fd00:10::1', 'rng 0: the scan starts at the first usable address (the network address is not usable)');
  m.apply(makeEvent('IPReserved', { name: 'small', ipVersion: 6, ips: ['fd00:10::1-fd00:10::ffff'] }, meta('r1')), 2);
  t.is(pickAddress(m), 'fd00:10::1:0');
  const t0 = performance.now();
  m.apply(makeEvent('IPReserved', { name: 'half', ipVersion: 6, ips: ['fd00:10::-fd00:10::7fff:ffff:ffff:ffff'] }, meta('r2')), 3);
  t.true(performance.now() - t0 < 1000, 'a 2^63-address reservation is one interval, not a loop');
  t.is(pickAddress(m), 'fd00:10:0:0:8000::', 'RFC 5952: the longer zero run is the one compressed');
  t.is(m.pools.get('v6')!.blocked.size, 0, 'a large pool keeps reservations inside its free structure');
  t.is(freeAddresses(m.pools.get('v6')!), 1n << 63n, 'STATUS: the upper half is what an ADD could take');
  m.apply(makeEvent('IPUnreserved', { name: 'half' }, meta('u2')), 4);
  t.is(freeAddresses(m.pools.get('v6')!), (1n << 64n) - 1n - 0xffffn, 'the lower half is free again');
  t.is(pickAddress(m), 'fd00:10:0:0:8000::', 'the scan goes on from where it is');
  m.pools.get('v6')!.free.jump(zero); // as after losing an address to another process
  t.is(pickAddress(m), 'fd00:10::1:0', 'back at the start: the small reservation still holds');
  m.apply(makeEvent('IPUnreserved', { name: 'small' }, meta('u1')), 5);
  m.pools.get('v6')!.free.jump(zero);
  t.is(pickAddress(m), 'fd00:10::1');
  t.is(freeAddresses(m.pools.get('v6')!), (1n << 64n) - 1n);
});

test('given a /64 pool, when allocations and releases are applied, then released addresses go to the back of the line and counts follow', (t) => {
  const m = model();
  const ep = (i: number) => ({ namespace: 'ns', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, node: 'n', nic: 'eth0' });
  const addrs: string[] = [];
  for (let i = 0; i < 3; i++) {
    const address = pickAddress(m);
    addrs.push(address);
    m.apply(makeEvent('IPAllocated', { allocationId: `a${i}`, pool: 'v6', ipVersion: 6, address, prefixLength: 64, endpoint: ep(i) }, meta(`a${i}`)), 10 + i);
  }
  t.deepEqual(addrs, ['fd00:10::1', 'fd00:10::2', 'fd00:10::3']);
  m.apply(makeEvent('IPReleased', { allocationId: 'a0', pool: 'v6', address: 'fd00:10::1', reason: 'cni-del', endpoint: ep(0) }, meta('r0')), 20);
  t.is(m.pools.get('v6')!.allocated, 2);
  t.is(pickAddress(m), 'fd00:10::4', 'never-used first; fd00:10::1 waits at the back of the line');
  // An event written with another spelling lands on the same key (RFC 5952 text).
  m.apply(makeEvent('IPAllocated', { allocationId: 'x', pool: 'v6', ipVersion: 6, address: 'FD00:0010:0:0:0:0:0:0009', prefixLength: 64, endpoint: ep(9) }, meta('x')), 21);
  t.is(m.byId.get('x')!.address, 'fd00:10::9');
  t.is(m.byAddress.get('default/fd00:10::9'), 'x');
});
