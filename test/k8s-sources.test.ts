// CRD sources against the API server double: custom resources become configuration events, once.
import test from 'ava';
import type { FakeObject } from './helpers/fake-apiserver.js';
import { AT, endpoint } from './helpers/alloc.js';
import { allEvents, controller, FakeApiServer, freshPrefix, freshQueuePrefix, until } from './helpers/k8s.js';

const SP = 'spiderpool.spidernet.io/v2beta1';
const ippool = (name: string, spec: object, labels?: Record<string, string>): FakeObject => ({ apiVersion: SP, kind: 'SpiderIPPool', metadata: { name, ...(labels ? { labels } : {}) }, spec });

async function setup() {
  const fake = await FakeApiServer.start();
  const c = await controller(fake, { prefix: freshPrefix(), queuePrefix: freshQueuePrefix(), gc: false, crdRetryMs: 200, statusCoalesceMs: 50 });
  return { fake, c, close: async () => (await c.stop(), await fake.close()) };
}

test('a SpiderIPPool becomes PoolDefined with its labels; re-applying it unchanged writes nothing', async (t) => {
  const { fake, c, close } = await setup();
  t.teardown(close);
  const store = c.allocator.store;
  fake.put(ippool('p1', { ipVersion: 4, subnet: '10.1.0.0/24', ips: ['10.1.0.10-10.1.0.20'] }, { team: 'a' }));
  await until('pool defined', () => c.allocator.model.pools.has('p1'));
  const defined = (await allEvents(store)).filter((e) => e.event.type === 'PoolDefined');
  t.is(defined.length, 1);
  t.deepEqual((defined[0]!.event.data as { metadata?: unknown }).metadata, { labels: { team: 'a' } });
  // The status write-back patches the CR (a MODIFIED event); then the user re-applies the same object.
  await until('status written', () => (fake.statusPatches.get('/apis/spiderpool.spidernet.io/v2beta1/spiderippools//p1') ?? 0) > 0);
  const head = await store.headRevision();
  fake.put(ippool('p1', { ips: ['10.1.0.10-10.1.0.20'], subnet: '10.1.0.0/24', ipVersion: 4 }, { team: 'a' }));
  await new Promise((r) => setTimeout(r, 300));
  await c.sources!.idle();
  t.is(await store.headRevision(), head, 'nothing appended');
  // A label change alone is recorded; a spec change too.
  fake.put(ippool('p1', { ipVersion: 4, subnet: '10.1.0.0/24', ips: ['10.1.0.10-10.1.0.20'] }, { team: 'b' }));
  await until('label change', async () => (await allEvents(store)).some((e) => e.event.type === 'PoolChanged'));
  fake.put(ippool('p1', { ipVersion: 4, subnet: '10.1.0.0/24', ips: ['10.1.0.10-10.1.0.30'] }, { team: 'b' }));
  await until('spec change', () => c.allocator.model.pools.get('p1')?.offsets.total === 21n);
  const changed = (await allEvents(store)).filter((e) => e.event.type === 'PoolChanged');
  t.is(changed.length, 2);
});

test('deleting a pool that holds allocations is refused, reported, and retried until it is empty', async (t) => {
  const { fake, c, close } = await setup();
  t.teardown(close);
  fake.put(ippool('busy', { ipVersion: 4, subnet: '10.2.0.0/24', ips: ['10.2.0.10-10.2.0.20'] }));
  await until('pool defined', () => c.allocator.model.pools.has('busy'));
  const r = await c.allocator.allocate({ endpoint: endpoint('a'), pools: { ipv4: ['busy'] }, at: AT });
  fake.remove(SP, 'SpiderIPPool', 'busy');
  await until('refusal reported', () => c.sources!.problems.get('SpiderIPPool/busy')?.includes('still holds 1 allocation') ?? false);
  t.true(c.allocator.model.pools.has('busy'));
  await c.allocator.releaseById(r.allocations[0]!.allocationId, 'admin', AT);
  await until('pool removed on retry', () => !c.allocator.model.pools.has('busy'));
  // The model can show the removal (via the watch) a moment before the retry that made it clears its problem.
  await until('problem cleared', () => !c.sources!.problems.has('SpiderIPPool/busy'));
  t.false(c.sources!.problems.has('SpiderIPPool/busy'));
});

test('SpiderSubnet, SpiderReservedIP and Whereabouts IPPool objects become events; a bad spec is reported with its field', async (t) => {
  const { fake, c, close } = await setup();
  t.teardown(close);
  fake.put({ apiVersion: SP, kind: 'SpiderSubnet', metadata: { name: 's1' }, spec: { ipVersion: 4, subnet: '10.3.0.0/16', ips: ['10.3.0.1-10.3.0.200'] } });
  fake.put({ apiVersion: SP, kind: 'SpiderReservedIP', metadata: { name: 'r1' }, spec: { ipVersion: 4, ips: ['10.3.0.5'] } });
  fake.put({ apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'IPPool', metadata: { name: 'wb', namespace: 'kube-system' }, spec: { range: '10.4.0.0/28', allocations: {} } });
  fake.put(ippool('bad', { ipVersion: 4, subnet: '10.9.0.0/24', ips: ['10.9.1.1'] }));
  await until('all applied', () => c.allocator.model.subnets.has('s1') && c.allocator.model.reservations.has('r1') && c.allocator.model.pools.has('wb') && c.sources!.problems.has('SpiderIPPool/bad'));
  t.is(c.allocator.model.pools.get('wb')!.compiled.subnet, '10.4.0.0/28');
  t.regex(c.sources!.problems.get('SpiderIPPool/bad')!, /^spec\.subnet: Invalid value: "10\.9\.0\.0\/24": not match base subnet: 10\.9\.1\.1/); // Spiderpool's field
  t.false(c.allocator.model.pools.has('bad'));
  // Changing a reservation replaces it; unchanged, it writes nothing.
  fake.put({ apiVersion: SP, kind: 'SpiderReservedIP', metadata: { name: 'r1' }, spec: { ipVersion: 4, ips: ['10.3.0.5', '10.3.0.6'] } });
  await until('reservation changed', () => c.allocator.model.reservations.get('r1')?.ips.join() === '10.3.0.5-10.3.0.6');
  const head = await c.allocator.store.headRevision();
  fake.put({ apiVersion: SP, kind: 'SpiderReservedIP', metadata: { name: 'r1' }, spec: { ipVersion: 4, ips: ['10.3.0.5-10.3.0.6'] } });
  await new Promise((r) => setTimeout(r, 200));
  await c.sources!.idle();
  t.is(await c.allocator.store.headRevision(), head);
  fake.remove('whereabouts.cni.cncf.io/v1alpha1', 'IPPool', 'wb', 'kube-system');
  await until('whereabouts pool removed', () => !c.allocator.model.pools.has('wb'));
});

test('a Whereabouts IPPool first seen with allocations is defined and its allocations adopted, once', async (t) => {
  const { fake, c, close } = await setup();
  t.teardown(close);
  const allocations = { '2': { id: 'ctr-a', podref: 'default/a', ifname: 'net1' }, '3': { id: 'ctr-b', podref: 'team/b', ifname: 'eth0' } };
  fake.put({ apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'IPPool', metadata: { name: 'live', namespace: 'kube-system' }, spec: { range: '10.5.0.0/28', allocations } });
  await until('adopted', () => c.allocator.model.byId.size === 2);
  t.is(c.allocator.model.byEndpoint.get('default/a/net1')?.[0]?.address, '10.5.0.2');
  t.is(c.allocator.model.byEndpoint.get('team/b/eth0')?.[0]?.address, '10.5.0.3');
  const adopted = (await allEvents(c.allocator.store)).filter((e) => e.event.type === 'IPAllocated');
  t.deepEqual(adopted.map((e) => (e.event.data as { reason?: string }).reason), ['adopted', 'adopted']);
  // Later versions of the object are the log's view, not a source: a release is not undone by the stale CR.
  await c.allocator.releasePod('team', 'b', undefined, 'admin', AT);
  fake.put({ apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'IPPool', metadata: { name: 'live', namespace: 'kube-system', labels: { x: 'y' } }, spec: { range: '10.5.0.0/28', allocations } });
  await new Promise((r) => setTimeout(r, 300));
  await c.sources!.idle();
  t.is(c.allocator.model.byId.size, 1);
});
