// Given these events, when this command, then these events (or this error): the pure deciders, no etcd.
import test from 'ava';
import type { DomainEvent } from '../events/catalogue.js';
import { decideAllocate, decideReleaseById, decideReleaseContainer, type DecideContext } from '../src/alloc/decide-alloc.js';
import * as config from '../src/alloc/decide-config.js';
import { AllocError } from '../src/alloc/errors.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { pickOffset } from '../src/alloc/decide-alloc.js';
import { parseWhereaboutsIpam } from '../src/upstream/whereabouts/config.js';
import { rangeRequests, whereaboutsPools } from '../src/upstream/whereabouts/pools.js';
import { InputError } from '../src/net/errors.js';
import { AT, request } from './helpers/alloc.js';

let seq = 0;
const claims = new Set<string>();
function ctx(): DecideContext & config.ConfigContext {
  return {
    at: AT,
    newId: (l = '') => `id-${seq++}${l}`,
    pick: (pool, spans) => {
      const o = pickOffset(pool, () => 0, (x) => claims.has(`${pool.compiled.name}/${x}`) || pool.blocked.has(x) || pool.shadowed.has(x), spans);
      if (o >= 0) claims.add(`${pool.compiled.name}/${o}`);
      return o;
    },
  };
}

function given(...events: DomainEvent[][]): AllocatorModel {
  claims.clear();
  const m = new AllocatorModel();
  let rev = 1;
  for (const batch of events) for (const e of batch) m.apply(e, rev++);
  return m;
}

function apply(m: AllocatorModel, events: DomainEvent[]): void {
  claims.clear();
  for (const e of events) m.apply(e, m.revision + 1);
}

const v4 = { ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.0-10.6.0.255'], gateway: '10.6.0.1', default: true };
const v6 = { ipVersion: 6, subnet: 'fd00:6::/120', ips: ['fd00:6::10-fd00:6::1f'], default: true };
const pool = (name: string, spec: unknown, m = new AllocatorModel()) => config.decideDefinePool(m, name, spec, ctx()).events;

test('given a default IPv4 pool, when a pod asks, then it gets a usable address: never network, broadcast or gateway', (t) => {
  const m = given(pool('p4', v4));
  const seen = new Set<string>();
  for (let i = 0; i < 253; i++) {
    const d = decideAllocate(m, request(`pod-${i}`), ctx());
    t.is(d.events.length, 1);
    t.is(d.events[0]!.type, 'IPAllocated');
    seen.add(d.allocations[0]!.address);
    apply(m, d.events);
  }
  t.is(seen.size, 253);
  for (const never of ['10.6.0.0', '10.6.0.1', '10.6.0.255']) t.false(seen.has(never), never);
  t.throws(() => decideAllocate(m, request('one-too-many'), ctx()), { instanceOf: AllocError, message: /exhausted \(253\/253 allocated\)/ });
});

test('given an allocation, when the same container asks again, then the same addresses and no event', (t) => {
  const m = given(pool('p4', v4));
  const first = decideAllocate(m, request('a'), ctx());
  apply(m, first.events);
  const again = decideAllocate(m, request('a'), ctx());
  t.deepEqual(again.events, []);
  t.true(again.reused);
  t.is(again.allocations[0]!.address, first.allocations[0]!.address);
});

test('given a StatefulSet pod, when it is recreated with a new uid and container, then it keeps its address', (t) => {
  const m = given(pool('p4', v4));
  const sts = { owner: { kind: 'StatefulSet', name: 'db' } };
  const first = decideAllocate(m, request('db-0', {}, sts), ctx());
  apply(m, first.events);
  const again = decideAllocate(m, request('db-0', {}, { ...sts, uid: 'uid-new', containerID: 'ctr-new' }), ctx());
  t.true(again.reused);
  t.is(again.allocations[0]!.address, first.allocations[0]!.address);
  apply(m, again.events);
  t.is(m.byId.size, 1, 'the old allocation was replaced, not duplicated');
  t.is([...m.byId.values()][0]!.endpoint.containerID, 'ctr-new');
});

test('given a KubeVirt VM, when its virt-launcher pod is replaced, then the VM keeps its address by VM name', (t) => {
  const m = given(pool('p4', v4));
  const vm = { owner: { kind: 'VirtualMachineInstance', name: 'vm1' } };
  const first = decideAllocate(m, request('virt-launcher-vm1-abcde', {}, vm), ctx());
  apply(m, first.events);
  const again = decideAllocate(m, request('virt-launcher-vm1-xyz12', {}, { ...vm, uid: 'u2', containerID: 'c2' }), ctx());
  t.is(again.allocations[0]!.address, first.allocations[0]!.address);
});

test('given an orphan allocation of an older pod with the same name, when a new pod asks, then the orphan is released and a fresh address given', (t) => {
  const m = given(pool('p4', v4));
  const first = decideAllocate(m, request('web'), ctx());
  apply(m, first.events);
  const d = decideAllocate(m, request('web', {}, { uid: 'uid-2', containerID: 'ctr-2' }), ctx());
  t.deepEqual(d.events.map((e) => e.type), ['IPReleased', 'IPAllocated']);
  t.is((d.events[0]!.data as { reason: string }).reason, 'orphan');
  t.not(d.allocations[0]!.address, first.allocations[0]!.address);
});

test('a released address goes to the back of the line: a quickly recreated pod does not inherit it', (t) => {
  const m = given(pool('tiny', { ipVersion: 4, subnet: '10.4.0.0/24', ips: ['10.4.0.10-10.4.0.12'], default: true }));
  const a = decideAllocate(m, request('a'), ctx());
  apply(m, a.events);
  apply(m, decideReleaseContainer(m, 'ctr-a', undefined, ctx()).events);
  const b = decideAllocate(m, request('b'), ctx());
  t.not(b.allocations[0]!.address, a.allocations[0]!.address, 'never-used addresses come first');
  apply(m, b.events);
  const c = decideAllocate(m, request('c'), ctx());
  t.not(c.allocations[0]!.address, a.allocations[0]!.address);
  apply(m, c.events);
  // Only now, with nothing never-used left, does the released address come back.
  t.is(decideAllocate(m, request('d'), ctx()).allocations[0]!.address, a.allocations[0]!.address);
});

test('dual stack: one address per family, both or neither', (t) => {
  const m = given(pool('p4', v4), pool('p6', { ...v6, ips: ['fd00:6::10'] }));
  const d = decideAllocate(m, request('a'), ctx());
  t.deepEqual(d.allocations.map((a) => a.ipVersion), [4, 6]);
  apply(m, d.events);
  // IPv6 is now exhausted: the IPv4 address must not be handed out alone.
  const err = t.throws(() => decideAllocate(m, request('b'), ctx()));
  t.true(err instanceof AllocError && err.code === 'PoolExhausted');
  t.is(m.byId.size, 2);
});

test('explicit pools win over defaults; unknown pools, disabled pools and affinity are explained', (t) => {
  const m = given(
    pool('p4', v4),
    pool('special', { ipVersion: 4, subnet: '10.7.0.0/24', ips: ['10.7.0.10-10.7.0.20'] }),
    pool('off', { ipVersion: 4, subnet: '10.8.0.0/24', ips: ['10.8.0.10'], disable: true }),
    pool('n1only', { ipVersion: 4, subnet: '10.9.0.0/24', ips: ['10.9.0.10-10.9.0.12'], nodeName: ['n1'] }),
  );
  t.regex(decideAllocate(m, request('a', { pools: { ipv4: ['special'] } }), ctx()).allocations[0]!.address, /^10\.7\.0\./);
  t.throws(() => decideAllocate(m, request('b', { pools: { ipv4: ['nope'] } }), ctx()), { message: /^pools\.ipv4\[0\]: pool nope does not exist/ });
  t.throws(() => decideAllocate(m, request('c', { pools: { ipv4: ['off'] } }), ctx()), { message: /pool off is disabled/ });
  t.throws(() => decideAllocate(m, request('d', { pools: { ipv4: ['n1only'] } }, { node: 'n2' }), ctx()), { message: /n2/ });
  t.regex(decideAllocate(m, request('e', { pools: { ipv4: ['off', 'n1only'] } }, { node: 'n1' }), ctx()).allocations[0]!.address, /^10\.9\.0\./);
  t.regex(decideAllocate(m, request('f', { namespaceDefaults: { ipv4: ['special'] } }), ctx()).allocations[0]!.address, /^10\.7\.0\./);
});

test('reserved addresses are never handed out', (t) => {
  const m = given(pool('small', { ipVersion: 4, subnet: '10.5.0.0/24', ips: ['10.5.0.10-10.5.0.12'], default: true }));
  apply(m, config.decideReserve(m, 'keep', 4, ['10.5.0.10', '10.5.0.12'], ctx()).events);
  const d = decideAllocate(m, request('a'), ctx());
  t.is(d.allocations[0]!.address, '10.5.0.11');
  apply(m, d.events);
  t.throws(() => decideAllocate(m, request('b'), ctx()), { message: /exhausted/ });
});

test('release by id is ABA-safe; CNI DEL of nothing is success', (t) => {
  const m = given(pool('p4', v4));
  const a = decideAllocate(m, request('a'), ctx());
  apply(m, a.events);
  const id = a.allocations[0]!.allocationId;
  const rel = decideReleaseById(m, id, 'admin', ctx());
  t.deepEqual(rel.events.map((e) => e.type), ['IPReleased']);
  t.true(rel.conditionTags.some((x) => x.startsWith('ip:')) && rel.conditionTags.some((x) => x.startsWith('ep:')));
  apply(m, rel.events);
  t.throws(() => decideReleaseById(m, id, 'admin', ctx()), { instanceOf: AllocError, message: /not current/ });
  t.deepEqual(decideReleaseContainer(m, 'ctr-unknown', undefined, ctx()).events, []);
});

test('pool definitions: bad input names the field, overlaps and shrinking below allocations are refused, in-use pools are not deleted', (t) => {
  const m = given(pool('p4', v4));
  t.throws(() => config.decideDefinePool(m, 'bad', { ...v4, subnet: '10.6.0.0/33' }, ctx()), { instanceOf: InputError, message: /^spec\.subnet/ });
  t.throws(() => config.decideDefinePool(m, 'bad', { ...v4, ips: ['10.6.1.5'] }, ctx()), { message: /^spec\.ips\[0\]/ });
  t.throws(() => config.decideDefinePool(m, 'twin', { ...v4, ips: ['10.6.0.200-10.6.0.210'] }, ctx()), { instanceOf: AllocError, message: /overlaps pool p4 at 10\.6\.0\.200/ });
  t.throws(() => config.decideDefinePool(m, 'p4', v4, ctx()), { message: /already exists/ });
  const a = decideAllocate(m, request('a'), ctx());
  apply(m, a.events);
  const addr = a.allocations[0]!.address;
  t.throws(() => config.decideChangePool(m, 'p4', { ...v4, ips: ['10.6.0.250-10.6.0.254'] }, ctx()), { message: new RegExp(`spec\\.ips: 1 allocated address\\(es\\) would fall outside the pool: ${addr.replace(/\./g, '\\.')}`) });
  t.throws(() => config.decideRemovePool(m, 'p4', ctx()), { message: /still holds 1 allocation/ });
  const change = config.decideChangePool(m, 'p4', { ...v4, disable: true }, ctx());
  t.true(change.conditionTags.includes('pool:p4'), 'a pool change re-decides if an allocation lands meanwhile');
});

test('a pool in a SpiderSubnet is carved from it and must fit inside it', (t) => {
  const m = new AllocatorModel();
  apply(m, config.decideDefineSubnet(m, 'sn', { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.1-10.6.0.100'] }, ctx()).events);
  const d = config.decideDefinePool(m, 'inside', { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.10-10.6.0.20'] }, ctx());
  t.deepEqual(d.events.map((e) => e.type), ['PoolDefined', 'PoolCarved']);
  apply(m, d.events);
  t.throws(() => config.decideDefinePool(m, 'outside', { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['10.6.0.90-10.6.0.120'] }, ctx()), { message: /does not fit subnet sn/ });
  t.throws(() => config.decideRemoveSubnet(m, 'sn', ctx()), { message: /still has pools: inside/ });
});

test('a Whereabouts range allocates the lowest free address inside range_start..range_end minus exclude, one per range', (t) => {
  const wb = parseWhereaboutsIpam({ range: '192.168.2.0/24', range_start: '192.168.2.10', range_end: '192.168.2.12', exclude: ['192.168.2.11/32'], ipRanges: [{ range: 'fd00:2::/120' }, { range: '192.168.3.0/24' }] });
  const pools = whereaboutsPools(wb);
  const m = given(...pools.map((p) => pool(p.name, p.spec)));
  const got: string[][] = [];
  for (const p of ['a', 'b']) {
    const d = decideAllocate(m, request(p, { ranges: rangeRequests(pools) }), ctx());
    got.push(d.allocations.map((a) => a.address));
    apply(m, d.events);
  }
  t.deepEqual(got, [
    ['192.168.2.10', 'fd00:2::1', '192.168.3.1'],
    ['192.168.2.12', 'fd00:2::2', '192.168.3.2'],
  ]);
  const e = t.throws(() => decideAllocate(m, request('c', { ranges: rangeRequests(pools) }), ctx()), { instanceOf: AllocError });
  t.is(e!.code, 'PoolExhausted');
  t.is(e!.field, 'ipam.range');
});

test('given two overlapping Whereabouts pools of one scope, when both allocate, then an address is held once across them', (t) => {
  const wide = whereaboutsPools(parseWhereaboutsIpam({ range: '10.10.0.0/24' }));
  const narrow = whereaboutsPools(parseWhereaboutsIpam({ range: '10.10.0.0/28' }));
  const m = given(pool(wide[0]!.name, wide[0]!.spec), pool(narrow[0]!.name, narrow[0]!.spec));
  const a = decideAllocate(m, request('a', { ranges: rangeRequests(wide) }), ctx());
  apply(m, a.events);
  const b = decideAllocate(m, request('b', { ranges: rangeRequests(narrow) }), ctx());
  apply(m, b.events);
  t.deepEqual([a.allocations[0]!.address, b.allocations[0]!.address], ['10.10.0.1', '10.10.0.2']);
  // Released in the wide pool: the narrow pool may hand it out again, lowest first.
  apply(m, decideReleaseContainer(m, a.allocations[0]!.endpoint.containerID, undefined, ctx()).events);
  t.is(decideAllocate(m, request('c', { ranges: rangeRequests(narrow) }), ctx()).allocations[0]!.address, '10.10.0.1');
});

test('given pools of both families, when a request names an IPv6 pool among its IPv4 candidates, then it is refused naming that entry', (t) => {
  const m = given(pool('p4', v4), pool('p6', v6));
  const e = t.throws(() => decideAllocate(m, request('mixed', { pools: { ipv4: ['p4', 'p6'] } }), ctx()), { instanceOf: AllocError });
  t.is(e!.field, 'pools.ipv4[1]');
  t.regex(e!.message, /pool p6 is IPv6, not IPv4/);
});

test('given an attachment holding an address of range A, when it asks for range B, then it gets one of B and keeps A; a new sandbox of the pod asking for A gets A rebound', (t) => {
  const ra = whereaboutsPools(parseWhereaboutsIpam({ range: '10.20.1.0/24' }));
  const rb = whereaboutsPools(parseWhereaboutsIpam({ range: '10.20.2.0/24' }));
  const m = given(pool(ra[0]!.name, ra[0]!.spec), pool(rb[0]!.name, rb[0]!.spec));
  const a = decideAllocate(m, request('p', { ranges: rangeRequests(ra) }), ctx());
  apply(m, a.events);
  const b = decideAllocate(m, request('p', { ranges: rangeRequests(rb) }), ctx());
  t.false(b.reused);
  t.deepEqual(b.allocations.map((x) => [x.pool, x.address]), [[rb[0]!.name, '10.20.2.1']]);
  t.deepEqual(b.events.map((e) => e.type), ['IPAllocated'], 'A is not released');
  apply(m, b.events);
  // Retries with either range: that range's address, nothing written.
  for (const [r, address] of [[ra, '10.20.1.1'], [rb, '10.20.2.1']] as const) {
    const again = decideAllocate(m, request('p', { ranges: rangeRequests(r) }), ctx());
    t.deepEqual([again.reused, again.events.length, again.allocations[0]!.address], [true, 0, address]);
  }
  // The same pod in a new sandbox (another container) asking for A: A's address rebound to it; B's stays with the old one.
  const sandbox = decideAllocate(m, request('p', { ranges: rangeRequests(ra) }, { containerID: 'ctr-p-2' }), ctx());
  t.true(sandbox.reused);
  t.deepEqual(sandbox.allocations.map((x) => [x.address, x.endpoint.containerID]), [['10.20.1.1', 'ctr-p-2']]);
  // DEL of the first container releases what it still holds (B's address; A's was rebound).
  apply(m, sandbox.events);
  const del = decideReleaseContainer(m, a.allocations[0]!.endpoint.containerID, undefined, ctx());
  t.deepEqual(del.allocations.map((x) => x.address), ['10.20.2.1']);
});
