// Status write-back through BullMQ (real Redis) to the API server double.
import { readFileSync } from 'node:fs';
import test from 'ava';
import { Ajv } from 'ajv';
import { parse } from 'yaml';
import { statusPatch } from '../src/k8s/merge-patch.js';
import { AT, endpoint } from './helpers/alloc.js';
import { controller, FakeApiServer, freshPrefix, freshQueuePrefix, until } from './helpers/k8s.js';

const SP = 'spiderpool.spidernet.io/v2beta1';
const PATH = (name: string) => `/apis/spiderpool.spidernet.io/v2beta1/spiderippools//${name}`;

test('statusPatch nulls removed map keys, leaves fields it does not own, and is undefined when nothing differs', (t) => {
  const cur = { allocatedIPs: { '10.0.0.1': { podUid: 'a' }, '10.0.0.2': { podUid: 'b' } }, allocatedIPCount: 2, ipMetaData: { x: 1 } };
  t.deepEqual(statusPatch(cur, { allocatedIPs: { '10.0.0.2': { podUid: 'b' }, '10.0.0.3': { podUid: 'c' } }, allocatedIPCount: 2 }), {
    allocatedIPs: { '10.0.0.1': null, '10.0.0.3': { podUid: 'c' } },
  });
  t.is(statusPatch(cur, { allocatedIPCount: 2, allocatedIPs: { '10.0.0.2': { podUid: 'b' }, '10.0.0.1': { podUid: 'a' } } }), undefined);
});

test('1,000 status changes of one pool collapse into a handful of patches, ending at the rendered status', async (t) => {
  const fake = await FakeApiServer.start();
  const c = await controller(fake, { prefix: freshPrefix(), queuePrefix: freshQueuePrefix(), gc: false, statusCoalesceMs: 500 });
  t.teardown(async () => (await c.stop(), await fake.close()));
  fake.put({ apiVersion: SP, kind: 'SpiderIPPool', metadata: { name: 'hot' }, spec: { ipVersion: 4, subnet: '10.5.0.0/20', ips: ['10.5.0.1-10.5.7.254'] } });
  await until('pool defined', () => c.allocator.model.pools.has('hot'));
  let changes = 0;
  c.projections.onChange((cs) => (changes += cs.filter((x) => x.projection === 'spider-ippool' && x.key === 'hot').length));
  // One at a time, each applied before the next: every allocation is its own change of the pool's status.
  let n = 0;
  for (; n < 1000; n++) {
    const r = await c.allocator.allocate({ endpoint: endpoint(`p${n}`), pools: { ipv4: ['hot'] }, at: AT });
    await c.projections.waitFor(r.revision);
  }
  t.is(changes, 1000);
  await until('CR status reaches the rendered status', () => (fake.get(SP, 'SpiderIPPool', 'hot')?.status as { allocatedIPCount?: number } | undefined)?.allocatedIPCount === n, 20_000);
  t.deepEqual(fake.get(SP, 'SpiderIPPool', 'hot')!.status, c.projections.get('spider-ippool', 'hot')!.status);
  const patches = fake.statusPatches.get(PATH('hot')) ?? 0;
  t.log(`${changes} changes -> ${c.enqueuer!.added} jobs added -> ${patches} patches`);
  t.true(patches <= 40, `${patches} patches`);
  // Settled: a job for an unchanged status writes nothing.
  await c.statusQueue.add('status', { projection: 'spider-ippool', key: 'hot' });
  await until('queue drained', async () => (await c.statusQueue.getJobCountByTypes('wait', 'active', 'delayed')) === 0);
  t.is(fake.statusPatches.get(PATH('hot')), patches);
});

test('a status patch that meets a newer resourceVersion (409) re-reads and writes the latest status', async (t) => {
  const fake = await FakeApiServer.start();
  const c = await controller(fake, { prefix: freshPrefix(), queuePrefix: freshQueuePrefix(), gc: false, statusCoalesceMs: 20 });
  t.teardown(async () => (await c.stop(), await fake.close()));
  fake.conflictNextPatches = 2;
  fake.put({ apiVersion: SP, kind: 'SpiderIPPool', metadata: { name: 'c1' }, spec: { ipVersion: 4, subnet: '10.6.0.0/24', ips: ['10.6.0.10-10.6.0.20'] } });
  await until('pool defined', () => c.allocator.model.pools.has('c1'));
  await c.allocator.allocate({ endpoint: endpoint('x'), pools: { ipv4: ['c1'] }, at: AT });
  await until('status written', () => (fake.get(SP, 'SpiderIPPool', 'c1')?.status as { allocatedIPCount?: number } | undefined)?.allocatedIPCount === 1);
  t.is(fake.conflicts.get(PATH('c1')), 2);
  t.deepEqual(fake.get(SP, 'SpiderIPPool', 'c1')!.status, c.projections.get('spider-ippool', 'c1')!.status);
});

test('written back into an upstream-shaped SpiderIPPool, status is v2beta1\'s: allocatedIPs a JSON string, gone when empty; it fits upstream\'s CRD', async (t) => {
  const crd = parse(readFileSync(new URL('../../deploy/k8s/crds/spiderpool.spidernet.io_spiderippools.yaml', import.meta.url), 'utf8')) as { spec: { versions: { schema: { openAPIV3Schema: object } }[] } };
  const fits = new Ajv({ strict: false, allErrors: true }).compile(crd.spec.versions[0]!.schema.openAPIV3Schema);
  const fake = await FakeApiServer.start();
  const c = await controller(fake, { prefix: freshPrefix(), queuePrefix: freshQueuePrefix(), gc: false, statusCoalesceMs: 20 });
  t.teardown(async () => (await c.stop(), await fake.close()));
  // As Spiderpool itself left it: a string-encoded allocation the engine does not hold (it will be replaced).
  fake.put({ apiVersion: SP, kind: 'SpiderIPPool', metadata: { name: 'up' }, spec: { subnet: '10.7.0.0/24', ips: ['10.7.0.10-10.7.0.20'] }, status: { allocatedIPCount: 0 } });
  await until('pool defined', () => c.allocator.model.pools.has('up'));
  const a = await c.allocator.allocate({ endpoint: endpoint('x'), pools: { ipv4: ['up'] }, at: AT });
  const ip = a.allocations[0]!.address;
  await until('status written', () => (fake.get(SP, 'SpiderIPPool', 'up')?.status as { allocatedIPCount?: number } | undefined)?.allocatedIPCount === 1);
  const cr = fake.get(SP, 'SpiderIPPool', 'up')!;
  t.is((cr.status as { allocatedIPs?: string }).allocatedIPs, `{"${ip}":{"pod":"default/x","podUid":"uid-x"}}`);
  t.true(fits(cr), JSON.stringify(fits.errors));
  await c.allocator.releaseById(a.allocations[0]!.allocationId, 'cni-del', AT);
  await until('released status written', () => (fake.get(SP, 'SpiderIPPool', 'up')?.status as { allocatedIPCount?: number } | undefined)?.allocatedIPCount === 0);
  t.false('allocatedIPs' in (fake.get(SP, 'SpiderIPPool', 'up')!.status as object), 'an empty pool has no allocatedIPs (MarshalIPPoolAllocatedIPs returns nil)');
  t.true(fits(fake.get(SP, 'SpiderIPPool', 'up')), JSON.stringify(fits.errors));
});
