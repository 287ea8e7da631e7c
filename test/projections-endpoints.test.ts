import assert from 'node:assert/strict';
import test from 'ava';
import fc from 'fast-check';
import { makeEvent, type IPAllocatedData, type LoggedEvent, type Owner, type Route } from '../events/catalogue.js';
import { spiderEndpointProjection, type SpiderEndpointState } from '../projections/spider-endpoint.js';
import {
  calicoWorkloadEndpointProjection,
  hostNetwork,
  type CalicoWorkloadEndpointState,
} from '../projections/calico-workload-endpoint.js';
import { escapeDashes, hostInterfaceName, workloadEndpointName } from '../projections/calico-names.js';
import { objectKey } from '../projections/read-model.js';
import type { DocumentProjection, ProjectionState } from '../projections/types.js';

// ---------- builders ----------

let revision = 0;
const logged = (event: LoggedEvent['event']): LoggedEvent => ({ event, revision: ++revision, position: 0 });

interface AllocOpts {
  id: string;
  address: string;
  pod?: string;
  ns?: string;
  nic?: string;
  v?: 4 | 6;
  pool?: string;
  prefix?: number;
  uid?: string;
  containerID?: string;
  node?: string;
  owner?: Owner;
  gateway?: string;
  vlan?: number;
  routes?: Route[];
}

function alloc(o: AllocOpts): LoggedEvent {
  const pod = o.pod ?? 'web-0';
  const v = o.v ?? (o.address.includes(':') ? 6 : 4);
  const data: IPAllocatedData = {
    allocationId: o.id,
    pool: o.pool ?? (v === 6 ? 'pool-v6' : 'pool-v4'),
    ipVersion: v,
    address: o.address,
    prefixLength: o.prefix ?? (v === 6 ? 64 : 24),
    endpoint: {
      namespace: o.ns ?? 'default',
      name: pod,
      uid: o.uid ?? `uid-${pod}`,
      containerID: o.containerID ?? `c-${pod}`,
      node: o.node ?? 'node-1',
      nic: o.nic ?? 'eth0',
      ...(o.owner !== undefined ? { owner: o.owner } : {}),
    },
    ...(o.gateway !== undefined ? { gateway: o.gateway } : {}),
    ...(o.vlan !== undefined ? { vlan: o.vlan } : {}),
    ...(o.routes !== undefined ? { routes: o.routes } : {}),
  };
  return logged(makeEvent('IPAllocated', data, { id: `ev-${o.id}`, at: '2026-01-01T00:00:00Z', tags: [`alloc:${o.id}`] }));
}

function release(id: string, address: string, o: { pod?: string; ns?: string; nic?: string; pool?: string } = {}): LoggedEvent {
  return logged(
    makeEvent(
      'IPReleased',
      {
        allocationId: id,
        pool: o.pool ?? (address.includes(':') ? 'pool-v6' : 'pool-v4'),
        address,
        reason: 'cni-del',
        endpoint: { namespace: o.ns ?? 'default', name: o.pod ?? 'web-0', nic: o.nic ?? 'eth0', containerID: 'c' },
      },
      { id: `rel-${id}-${revision}`, at: '2026-01-01T00:00:01Z', tags: [`alloc:${id}`] },
    ),
  );
}

const run = <S extends ProjectionState>(p: DocumentProjection<S>, events: readonly LoggedEvent[]): S => p.apply(p.initial(), events);
/** The checkpoint form, as stored (plain JSON). */
const json = (s: ProjectionState): unknown => JSON.parse(JSON.stringify(s));
/** Applies events to a copy of `s` (apply works in place; the copy keeps `s` for comparison). */
const after = <S extends ProjectionState>(p: DocumentProjection<S>, s: S, events: readonly LoggedEvent[]): S => p.apply(p.restore(json(s)), events);

// Test-local loose view of the rendered objects (two kinds behind one helper).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** The rendered objects by key, as the read model lists them. */
function objects(s: ProjectionState): Record<string, Loose> {
  return Object.fromEntries([...s.list()].map((o) => [objectKey(o), o]));
}
const spider = (events: readonly LoggedEvent[]) => run(spiderEndpointProjection, events);
const calico = (events: readonly LoggedEvent[]) => run(calicoWorkloadEndpointProjection, events);

function deepFreeze<T>(o: T): T {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

// ---------- SpiderEndpoint ----------

test('spider: dual-stack pod is one object with one entry holding both families and both pools', (t) => {
  const s = spider([
    alloc({ id: 'a4', address: '172.18.40.40', gateway: '172.18.40.1', vlan: 0, routes: [{ dst: '10.0.0.0/8', gw: '172.18.40.1' }] }),
    alloc({ id: 'a6', address: 'fd00:172:18::40', gateway: 'fd00:172:18::1', routes: [{ dst: 'fd01::/64', gw: 'fd00:172:18::1' }] }),
  ]);
  t.deepEqual(Object.keys(objects(s)), ['default/web-0']);
  t.deepEqual(objects(s)['default/web-0'], {
    apiVersion: 'spiderpool.spidernet.io/v2beta1',
    kind: 'SpiderEndpoint',
    metadata: { name: 'web-0', namespace: 'default' },
    status: {
      current: {
        uid: 'uid-web-0',
        node: 'node-1',
        ips: [
          {
            interface: 'eth0',
            ipv4: '172.18.40.40/24',
            ipv4Pool: 'pool-v4',
            ipv6: 'fd00:172:18::40/64',
            ipv6Pool: 'pool-v6',
            vlan: 0,
            ipv4Gateway: '172.18.40.1',
            ipv6Gateway: 'fd00:172:18::1',
            routes: [
              { dst: '10.0.0.0/8', gw: '172.18.40.1' },
              { dst: 'fd01::/64', gw: 'fd00:172:18::1' },
            ],
          },
        ],
      },
      ownerControllerType: 'Pod',
      ownerControllerName: 'web-0',
    },
  });
  // v2beta1 has no history field.
  t.false('history' in (objects(s)['default/web-0']!.status as object));
  // The checkpoint form is plain JSON and restores to the same objects.
  t.deepEqual(objects(spiderEndpointProjection.restore(json(s))), objects(s));
});

test('spider: two NICs give two entries, in allocation order', (t) => {
  const s = spider([
    alloc({ id: 'a', address: '10.0.0.5', nic: 'eth0' }),
    alloc({ id: 'b', address: '10.1.0.5', nic: 'net1', pool: 'macvlan-v4' }),
    alloc({ id: 'c', address: 'fd00::5', nic: 'eth0' }),
  ]);
  const ips = objects(s)['default/web-0']!.status!.current.ips;
  t.deepEqual(
    ips.map((e: Loose) => [e.interface, e.ipv4, e.ipv4Pool, e.ipv6]),
    [
      ['eth0', '10.0.0.5/24', 'pool-v4', 'fd00::5/64'],
      ['net1', '10.1.0.5/24', 'macvlan-v4', undefined],
    ],
  );
});

test('spider: releasing one family keeps the entry with the other; releasing everything removes the object', (t) => {
  const base = [alloc({ id: 'a4', address: '10.0.0.5', gateway: '10.0.0.1' }), alloc({ id: 'a6', address: 'fd00::5', gateway: 'fd00::1' })];
  const s1 = spider([...base, release('a4', '10.0.0.5')]);
  t.deepEqual(objects(s1)['default/web-0']!.status!.current.ips, [
    { interface: 'eth0', ipv6: 'fd00::5/64', ipv6Pool: 'pool-v6', ipv6Gateway: 'fd00::1' },
  ]);
  t.deepEqual(s1.allocationIds(), ['a6']);
  const s2 = after(spiderEndpointProjection, s1, [release('a6', 'fd00::5')]);
  t.deepEqual(objects(s2), {});
  t.deepEqual(s2.allocationIds(), []);
  t.is(s2.size, 0);
});

test('spider: with changes tracked (live projections), a release forgets its allocation: the index holds current allocations only', (t) => {
  // A copied pod record (tracked changes, or a record someone read) used to re-point the allocation being released
  // at the copy: a daemon kept every pod released in two steps forever.
  const s = spiderEndpointProjection.initial();
  s.trackChanges();
  spiderEndpointProjection.apply(s, [alloc({ id: 'b4', address: '10.0.0.6' }), alloc({ id: 'b6', address: 'fd00::6' })]);
  s.takeChanges(spiderEndpointProjection.name);
  spiderEndpointProjection.apply(s, [release('b4', '10.0.0.6')]);
  t.deepEqual(s.allocationIds(), ['b6']);
  spiderEndpointProjection.apply(s, [release('b6', 'fd00::6')]);
  t.deepEqual(s.allocationIds(), []);
  t.is(s.size, 0);
  // untracked, but the record was read (rendered) between the two releases: the same
  const u = spider([alloc({ id: 'c4', address: '10.0.0.7' }), alloc({ id: 'c6', address: 'fd00::7' })]);
  t.truthy(objects(u)['default/web-0']);
  spiderEndpointProjection.apply(u, [release('c4', '10.0.0.7')]);
  t.truthy(objects(u)['default/web-0']);
  spiderEndpointProjection.apply(u, [release('c6', 'fd00::7')]);
  t.deepEqual(u.allocationIds(), []);
});

test('spider: releasing one NIC drops its entry only', (t) => {
  const s = spider([
    alloc({ id: 'a', address: '10.0.0.5', nic: 'eth0' }),
    alloc({ id: 'b', address: '10.1.0.5', nic: 'net1' }),
    release('a', '10.0.0.5'),
  ]);
  t.deepEqual(objects(s)['default/web-0']!.status!.current.ips.map((e: Loose) => e.interface), ['net1']);
});

test('spider: StatefulSet reuse with a new uid/containerID replaces the holder and updates current', (t) => {
  const owner = { kind: 'StatefulSet', name: 'web' };
  const s = spider([
    alloc({ id: 'old', address: '10.0.0.5', uid: 'u1', containerID: 'c1', node: 'node-1', owner }),
    alloc({ id: 'new', address: '10.0.0.5', uid: 'u2', containerID: 'c2', node: 'node-2', owner }),
  ]);
  const o = objects(s)['default/web-0']!;
  t.is(o.status!.current.uid, 'u2');
  t.is(o.status!.current.node, 'node-2');
  t.deepEqual(o.status!.current.ips, [{ interface: 'eth0', ipv4: '10.0.0.5/24', ipv4Pool: 'pool-v4' }]);
  t.is(o.status!.ownerControllerType, 'StatefulSet');
  t.is(o.status!.ownerControllerName, 'web');
  // The replaced allocation is no longer current; v2beta1 keeps no history list.
  t.deepEqual(s.allocationIds(), ['new']);
  t.is(s.pod('default/web-0')!.containerID, 'c2');
  t.false('history' in (o.status as object));
});

test('spider: a stale release (of a replaced allocation) is ignored; the current one removes the object', (t) => {
  const owner = { kind: 'VirtualMachineInstance', name: 'vm1' };
  const events = [
    alloc({ id: 'old', address: '10.0.0.5', pod: 'vm1', uid: 'u1', owner }),
    alloc({ id: 'new', address: '10.0.0.5', pod: 'vm1', uid: 'u2', owner }),
  ];
  const s1 = spider(events);
  const s2 = after(spiderEndpointProjection, s1, [release('old', '10.0.0.5', { pod: 'vm1' }), release('unknown', '10.0.0.9', { pod: 'vm1' })]);
  t.deepEqual(json(s2), json(s1));
  t.is(objects(s2)['default/vm1']!.status!.ownerControllerType, 'VirtualMachineInstance');
  const s3 = after(spiderEndpointProjection, s2, [release('new', '10.0.0.5', { pod: 'vm1' })]);
  t.deepEqual(objects(s3), {});
});

test('spider: owner fields come from endpoint.owner, Pod and the pod name when absent', (t) => {
  const s = spider([
    alloc({ id: 'a', address: '10.0.0.5', pod: 'api-7d9f-x', owner: { kind: 'Deployment', name: 'api' } }),
    alloc({ id: 'b', address: '10.0.0.6', pod: 'bare', ns: 'other' }),
  ]);
  t.like(objects(s)['default/api-7d9f-x']!.status, { ownerControllerType: 'Deployment', ownerControllerName: 'api' });
  t.like(objects(s)['other/bare']!.status, { ownerControllerType: 'Pod', ownerControllerName: 'bare' });
  t.is(objects(s)['other/bare']!.metadata.namespace, 'other');
});

test('spider: ids that collide with Object.prototype names are plain keys', (t) => {
  const s = spider([release('constructor', '10.0.0.1'), alloc({ id: 'toString', address: '10.0.0.5' }), release('toString', '10.0.0.5')]);
  t.deepEqual(objects(s), {});
  t.deepEqual(s.allocationIds(), []);
});

// ---------- Calico names ----------

test('calico names: dashes are doubled in every segment, segments joined with one dash', (t) => {
  t.is(escapeDashes('a-b--c'), 'a--b----c');
  t.is(workloadEndpointName('node-1', 'k8s', 'web-7d9f', 'eth0'), 'node--1-k8s-web--7d9f-eth0');
  t.is(workloadEndpointName('node1', 'k8s', 'my-nginx-b1337a', 'eth0'), 'node1-k8s-my--nginx--b1337a-eth0'); // seed sample
  t.is(workloadEndpointName('n', 'k8s', 'p', 'net-1'), 'n-k8s-p-net--1');
  t.is(workloadEndpointName('ip-10-0-0-1.ec2.internal', 'k8s', 'p', 'eth0'), 'ip--10--0--0--1.ec2.internal-k8s-p-eth0');
});

test('calico names: escaping keeps distinct segment tuples distinct', (t) => {
  const seg = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,6}[a-z0-9])?$/);
  fc.assert(
    fc.property(fc.tuple(seg, seg, seg), fc.tuple(seg, seg, seg), ([n1, p1, e1], [n2, p2, e2]) => {
      const same = n1 === n2 && p1 === p2 && e1 === e2;
      return same === (workloadEndpointName(n1, 'k8s', p1, e1) === workloadEndpointName(n2, 'k8s', p2, e2));
    }),
  );
  t.pass();
});

test('calico names: host interface name is cali + 11 hex digits of sha1(namespace.pod)', (t) => {
  const n = hostInterfaceName('default', 'web-0');
  t.regex(n, /^cali[0-9a-f]{11}$/);
  t.true(n.length <= 15);
  t.not(n, hostInterfaceName('default', 'web-1'));
});

// ---------- Calico WorkloadEndpoint ----------

test('calico: dual-stack pod is one WorkloadEndpoint with /32 and /128 ipNetworks', (t) => {
  const s = calico([
    alloc({ id: 'a4', address: '10.0.0.5', pod: 'web-7d9f', node: 'node-1', containerID: 'abc', gateway: '10.0.0.1' }),
    alloc({ id: 'a6', address: 'fd00::5', pod: 'web-7d9f', node: 'node-1', containerID: 'abc', gateway: 'fd00::1' }),
  ]);
  t.deepEqual(Object.keys(objects(s)), ['default/node--1-k8s-web--7d9f-eth0']);
  t.deepEqual(objects(s)['default/node--1-k8s-web--7d9f-eth0'], {
    apiVersion: 'projectcalico.org/v3',
    kind: 'WorkloadEndpoint',
    metadata: {
      name: 'node--1-k8s-web--7d9f-eth0',
      namespace: 'default',
      labels: { 'projectcalico.org/namespace': 'default', 'projectcalico.org/orchestrator': 'k8s' },
    },
    spec: {
      orchestrator: 'k8s',
      node: 'node-1',
      containerID: 'abc',
      pod: 'web-7d9f',
      endpoint: 'eth0',
      ipNetworks: ['10.0.0.5/32', 'fd00::5/128'],
      ipv4Gateway: '10.0.0.1',
      ipv6Gateway: 'fd00::1',
      interfaceName: hostInterfaceName('default', 'web-7d9f'),
    },
  });
  t.is(hostNetwork('10.1.2.3', 'v4'), '10.1.2.3/32');
  t.is(hostNetwork('fd00::1', 'v6'), 'fd00::1/128');
  t.deepEqual(objects(calicoWorkloadEndpointProjection.restore(json(s))), objects(s));
});

test('calico: two NICs are two WorkloadEndpoints; releases shrink then remove them', (t) => {
  const s1 = calico([
    alloc({ id: 'a', address: '10.0.0.5', nic: 'eth0' }),
    alloc({ id: 'b', address: '10.1.0.5', nic: 'net1' }),
    alloc({ id: 'c', address: 'fd00::5', nic: 'net1' }),
  ]);
  t.deepEqual(Object.keys(objects(s1)).sort(), ['default/node--1-k8s-web--0-eth0', 'default/node--1-k8s-web--0-net1']);
  t.is(objects(s1)['default/node--1-k8s-web--0-net1']!.spec!.interfaceName, undefined);
  const s2 = after(calicoWorkloadEndpointProjection, s1, [release('b', '10.1.0.5', { nic: 'net1' })]);
  t.deepEqual(objects(s2)['default/node--1-k8s-web--0-net1']!.spec!.ipNetworks, ['fd00::5/128']);
  const s3 = after(calicoWorkloadEndpointProjection, s2, [release('c', 'fd00::5', { nic: 'net1' }), release('a', '10.0.0.5')]);
  t.deepEqual(objects(s3), {});
  t.is(s3.size, 0);
  t.deepEqual(s3.allocationIds(), []);
});

test('calico: StatefulSet reuse on another node moves the object; stale release ignored', (t) => {
  const owner = { kind: 'StatefulSet', name: 'web' };
  const s1 = calico([
    alloc({ id: 'old', address: '10.0.0.5', node: 'node-1', containerID: 'c1', owner }),
    alloc({ id: 'new', address: '10.0.0.5', node: 'node-2', containerID: 'c2', owner }),
  ]);
  t.deepEqual(Object.keys(objects(s1)), ['default/node--2-k8s-web--0-eth0']);
  t.like(objects(s1)['default/node--2-k8s-web--0-eth0']!.spec, { node: 'node-2', containerID: 'c2', ipNetworks: ['10.0.0.5/32'] });
  const s2 = after(calicoWorkloadEndpointProjection, s1, [release('old', '10.0.0.5')]);
  t.deepEqual(json(s2), json(s1));
  const s3 = after(calicoWorkloadEndpointProjection, s2, [release('new', '10.0.0.5')]);
  t.deepEqual(objects(s3), {});
});

// ---------- properties shared by both projections ----------

const PODS = ['web-0', 'db-1'] as const;
const NICS = ['eth0', 'net1'] as const;

/** Random histories: allocations into a small set of slots (so replacement happens) and releases of any id seen. */
const historyArb = fc
  .array(
    fc.oneof(
      fc.record({
        kind: fc.constant('alloc' as const),
        pod: fc.constantFrom(...PODS),
        nic: fc.constantFrom(...NICS),
        v: fc.constantFrom(4 as const, 6 as const),
        host: fc.integer({ min: 1, max: 4 }),
        gen: fc.integer({ min: 1, max: 3 }),
        node: fc.constantFrom('node-1', 'node-2'),
        owner: fc.option(fc.constantFrom({ kind: 'StatefulSet', name: 'web' }, { kind: 'Deployment', name: 'db' }), { nil: undefined }),
        gw: fc.boolean(),
      }),
      fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
    ),
    { maxLength: 40 },
  )
  .map((ops) => {
    const events: LoggedEvent[] = [];
    const issued: { id: string; address: string; pod: string; nic: string }[] = [];
    ops.forEach((op, i) => {
      if (op.kind === 'alloc') {
        const id = `al-${i}`;
        const address = op.v === 4 ? `10.0.0.${op.host}` : `fd00::${op.host}`;
        issued.push({ id, address, pod: op.pod, nic: op.nic });
        events.push(
          alloc({
            id,
            address,
            pod: op.pod,
            nic: op.nic,
            uid: `u${op.gen}`,
            containerID: `c${op.gen}`,
            node: op.node,
            ...(op.owner !== undefined ? { owner: op.owner } : {}),
            ...(op.gw ? { gateway: op.v === 4 ? '10.0.0.254' : 'fd00::fe' } : {}),
          }),
        );
      } else if (issued.length > 0) {
        const r = issued[op.pick % issued.length]!;
        events.push(release(r.id, r.address, { pod: r.pod, nic: r.nic }));
      }
    });
    return events;
  });

/** Random cut points splitting a history into batches. */
function chunk<T>(xs: readonly T[], cuts: readonly number[]): T[][] {
  const points = [...new Set(cuts.map((c) => (xs.length === 0 ? 0 : c % (xs.length + 1))))].sort((a, b) => a - b);
  const out: T[][] = [];
  let prev = 0;
  for (const p of [...points, xs.length]) {
    out.push(xs.slice(prev, p));
    prev = p;
  }
  return out;
}

function batchEqualsStepwise<S extends ProjectionState>(p: DocumentProjection<S>): void {
  fc.assert(
    fc.property(historyArb, fc.array(fc.nat(), { maxLength: 5 }), (events, cuts) => {
      const whole = p.apply(p.initial(), events);
      const stepwise = events.reduce((s, e) => p.apply(s, [e]), p.initial());
      const chunked = chunk(events, cuts).reduce((s, b) => p.apply(s, b), p.initial());
      assert.deepStrictEqual(json(stepwise), json(whole));
      assert.deepStrictEqual(json(chunked), json(whole));
      assert.deepStrictEqual(objects(stepwise), objects(whole));
      assert.deepStrictEqual(objects(p.restore(json(whole))), objects(whole));
    }),
    { numRuns: 300 },
  );
}

test('property: spider batch apply equals one-at-a-time and any chunking', (t) => {
  batchEqualsStepwise(spiderEndpointProjection);
  t.pass();
});
test('property: calico batch apply equals one-at-a-time and any chunking', (t) => {
  batchEqualsStepwise(calicoWorkloadEndpointProjection);
  t.pass();
});

/** Reference model: the current holder of each (pod, nic, family) slot, by naive replay. */
function model(events: readonly LoggedEvent[]): Map<string, IPAllocatedData> {
  const held = new Map<string, IPAllocatedData>();
  for (const { event: e } of events) {
    if (e.type === 'IPAllocated') {
      const d = e.data;
      for (const [k, v] of held) if (v.allocationId === d.allocationId) held.delete(k);
      held.set(`${d.endpoint.namespace}/${d.endpoint.name}|${d.endpoint.nic}|${d.ipVersion}`, d);
    } else if (e.type === 'IPReleased') {
      for (const [k, v] of held) if (v.allocationId === e.data.allocationId) held.delete(k);
    }
  }
  return held;
}

test('property: both projections agree with a naive replay model', (t) => {
  fc.assert(
    fc.property(historyArb, (events) => {
      const held = model(events);
      const s: SpiderEndpointState = spider(events);
      const c: CalicoWorkloadEndpointState = calico(events);
      // SpiderEndpoint: the set of (pod, nic, family → address/pool) equals the model.
      const fromSpider = new Set<string>();
      for (const [key, o] of Object.entries(objects(s))) {
        assert.strictEqual(key, `${o.metadata.namespace}/${o.metadata.name}`);
        assert.ok(o.status!.current.ips.length > 0);
        for (const ip of o.status!.current.ips) {
          if (ip.ipv4 !== undefined) fromSpider.add(`${key}|${ip.interface}|4|${ip.ipv4}|${ip.ipv4Pool}`);
          if (ip.ipv6 !== undefined) fromSpider.add(`${key}|${ip.interface}|6|${ip.ipv6}|${ip.ipv6Pool}`);
        }
      }
      const expected = new Set([...held].map(([k, d]) => `${k}|${d.address}/${d.prefixLength}|${d.pool}`));
      assert.deepStrictEqual([...fromSpider].sort(), [...expected].sort());
      // Calico: the same set, as ipNetworks, and every object's name is its computed name.
      const fromCalico = new Set<string>();
      for (const [key, o] of Object.entries(objects(c))) {
        const sp = o.spec!;
        assert.strictEqual(o.metadata.name, workloadEndpointName(sp.node, 'k8s', sp.pod, sp.endpoint));
        assert.strictEqual(key, `${o.metadata.namespace}/${o.metadata.name}`);
        for (const n of sp.ipNetworks) fromCalico.add(`${o.metadata.namespace}/${sp.pod}|${sp.endpoint}|${n}`);
      }
      const expectedCalico = new Set(
        [...held].map(([, d]) => `${d.endpoint.namespace}/${d.endpoint.name}|${d.endpoint.nic}|${d.address}/${d.ipVersion === 4 ? 32 : 128}`),
      );
      assert.deepStrictEqual([...fromCalico].sort(), [...expectedCalico].sort());
      assert.strictEqual(s.allocationCount, held.size);
      assert.strictEqual(c.allocationCount, held.size);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('property: restore never mutates its (deep-frozen) checkpoint form; apply never mutates its events', (t) => {
  fc.assert(
    fc.property(historyArb, historyArb, (first, second) => {
      for (const p of [spiderEndpointProjection, calicoWorkloadEndpointProjection] as DocumentProjection<ProjectionState>[]) {
        const cp = deepFreeze(json(p.apply(p.initial(), first)));
        const before = JSON.stringify(cp);
        const evs = deepFreeze(structuredClone(second));
        const evsBefore = JSON.stringify(evs);
        const s2 = p.apply(p.restore(cp), evs);
        assert.strictEqual(JSON.stringify(cp), before);
        assert.strictEqual(JSON.stringify(evs), evsBefore);
        assert.deepStrictEqual(json(s2), json(p.apply(p.initial(), [...first, ...second])));
      }
    }),
    { numRuns: 150 },
  );
  t.pass();
});

test('an empty batch returns the same state', (t) => {
  const s = spider([alloc({ id: 'a', address: '10.0.0.5' })]);
  t.is(spiderEndpointProjection.apply(s, []), s);
  const c = calico([alloc({ id: 'a', address: '10.0.0.5' })]);
  t.is(calicoWorkloadEndpointProjection.apply(c, []), c);
});
