// Pod garbage collection: pod informer + sweep jobs on real Redis, pods in the API server double.
import test from 'ava';
import type { IPReleasedData } from '../events/catalogue.js';
import { AT, endpoint } from './helpers/alloc.js';
import type { Queue } from 'bullmq';
import { allEvents, controller, FakeApiServer, freshPrefix, freshQueuePrefix, pod, until } from './helpers/k8s.js';

/** No job waiting, running or delayed, but the sweep scheduler's next run. */
async function drained(q: Queue): Promise<boolean> {
  return (await q.getJobCountByTypes('wait', 'active')) === 0 && (await q.getDelayed()).every((j) => j.name === 'sweep');
}

const POOL = { ipVersion: 4, subnet: '10.7.0.0/24', ips: ['10.7.0.10-10.7.0.100'] };

test('a deleted pod has its addresses released exactly once, after the grace period, with two controllers watching', async (t) => {
  const fake = await FakeApiServer.start();
  const prefix = freshPrefix();
  const queuePrefix = freshQueuePrefix();
  const opts = { prefix, queuePrefix, sources: false, statusWriteback: false, gcGraceMs: 400, gcSweepMs: 60_000 };
  const c1 = await controller(fake, opts);
  const c2 = await controller(fake, opts);
  t.teardown(async () => (await c1.stop(), await c2.stop(), await fake.close()));
  await c1.allocator.definePool('gc1', POOL, { at: AT });
  for (const name of ['a', 'b', 'c', 'd']) {
    fake.put(pod(name));
    await c1.allocator.allocate({ endpoint: endpoint(name, { nic: 'eth0' }), pools: { ipv4: ['gc1'] }, at: AT });
    await c1.allocator.allocate({ endpoint: endpoint(name, { nic: 'net1' }), pools: { ipv4: ['gc1'] }, at: AT });
  }
  const deletedAt = Date.now();
  for (const name of ['a', 'b', 'c']) fake.remove('v1', 'Pod', name, 'default');
  await until('released', async () => (await c1.allocator.sync(), c1.allocator.model.byId.size === 2));
  // A sweep afterwards finds nothing more to do.
  await c2.gcQueue.add('sweep', { kind: 'sweep' });
  await until('queue drained', () => drained(c1.gcQueue));
  const released = (await allEvents(c1.allocator.store)).filter((e) => e.event.type === 'IPReleased');
  const data = released.map((e) => e.event.data as IPReleasedData);
  t.is(released.length, 6);
  t.is(new Set(data.map((d) => d.allocationId)).size, 6, 'no allocation released twice');
  t.true(data.every((d) => d.reason === 'pod-gone' && d.endpoint.name !== 'd'));
  t.true(released.every((e) => Date.parse(e.event.at) >= deletedAt + 400), 'not before the grace period');
});

test('sweep: a replaced pod (new uid) loses its address as an orphan, a StatefulSet pod keeps it; finished and scaled-away pods lose theirs', async (t) => {
  const fake = await FakeApiServer.start();
  const c = await controller(fake, { prefix: freshPrefix(), queuePrefix: freshQueuePrefix(), sources: false, statusWriteback: false, gcGraceMs: 50, gcSweepMs: 60_000 });
  t.teardown(async () => (await c.stop(), await fake.close()));
  await c.allocator.definePool('gc2', POOL, { at: AT });
  const alloc = (name: string, owner: { kind: string; name: string }) =>
    c.allocator.allocate({ endpoint: endpoint(name, { uid: `old-${name}`, owner }), pools: { ipv4: ['gc2'] }, at: AT });
  fake.put({ apiVersion: 'apps/v1', kind: 'StatefulSet', metadata: { name: 'web', namespace: 'default' }, spec: { replicas: 1 } });
  await alloc('web-0', { kind: 'StatefulSet', name: 'web' }); // recreated under a new uid: kept
  await alloc('web-1', { kind: 'StatefulSet', name: 'web' }); // gone, ordinal beyond replicas: released
  await alloc('api-x1', { kind: 'ReplicaSet', name: 'api' }); // same name, new uid: orphan
  await alloc('job-1', { kind: 'Job', name: 'job' }); // Succeeded: released
  await alloc('live', { kind: 'ReplicaSet', name: 'api' }); // running: kept
  fake.put(pod('web-0', { uid: 'new-web-0', owner: { kind: 'StatefulSet', name: 'web' } }));
  fake.put(pod('api-x1', { uid: 'new-api-x1', owner: { kind: 'ReplicaSet', name: 'api' } }));
  fake.put(pod('job-1', { uid: 'old-job-1', phase: 'Succeeded', owner: { kind: 'Job', name: 'job', apiVersion: 'batch/v1' } }));
  fake.put(pod('live', { uid: 'old-live' }));
  await c.gcQueue.add('sweep', { kind: 'sweep' });
  await until('released', async () => (await c.allocator.sync(), c.allocator.model.byId.size === 2));
  await until('queue drained', () => drained(c.gcQueue));
  const kept = [...c.allocator.model.byId.values()].map((r) => r.endpoint.name).sort();
  t.deepEqual(kept, ['live', 'web-0']);
  const reasons = Object.fromEntries(
    (await allEvents(c.allocator.store)).filter((e) => e.event.type === 'IPReleased').map((e) => [(e.event.data as IPReleasedData).endpoint.name, (e.event.data as IPReleasedData).reason]),
  );
  t.deepEqual(reasons, { 'web-1': 'pod-gone', 'api-x1': 'orphan', 'job-1': 'pod-gone' });
  // The StatefulSet pod's new incarnation takes its address back (the allocator's reuse).
  const before = [...c.allocator.model.byId.values()].find((r) => r.endpoint.name === 'web-0')!.address;
  const again = await c.allocator.allocate({ endpoint: endpoint('web-0', { uid: 'new-web-0', containerID: 'ctr-new', owner: { kind: 'StatefulSet', name: 'web' } }), pools: { ipv4: ['gc2'] }, at: AT });
  t.is(again.allocations[0]!.address, before);
  t.true(again.reused);
});
