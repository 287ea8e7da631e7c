import test from 'ava';
import fc from 'fast-check';
import { makeEvent, type DomainEvent, type IpVersion, type LoggedEvent, type PoolSpec, type SubnetSpec } from '../events/catalogue.js';
import { Tag } from '../events/tags.js';
import { spiderIPPoolProjection, type SpiderIPPoolState } from '../projections/spider-ippool.js';
import { spiderSubnetProjection, type SpiderSubnetState } from '../projections/spider-subnet.js';
import { spiderReservedIPProjection } from '../projections/spider-reservedip.js';
import {
  whereaboutsIPPoolProjection,
  whereaboutsKey,
  whereaboutsOffset,
  type WhereaboutsIPPoolState,
} from '../projections/whereabouts-ippool.js';
import { mapStats } from '../projections/persistent-map.js';
import { nextOrigin, originMeta, uidOfEvent } from '../events/object-origin.js';
import { objectKey } from '../projections/read-model.js';
import type { DocumentProjection, ProjectionState } from '../projections/types.js';

// ---- event builders ----

const AT = '2026-11-23T12:00:00Z';
let nextId = 0;
const meta = (tag: string) => ({ id: `e${++nextId}`, at: AT, tags: [tag] });

function log(events: readonly DomainEvent[]): LoggedEvent[] {
  return events.map((event, i) => ({ event, revision: 100 + i, position: 0 }) as LoggedEvent);
}

const poolSpec = (o: Partial<PoolSpec> = {}): PoolSpec => ({
  ipVersion: 4,
  subnet: '10.6.0.0/16',
  ips: ['10.6.1.1-10.6.1.100'],
  excludeIPs: ['10.6.1.50'],
  gateway: '10.6.0.1',
  ...o,
});

/** uid, creationTimestamp and generation 1 as the defining event `e` gives them. */
const originOf = (e: { id: string; at: string }) => originMeta(nextOrigin(undefined, e, true));
const poolDefined = (name: string, spec: PoolSpec = poolSpec()) => makeEvent('PoolDefined', { name, spec }, meta(Tag.poolConfig(name)));
const poolChanged = (name: string, spec: PoolSpec) => makeEvent('PoolChanged', { name, spec }, meta(Tag.poolConfig(name)));
const poolRemoved = (name: string) => makeEvent('PoolRemoved', { name }, meta(Tag.poolConfig(name)));

interface EpOpts {
  ns?: string;
  nic?: string;
  containerID?: string;
  uid?: string;
  ipVersion?: IpVersion;
}

function allocated(allocationId: string, pool: string, address: string, pod: string, o: EpOpts = {}) {
  const ipVersion = o.ipVersion ?? (address.includes(':') ? 6 : 4);
  return makeEvent(
    'IPAllocated',
    {
      allocationId,
      pool,
      ipVersion,
      address,
      prefixLength: ipVersion === 4 ? 16 : 64,
      endpoint: {
        namespace: o.ns ?? 'default',
        name: pod,
        uid: o.uid ?? `uid-${pod}`,
        containerID: o.containerID ?? `c-${pod}`,
        node: 'node-1',
        nic: o.nic ?? 'eth0',
        owner: { kind: 'StatefulSet', name: 'web' },
      },
    },
    meta(Tag.ip('default', address)),
  );
}

function released(allocationId: string, pool: string, address: string, pod: string, o: EpOpts = {}) {
  return makeEvent(
    'IPReleased',
    {
      allocationId,
      pool,
      address,
      reason: 'cni-del',
      endpoint: { namespace: o.ns ?? 'default', name: pod, nic: o.nic ?? 'eth0', containerID: o.containerID ?? `c-${pod}` },
    },
    meta(Tag.ip('default', address)),
  );
}

const subnetSpec = (o: Partial<SubnetSpec> = {}): SubnetSpec => ({
  ipVersion: 4,
  subnet: '10.6.0.0/16',
  ips: ['10.6.0.1-10.6.0.254'],
  excludeIPs: ['10.6.0.1-10.6.0.4'],
  gateway: '10.6.0.1',
  ...o,
});
const subnetDefined = (name: string, spec: SubnetSpec = subnetSpec()) => makeEvent('SubnetDefined', { name, spec }, meta(Tag.subnet(name)));
const subnetChanged = (name: string, spec: SubnetSpec) => makeEvent('SubnetChanged', { name, spec }, meta(Tag.subnet(name)));
const subnetRemoved = (name: string) => makeEvent('SubnetRemoved', { name }, meta(Tag.subnet(name)));
const carved = (subnet: string, pool: string, ips: string[]) => makeEvent('PoolCarved', { subnet, pool, ips }, meta(Tag.subnet(subnet)));
const returned = (subnet: string, pool: string, ips: string[]) => makeEvent('PoolReturned', { subnet, pool, ips }, meta(Tag.subnet(subnet)));

/** The checkpoint form, as stored (plain JSON). */
const json = (s: ProjectionState): unknown => JSON.parse(JSON.stringify(s));

/** Applies events to a copy of `from` (apply works in place; a copy keeps the earlier state for comparison). */
function run<S extends ProjectionState>(p: DocumentProjection<S>, events: readonly DomainEvent[], from?: S): S {
  return p.apply(from === undefined ? p.initial() : p.restore(json(from)), log(events));
}

// Test-local loose view of the rendered objects (three object kinds behind one helper).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** The rendered objects by key, as the read model lists them. */
function objects(s: ProjectionState): Record<string, Loose> {
  return Object.fromEntries([...s.list()].map((o) => [objectKey(o), o]));
}

function oneAtATime<S extends ProjectionState>(p: DocumentProjection<S>, events: readonly DomainEvent[]): S {
  return log(events).reduce((s, e) => p.apply(s, [e]), p.initial());
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const k of Object.keys(v)) deepFreeze((v as Record<string, unknown>)[k]);
  }
  return v;
}

// ---- declarations ----

test('each projection declares exactly the event types it needs', (t) => {
  t.deepEqual([...spiderIPPoolProjection.handles].sort(), ['IPAllocated', 'IPReleased', 'PoolChanged', 'PoolDefined', 'PoolRemoved']);
  t.deepEqual([...whereaboutsIPPoolProjection.handles].sort(), ['IPAllocated', 'IPReleased', 'PoolChanged', 'PoolDefined', 'PoolRemoved']);
  t.deepEqual([...spiderSubnetProjection.handles].sort(), ['PoolCarved', 'PoolReturned', 'SubnetChanged', 'SubnetDefined', 'SubnetRemoved']);
  for (const p of [spiderIPPoolProjection, spiderSubnetProjection, whereaboutsIPPoolProjection] as DocumentProjection<ProjectionState>[]) {
    t.is(p.version, 2, 'bumped with the state shape: version-1 checkpoints are ignored');
    t.truthy(p.name);
    // the checkpoint form is plain JSON
    t.deepEqual(json(p.initial()), p.initial().toJSON());
  }
  const names = new Set([spiderIPPoolProjection.name, spiderSubnetProjection.name, whereaboutsIPPoolProjection.name]);
  t.is(names.size, 3);
});

test('a state restored from its checkpoint form renders the same objects and continues the same way', (t) => {
  const all: DocumentProjection<ProjectionState>[] = [spiderIPPoolProjection, spiderSubnetProjection, whereaboutsIPPoolProjection];
  const events = log([poolDefined('p1'), allocated('a1', 'p1', '10.6.1.1', 'web-0'), subnetDefined('s1'), carved('s1', 'p1', ['10.6.1.1'])]);
  const more = log([allocated('a2', 'p1', '10.6.1.2', 'web-1'), carved('s1', 'p2', ['10.6.1.9'])]);
  for (const p of all) {
    const mine = (xs: LoggedEvent[]) => xs.filter((e) => p.handles.includes(e.event.type));
    const s = p.apply(p.initial(), mine(events));
    const restored = p.restore(json(s));
    t.deepEqual(objects(restored), objects(s), p.name);
    t.deepEqual(json(p.apply(restored, mine(more))), json(p.apply(s, mine(more))), p.name);
  }
  t.throws(() => spiderIPPoolProjection.restore({ objects: {} }), { message: /spider-ippool: checkpoint has no pools list/ });
});

// ---- SpiderIPPool ----

test('SpiderIPPool: a defined pool is a complete object with totalIPCount = ips minus excludeIPs', (t) => {
  const spec = poolSpec();
  const def = poolDefined('p1', spec);
  const s = run(spiderIPPoolProjection, [def]);
  t.deepEqual(objects(s), {
    p1: {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'p1', ...originOf(def) },
      spec,
      status: { allocatedIPCount: 0, totalIPCount: 99 },
    },
  });
  t.deepEqual(objects(spiderIPPoolProjection.restore(json(s))), objects(s), 'the checkpoint form is plain JSON and restores to the same objects');
});

test('SpiderIPPool: IPv6 pool counts', (t) => {
  const spec = poolSpec({ ipVersion: 6, subnet: 'fd00:6::/64', ips: ['fd00:6::10-fd00:6::1f', 'fd00:6::100'], excludeIPs: ['fd00:6::11'], gateway: 'fd00:6::1' });
  const s = run(spiderIPPoolProjection, [poolDefined('v6', spec)]);
  t.is(objects(s).v6?.status.totalIPCount, 16);
});

test('SpiderIPPool: a spec that does not compile counts 0', (t) => {
  const bad = { ipVersion: 4, subnet: '10.6.0.0/16', ips: ['192.168.0.1'] } as PoolSpec;
  const s = run(spiderIPPoolProjection, [poolDefined('bad', bad), allocated('a1', 'bad', '192.168.0.1', 'web-0')]);
  t.is(objects(s).bad?.status.totalIPCount, 0);
  t.deepEqual(objects(s).bad?.spec, bad);
});

test('SpiderIPPool: allocations and releases update allocatedIPs and allocatedIPCount', (t) => {
  const s1 = run(spiderIPPoolProjection, [
    poolDefined('p1'),
    poolDefined('p2', poolSpec({ ips: ['10.6.2.1-10.6.2.10'], excludeIPs: [] })),
    allocated('a1', 'p1', '10.6.1.1', 'web-0'),
    allocated('a2', 'p1', '10.6.1.2', 'web-1', { ns: 'shop', nic: 'net1' }),
    allocated('a3', 'p2', '10.6.2.1', 'web-2'),
  ]);
  t.deepEqual(objects(s1).p1?.status, {
    allocatedIPs: '{"10.6.1.1":{"pod":"default/web-0","podUid":"uid-web-0"},"10.6.1.2":{"pod":"shop/web-1","podUid":"uid-web-1"}}', // v2beta1's JSON string
    allocatedIPCount: 2,
    totalIPCount: 99,
  });
  t.is(objects(s1).p2?.status.allocatedIPCount, 1);
  t.is(objects(s1).p2?.status.totalIPCount, 10);

  const s2 = run(spiderIPPoolProjection, [released('a1', 'p1', '10.6.1.1', 'web-0')], s1);
  t.is(objects(s2).p1?.status.allocatedIPs, '{"10.6.1.2":{"pod":"shop/web-1","podUid":"uid-web-1"}}');
  t.is(objects(s2).p1?.status.allocatedIPCount, 1);
  t.is(objects(s1).p1?.status.allocatedIPCount, 2, 'the copy it started from is unchanged');
  // In one state: an untouched pool's object keeps its identity; a touched one gets a new object, the old one unchanged.
  const p1 = s2.get('p1');
  const p2 = s2.get('p2');
  spiderIPPoolProjection.apply(s2, log([released('a2', 'p1', '10.6.1.2', 'web-1')]));
  t.is(s2.get('p2'), p2, 'untouched pools keep their identity');
  t.not(s2.get('p1'), p1);
  t.is((p1 as Loose).status.allocatedIPCount, 1, 'an object read earlier does not change');
  t.is((s2.get('p1') as Loose).status.allocatedIPCount, 0);
});

test('SpiderIPPool: the same endpoint allocating its address again replaces the previous holder', (t) => {
  const s1 = run(spiderIPPoolProjection, [
    poolDefined('p1'),
    allocated('a1', 'p1', '10.6.1.7', 'web-0', { containerID: 'sandbox-1', uid: 'uid-1' }),
    allocated('a2', 'p1', '10.6.1.7', 'web-0', { containerID: 'sandbox-2', uid: 'uid-2' }),
  ]);
  t.is(objects(s1).p1?.status.allocatedIPs, '{"10.6.1.7":{"pod":"default/web-0","podUid":"uid-2"}}');
  t.is(objects(s1).p1?.status.allocatedIPCount, 1);
  t.deepEqual(s1.currentIds('p1'), new Map([['a2', '10.6.1.7']]));

  // The old sandbox's CNI DEL arrives late: its allocation is no longer current.
  const s2 = run(spiderIPPoolProjection, [released('a1', 'p1', '10.6.1.7', 'web-0', { containerID: 'sandbox-1' })], s1);
  t.deepEqual(json(s2), json(s1));
  const s3 = run(spiderIPPoolProjection, [released('a2', 'p1', '10.6.1.7', 'web-0', { containerID: 'sandbox-2' })], s2);
  t.deepEqual(objects(s3).p1?.status, { allocatedIPCount: 0, totalIPCount: 99 }, 'no allocatedIPs string when nothing is allocated (MarshalIPPoolAllocatedIPs: nil)');
  t.is(s3.allocationCount, 0);
  t.deepEqual(s3.currentIds('p1'), new Map());
});

test('SpiderIPPool: releases of unknown or already released allocations are ignored', (t) => {
  const s1 = run(spiderIPPoolProjection, [
    poolDefined('p1'),
    allocated('a1', 'p1', '10.6.1.1', 'web-0'),
    released('a1', 'p1', '10.6.1.1', 'web-0'),
    allocated('a2', 'p1', '10.6.1.1', 'web-1'),
  ]);
  const s2 = run(spiderIPPoolProjection, [released('a1', 'p1', '10.6.1.1', 'web-0'), released('nope', 'p1', '10.6.1.1', 'web-1')], s1);
  t.deepEqual(json(s2), json(s1));
  t.is(objects(s2).p1?.status.allocatedIPs, '{"10.6.1.1":{"pod":"default/web-1","podUid":"uid-web-1"}}');
});

test('SpiderIPPool: PoolChanged keeps allocations and recounts; PoolRemoved removes the object', (t) => {
  const s1 = run(spiderIPPoolProjection, [poolDefined('p1'), poolDefined('p2'), allocated('a1', 'p1', '10.6.1.1', 'web-0')]);
  const wider = poolSpec({ ips: ['10.6.1.1-10.6.1.200'] });
  const s2 = run(spiderIPPoolProjection, [poolChanged('p1', wider)], s1);
  t.deepEqual(objects(s2).p1?.spec, wider);
  t.is(objects(s2).p1?.status.totalIPCount, 199);
  t.is(objects(s2).p1?.status.allocatedIPCount, 1);
  const s3 = run(spiderIPPoolProjection, [poolRemoved('p1')], s2);
  t.deepEqual(Object.keys(objects(s3)), ['p2']);
  t.truthy(objects(s2).p1, 'the previous state still has it');
});

test('SpiderIPPool: allocations logged before the pool definition show once it is defined', (t) => {
  const s = run(spiderIPPoolProjection, [allocated('a1', 'p1', '10.6.1.3', 'web-0'), poolDefined('p1')]);
  t.is(objects(s).p1?.status.allocatedIPs, '{"10.6.1.3":{"pod":"default/web-0","podUid":"uid-web-0"}}');
  t.is(objects(s).p1?.status.allocatedIPCount, 1);
});

test('SpiderIPPool: an empty batch returns the same state', (t) => {
  const s = run(spiderIPPoolProjection, [poolDefined('p1')]);
  t.is(spiderIPPoolProjection.apply(s, []), s);
});

// ---- SpiderSubnet ----

test('SpiderSubnet: defined subnet, carves and returns', (t) => {
  const spec = subnetSpec();
  const def = subnetDefined('s1', spec);
  const s1 = run(spiderSubnetProjection, [def]);
  t.deepEqual(objects(s1), {
    s1: {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderSubnet',
      metadata: { name: 's1', ...originOf(def) },
      spec,
      status: { totalIPCount: 250, allocatedIPCount: 0 },
    },
  });
  const s2 = run(spiderSubnetProjection, [carved('s1', 'p1', ['10.6.0.10-10.6.0.20']), carved('s1', 'p2', ['10.6.0.30', '10.6.0.40-10.6.0.41'])], s1);
  t.deepEqual(objects(s2).s1?.status, {
    controlledIPPools: '{"p1":{"ips":["10.6.0.10-10.6.0.20"]},"p2":{"ips":["10.6.0.30","10.6.0.40-10.6.0.41"]}}', // v2beta1's JSON string
    totalIPCount: 250,
    allocatedIPCount: 14,
  });
  // A carve is the pool's full set in the subnet after the change.
  const s3 = run(spiderSubnetProjection, [carved('s1', 'p1', ['10.6.0.10-10.6.0.12']), returned('s1', 'p2', ['10.6.0.30', '10.6.0.40-10.6.0.41'])], s2);
  t.deepEqual(objects(s3).s1?.status, { controlledIPPools: '{"p1":{"ips":["10.6.0.10-10.6.0.12"]}}', totalIPCount: 250, allocatedIPCount: 3 });
  t.is(objects(s2).s1?.status.allocatedIPCount, 14, 'the previous state is unchanged');
  // Returning a pool that holds nothing is a no-op.
  t.deepEqual(json(run(spiderSubnetProjection, [returned('s1', 'p9', ['10.6.0.99'])], s3)), json(s3));
});

test('SpiderSubnet: changed, carved before defined, removed', (t) => {
  const s1 = run(spiderSubnetProjection, [carved('s1', 'p1', ['10.6.0.10-10.6.0.19']), subnetDefined('s1')]);
  t.is(objects(s1).s1?.status.controlledIPPools, '{"p1":{"ips":["10.6.0.10-10.6.0.19"]}}');
  t.is(objects(s1).s1?.status.allocatedIPCount, 10);
  const narrower = subnetSpec({ ips: ['10.6.0.1-10.6.0.100'] });
  const s2 = run(spiderSubnetProjection, [subnetChanged('s1', narrower)], s1);
  t.is(objects(s2).s1?.status.totalIPCount, 96);
  t.is(objects(s2).s1?.status.allocatedIPCount, 10);
  t.deepEqual(objects(s2).s1?.spec, narrower);
  const s3 = run(spiderSubnetProjection, [subnetRemoved('s1')], s2);
  t.deepEqual(objects(s3), {});
  t.deepEqual(json(s3), { subnets: [] });
});

test('SpiderSubnet: IPv6', (t) => {
  const spec = subnetSpec({ ipVersion: 6, subnet: 'fd00:6::/120', ips: ['fd00:6::1-fd00:6::ff'], excludeIPs: ['fd00:6::1'], gateway: 'fd00:6::1' });
  const s = run(spiderSubnetProjection, [subnetDefined('s6', spec), carved('s6', 'p6', ['fd00:6::10-fd00:6::1f'])]);
  t.is(objects(s).s6?.status.totalIPCount, 254);
  t.is(objects(s).s6?.status.allocatedIPCount, 16);
});

// ---- Whereabouts ----

test('whereaboutsOffset: decimal offset from the first address of the range', (t) => {
  t.is(whereaboutsOffset('10.6.0.0/16', '10.6.1.51'), '307');
  t.is(whereaboutsOffset('10.6.0.0/16', '10.6.0.0'), '0');
  t.is(whereaboutsOffset('fd00:6::/64', 'fd00:6::1:2'), '65538');
  t.is(whereaboutsOffset('fd00:6::/64', 'fd00:6::ffff:ffff:ffff:ffff'), ((1n << 64n) - 1n).toString());
  t.is(whereaboutsOffset('10.6.0.0/16', '10.7.0.1'), undefined);
  t.is(whereaboutsOffset('10.6.0.0/16', 'fd00::1'), undefined);
});

test('Whereabouts: IPv4 pool with excludeIPs, offsets from the subnet start', (t) => {
  const def = poolDefined('p1');
  const s = run(whereaboutsIPPoolProjection, [
    def,
    allocated('a1', 'p1', '10.6.1.51', 'web-0', { containerID: 'ctr-0' }),
    allocated('a2', 'p1', '10.6.1.1', 'web-1', { ns: 'shop', nic: 'net1', containerID: 'ctr-1' }),
  ]);
  t.deepEqual(objects(s), {
    [whereaboutsKey('p1')]: {
      apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
      kind: 'IPPool',
      metadata: { name: 'p1', namespace: 'kube-system', ...originOf(def) },
      spec: {
        range: '10.6.0.0/16',
        allocations: {
          '307': { id: 'ctr-0', podref: 'default/web-0', ifname: 'eth0' },
          '257': { id: 'ctr-1', podref: 'shop/web-1', ifname: 'net1' },
        },
      },
    },
  });
  t.is(whereaboutsKey('p1'), 'kube-system/p1');
});

test('Whereabouts: IPv6 pool, reuse replaces, stale release ignored, release frees the offset', (t) => {
  const spec = poolSpec({ ipVersion: 6, subnet: 'fd00:6::/64', ips: ['fd00:6::1:0-fd00:6::1:ff'], excludeIPs: ['fd00:6::1:0'], gateway: 'fd00:6::1' });
  const s1 = run(whereaboutsIPPoolProjection, [
    poolDefined('v6', spec),
    allocated('a1', 'v6', 'fd00:6::1:2', 'vm-0', { containerID: 'launcher-1' }),
    allocated('a2', 'v6', 'fd00:6::1:2', 'vm-0', { containerID: 'launcher-2' }),
    released('a1', 'v6', 'fd00:6::1:2', 'vm-0', { containerID: 'launcher-1' }),
  ]);
  t.deepEqual(objects(s1)[whereaboutsKey('v6')]?.spec, {
    range: 'fd00:6::/64',
    allocations: { '65538': { id: 'launcher-2', podref: 'default/vm-0', ifname: 'eth0' } },
  });
  const s2 = run(whereaboutsIPPoolProjection, [released('a2', 'v6', 'fd00:6::1:2', 'vm-0', { containerID: 'launcher-2' })], s1);
  t.deepEqual(objects(s2)[whereaboutsKey('v6')]?.spec.allocations, {});
});

test('Whereabouts: a changed subnet re-keys the allocations; removal drops the pool', (t) => {
  const s1 = run(whereaboutsIPPoolProjection, [poolDefined('p1'), allocated('a1', 'p1', '10.6.1.51', 'web-0')]);
  const s2 = run(whereaboutsIPPoolProjection, [poolChanged('p1', poolSpec({ subnet: '10.6.1.0/24', gateway: '10.6.1.254' }))], s1);
  t.deepEqual(objects(s2)[whereaboutsKey('p1')]?.spec, {
    range: '10.6.1.0/24',
    allocations: { '51': { id: 'c-web-0', podref: 'default/web-0', ifname: 'eth0' } },
  });
  const s3 = run(whereaboutsIPPoolProjection, [poolRemoved('p1')], s2);
  t.deepEqual(objects(s3), {});
});

// ---- properties ----

type Op =
  | { kind: 'alloc'; addr: number; pod: number }
  | { kind: 'release'; which: number; stale: boolean }
  | { kind: 'define' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('alloc' as const), addr: fc.nat(5), pod: fc.nat(3) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('release' as const), which: fc.nat(50), stale: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('define' as const) }) },
);

const POOLS = ['p1', 'p2'] as const;

/** Events for a random sequence, and the expected holders: pool -> address -> {pod, containerID}. */
function scenario(ops: readonly Op[], v6: boolean) {
  const events: DomainEvent[] = [];
  const issued: { id: string; pool: string; address: string; pod: string; containerID: string }[] = [];
  const expected = new Map<string, { id: string; pod: string; containerID: string }>();
  const defined = new Set<string>();
  let n = 0;
  for (const op of ops) {
    n++;
    const pool = POOLS[n % 2]!;
    if (op.kind === 'define') {
      const spec = v6
        ? poolSpec({ ipVersion: 6, subnet: 'fd00::/64', ips: ['fd00::1:1-fd00::1:ff'], excludeIPs: [], gateway: 'fd00::1' })
        : poolSpec();
      events.push(defined.has(pool) ? poolChanged(pool, spec) : poolDefined(pool, spec));
      defined.add(pool);
    } else if (op.kind === 'alloc') {
      const address = v6 ? `fd00::1:${op.addr + 1}` : `10.6.1.${op.addr + 1}`;
      const pod = `pod-${op.pod}`;
      const id = `a${n}`;
      const containerID = `ctr-${n}`;
      events.push(allocated(id, pool, address, pod, { containerID }));
      issued.push({ id, pool, address, pod, containerID });
      expected.set(`${pool}|${address}`, { id, pod, containerID });
    } else if (issued.length > 0) {
      const a = op.stale ? issued[op.which % issued.length]! : issued[issued.length - 1 - (op.which % Math.min(3, issued.length))]!;
      events.push(released(a.id, a.pool, a.address, a.pod, { containerID: a.containerID }));
      const key = `${a.pool}|${a.address}`;
      if (expected.get(key)?.id === a.id) expected.delete(key);
    } else {
      events.push(released('never-allocated', pool, '10.6.1.1', 'pod-0'));
    }
  }
  // Both pools defined at the end at the latest, so every allocation is visible.
  for (const p of POOLS) if (!defined.has(p)) events.push(poolDefined(p, v6 ? poolSpec({ ipVersion: 6, subnet: 'fd00::/64', ips: ['fd00::1:1-fd00::1:ff'], excludeIPs: [], gateway: 'fd00::1' }) : poolSpec()));
  return { events, expected };
}

/** Splits events into random consecutive batches. */
function batches<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => c % (xs.length + 1)))].sort((a, b) => a - b);
  const out: T[][] = [];
  let from = 0;
  for (const p of [...points, xs.length]) {
    out.push(xs.slice(from, p));
    from = p;
  }
  return out;
}

function inBatches<S extends ProjectionState>(p: DocumentProjection<S>, events: readonly DomainEvent[], cuts: readonly number[]): S {
  return batches(log(events), cuts).reduce((s, b) => p.apply(s, b), p.initial());
}

test('property: one batch, one event at a time and random batches give equal states, matching a reference model', (t) => {
  fc.assert(
    fc.property(fc.array(opArb, { maxLength: 60 }), fc.boolean(), fc.array(fc.nat(100), { maxLength: 6 }), (ops, v6, cuts) => {
      const { events, expected } = scenario(ops, v6);

      const sp = run(spiderIPPoolProjection, events);
      t.deepEqual(json(oneAtATime(spiderIPPoolProjection, events)), json(sp));
      t.deepEqual(json(inBatches(spiderIPPoolProjection, events, cuts)), json(sp));

      const wa = run(whereaboutsIPPoolProjection, events);
      t.deepEqual(json(oneAtATime(whereaboutsIPPoolProjection, events)), json(wa));
      t.deepEqual(json(inBatches(whereaboutsIPPoolProjection, events, cuts)), json(wa));

      const range = v6 ? 'fd00::/64' : '10.6.0.0/16';
      for (const pool of POOLS) {
        const want = [...expected].filter(([k]) => k.startsWith(`${pool}|`)).map(([k, v]) => [k.slice(pool.length + 1), v] as const);
        const status = objects(sp)[pool]?.status;
        t.is(status?.allocatedIPCount, want.length);
        t.deepEqual(
          JSON.parse(status?.allocatedIPs ?? '{}'),
          Object.fromEntries(want.map(([addr, v]) => [addr, { pod: `default/${v.pod}`, podUid: `uid-${v.pod}` }])),
        );
        t.deepEqual(
          objects(wa)[whereaboutsKey(pool)]?.spec.allocations,
          Object.fromEntries(want.map(([addr, v]) => [whereaboutsOffset(range, addr)!, { id: v.containerID, podref: `default/${v.pod}`, ifname: 'eth0' }])),
        );
      }
      t.is(sp.allocationCount, expected.size);
      t.is(wa.allocationCount, expected.size);
    }),
    { numRuns: 150 },
  );
});

test('property: SpiderSubnet one batch equals one at a time', (t) => {
  const ev = fc.oneof(
    fc.record({ k: fc.constant('carve' as const), pool: fc.nat(3), lo: fc.nat(50), len: fc.nat(10) }),
    fc.record({ k: fc.constant('return' as const), pool: fc.nat(3) }),
    fc.record({ k: fc.constant('define' as const) }),
    fc.record({ k: fc.constant('remove' as const) }),
  );
  fc.assert(
    fc.property(fc.array(ev, { maxLength: 30 }), (ops) => {
      const events: DomainEvent[] = ops.map((o) => {
        switch (o.k) {
          case 'carve':
            return carved('s1', `p${o.pool}`, [`10.6.0.${o.lo + 10}-10.6.0.${o.lo + 10 + o.len}`]);
          case 'return':
            return returned('s1', `p${o.pool}`, []);
          case 'define':
            return subnetDefined('s1');
          case 'remove':
            return subnetRemoved('s1');
        }
      });
      const all = run(spiderSubnetProjection, events);
      t.deepEqual(json(oneAtATime(spiderSubnetProjection, events)), json(all));
      const st = objects(all).s1?.status;
      if (st) {
        const sum = Object.values(JSON.parse(st.controlledIPPools ?? '{}') as Record<string, Loose>).reduce((n: number, p: Loose) => {
          const [a, b] = p.ips[0]!.split('-').map((x: string) => Number(x.split('.')[3]));
          return n + (b! - a! + 1);
        }, 0);
        t.is(st.allocatedIPCount, sum);
      }
    }),
    { numRuns: 100 },
  );
});

test('restore never mutates or keeps its (deep-frozen) checkpoint form; apply never mutates its events', (t) => {
  const cases: [DocumentProjection<ProjectionState>, DomainEvent[], DomainEvent[]][] = [
    [
      spiderIPPoolProjection,
      [poolDefined('p1'), allocated('a1', 'p1', '10.6.1.1', 'web-0'), allocated('a2', 'p1', '10.6.1.2', 'web-1')],
      [
        allocated('a3', 'p1', '10.6.1.1', 'web-0', { containerID: 'new' }),
        released('a2', 'p1', '10.6.1.2', 'web-1'),
        released('a1', 'p1', '10.6.1.1', 'web-0'),
        poolChanged('p1', poolSpec({ ips: ['10.6.1.1-10.6.1.10'] })),
        allocated('a4', 'p9', '10.6.1.9', 'web-9'),
        poolDefined('p9'),
        poolRemoved('p1'),
      ],
    ],
    [
      whereaboutsIPPoolProjection,
      [poolDefined('p1'), allocated('a1', 'p1', '10.6.1.1', 'web-0'), allocated('a2', 'p1', '10.6.1.2', 'web-1')],
      [
        allocated('a3', 'p1', '10.6.1.1', 'web-0', { containerID: 'new' }),
        released('a2', 'p1', '10.6.1.2', 'web-1'),
        poolChanged('p1', poolSpec({ subnet: '10.6.1.0/24', gateway: '10.6.1.254' })),
        poolRemoved('p1'),
      ],
    ],
    [
      spiderSubnetProjection,
      [subnetDefined('s1'), carved('s1', 'p1', ['10.6.0.10'])],
      [carved('s1', 'p2', ['10.6.0.11']), returned('s1', 'p1', ['10.6.0.10']), subnetChanged('s1', subnetSpec({ excludeIPs: [] })), subnetRemoved('s1')],
    ],
  ];
  for (const [p, setup, more] of cases) {
    // a checkpoint form (plain JSON, as loaded), deep-frozen: applying to its restored state must not write into it
    const before = deepFreeze(json(run(p, setup)));
    const snapshot = structuredClone(before);
    const batch = deepFreeze(log(more));
    const eventsSnapshot = structuredClone(batch);
    const after = p.apply(p.restore(before), batch);
    t.deepEqual(before, snapshot, `${p.name}: checkpoint form unchanged`);
    t.deepEqual(batch, eventsSnapshot, `${p.name}: events unchanged`);
    t.notDeepEqual(json(after), before);
    // one event at a time over an unfrozen copy gives the same result
    const stepwise = batch.reduce((s, e) => p.apply(s, [e]), p.restore(structuredClone(snapshot)));
    t.deepEqual(json(stepwise), json(after));
  }
});

test('apply does not freeze the caller event data', (t) => {
  const spec = poolSpec();
  const e = poolDefined('p1', spec);
  const s = run(spiderIPPoolProjection, [e]) as SpiderIPPoolState;
  t.false(Object.isFrozen(spec));
  t.not(objects(s).p1?.spec, spec);
  const w = run(whereaboutsIPPoolProjection, [e]) as WhereaboutsIPPoolState;
  t.truthy(objects(w)[whereaboutsKey('p1')]);
  const sub = subnetSpec();
  const ss = run(spiderSubnetProjection, [subnetDefined('s1', sub), carved('s1', 'p1', ['10.6.0.10'])]) as SpiderSubnetState;
  t.false(Object.isFrozen(sub));
  t.truthy(objects(ss).s1);
});

test('labels and annotations of pool and subnet events render into metadata; a PoolChanged/SubnetChanged replaces them', (t) => {
  const labels = { team: 'net', 'ipam.example/tier': 'gold' };
  const annotations = { 'kubectl.kubernetes.io/last-applied-configuration': '{"kind":"SpiderIPPool"}' };
  const defined = makeEvent('PoolDefined', { name: 'p1', spec: poolSpec(), metadata: { labels, annotations } }, meta(Tag.poolConfig('p1')));
  const sp = run(spiderIPPoolProjection, [defined]);
  const o = originOf(defined);
  t.deepEqual(objects(sp).p1.metadata, { name: 'p1', ...o, labels, annotations });
  const wa = run(whereaboutsIPPoolProjection, [defined]);
  t.deepEqual(objects(wa)[whereaboutsKey('p1')].metadata, { name: 'p1', namespace: 'kube-system', ...o, labels, annotations });
  t.false(Object.isFrozen(labels), 'the event keeps its own objects');

  // A change replaces them: new labels, no annotations.
  const changed = makeEvent('PoolChanged', { name: 'p1', spec: poolSpec(), metadata: { labels: { team: 'db' } } }, meta(Tag.poolConfig('p1')));
  // The same spec: uid, creationTimestamp and generation stay (labels are not the spec).
  t.deepEqual(objects(run(spiderIPPoolProjection, [changed], sp)).p1.metadata, { name: 'p1', ...o, labels: { team: 'db' } });
  t.deepEqual(objects(run(whereaboutsIPPoolProjection, [changed], wa))[whereaboutsKey('p1')].metadata, { name: 'p1', namespace: 'kube-system', ...o, labels: { team: 'db' } });
  // And a change without metadata drops them.
  t.deepEqual(objects(run(spiderIPPoolProjection, [poolChanged('p1', poolSpec())], sp)).p1.metadata, { name: 'p1', ...o });
  t.deepEqual(json(spiderIPPoolProjection.restore(json(sp))), json(sp), 'metadata survives a checkpoint');

  const sub = makeEvent('SubnetDefined', { name: 's1', spec: subnetSpec(), metadata: { labels, annotations } }, meta(Tag.subnet('s1')));
  const ss = run(spiderSubnetProjection, [sub, carved('s1', 'p1', ['10.6.0.10'])]);
  const so = originOf(sub);
  t.deepEqual(objects(ss).s1.metadata, { name: 's1', ...so, labels, annotations });
  const subChanged = makeEvent('SubnetChanged', { name: 's1', spec: subnetSpec(), metadata: { annotations: { note: 'x' } } }, meta(Tag.subnet('s1')));
  const ss2 = run(spiderSubnetProjection, [subChanged], ss);
  t.deepEqual(objects(ss2).s1.metadata, { name: 's1', ...so, annotations: { note: 'x' } });
  t.is(objects(ss2).s1.status.controlledIPPools, '{"p1":{"ips":["10.6.0.10"]}}', 'carves are kept');
});

test('live path: one commit into a pool of 30,000 allocations copies O(log n) and reports its changes, rendered as of that commit', (t) => {
  const state = spiderIPPoolProjection.initial();
  const big = poolSpec({ subnet: '10.0.0.0/8', ips: ['10.0.0.1-10.255.255.254'], excludeIPs: [] });
  const addr = (k: number) => `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
  const setup: DomainEvent[] = [poolDefined('big', big)];
  for (let k = 1; k <= 30_000; k++) setup.push(allocated(`a${k}`, 'big', addr(k), `pod-${k}`));
  spiderIPPoolProjection.apply(state, log(setup));
  state.trackChanges();
  state.takeChanges('spider-ippool');
  const copies = mapStats.copies;
  spiderIPPoolProjection.apply(state, log([allocated('new', 'big', addr(40_000), 'pod-new'), released('a7', 'big', addr(7), 'pod-7')]));
  const changes = state.takeChanges('spider-ippool');
  t.true(mapStats.copies - copies <= 16, `copied ${mapStats.copies - copies} nodes for a 2-event commit`);
  t.deepEqual(changes.map((c) => [c.type, c.key]), [['MODIFIED', 'big']]);
  // A later commit does not change what the earlier change shows, even if read only now.
  spiderIPPoolProjection.apply(state, log([released('a8', 'big', addr(8), 'pod-8')]));
  const first = changes[0]!.object as Loose;
  t.is(first.status.allocatedIPCount, 30_000);
  const held = JSON.parse(first.status.allocatedIPs as string) as Record<string, unknown>;
  t.truthy(held[addr(8)]);
  t.falsy(held[addr(7)]);
  t.is((state.get('big') as Loose).status.allocatedIPCount, 29_999);
  t.true(Object.isFrozen(first) && Object.isFrozen(first.status), 'rendered objects are frozen: readers share them');
});

test('ObjectMeta from the log: uid from the defining event id, creationTimestamp from its time (seconds), generation +1 per spec change only; a re-created object gets a new uid', (t) => {
  const def = poolDefined('g1');
  const s1 = run(spiderIPPoolProjection, [def]);
  const m1 = objects(s1).g1.metadata;
  t.is(m1.uid, uidOfEvent(def.id));
  t.regex(String(m1.uid), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.is(m1.creationTimestamp, new Date(Math.floor(Date.parse(AT) / 1000) * 1000).toISOString().replace('.000Z', 'Z'));
  t.is(m1.generation, 1);
  const s2 = run(spiderIPPoolProjection, [poolChanged('g1', poolSpec({ gateway: '10.6.0.254' }))], s1);
  t.like(objects(s2).g1.metadata, { uid: m1.uid, creationTimestamp: m1.creationTimestamp, generation: 2 });
  const s3 = run(spiderIPPoolProjection, [poolChanged('g1', poolSpec({ gateway: '10.6.0.254' }))], s2);
  t.is(objects(s3).g1.metadata.generation, 2, 'the same spec again is no new generation');
  t.deepEqual(json(spiderIPPoolProjection.restore(json(s3))), json(s3), 'origins survive a checkpoint');
  const again = poolDefined('g1');
  const s4 = run(spiderIPPoolProjection, [poolRemoved('g1'), again], s3);
  t.like(objects(s4).g1.metadata, { uid: uidOfEvent(again.id), generation: 1 });
  t.not(objects(s4).g1.metadata.uid, m1.uid);
  const sd = subnetDefined('sg');
  const ss = run(spiderSubnetProjection, [sd, makeEvent('SubnetChanged', { name: 'sg', spec: subnetSpec({ gateway: '10.6.0.253' }) }, meta(Tag.subnet('sg')))]);
  t.like(objects(ss).sg.metadata, { uid: uidOfEvent(sd.id), generation: 2 });
});

test('SpiderReservedIP: IPReserved makes or replaces (uid kept, generation +1 on new ips, labels recorded), IPUnreserved removes; checkpoints round-trip', (t) => {
  const made = makeEvent('IPReserved', { name: 'r1', ipVersion: 4, ips: ['10.6.0.9'] }, meta(Tag.reservation('r1')));
  const s = run(spiderReservedIPProjection, [made]);
  t.deepEqual(objects(s), {
    r1: { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderReservedIP', metadata: { name: 'r1', ...originOf(made) }, spec: { ipVersion: 4, ips: ['10.6.0.9'] } },
  });
  const replaced = makeEvent('IPReserved', { name: 'r1', ipVersion: 4, ips: ['10.6.0.9-10.6.0.10'], metadata: { labels: { team: 'net' } } }, meta(Tag.reservation('r1')));
  const s2 = run(spiderReservedIPProjection, [replaced], s);
  t.like(objects(s2).r1.metadata, { uid: uidOfEvent(made.id), generation: 2, labels: { team: 'net' } });
  t.deepEqual(json(spiderReservedIPProjection.restore(json(s2))), json(s2));
  const s3 = run(spiderReservedIPProjection, [makeEvent('IPUnreserved', { name: 'r1' }, meta(Tag.reservation('r1')))], s2);
  t.deepEqual(objects(s3), {});
});
