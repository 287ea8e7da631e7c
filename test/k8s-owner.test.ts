// Owner resolution through the API server double: Pod -> ReplicaSet -> Deployment, and the other controllers.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { createOwnerResolver } from '../src/k8s/owner.js';
import { FakeApiServer, pod } from './helpers/k8s.js';

test('owners resolve to the top controller, are cached, and an unknown pod has none', async (t) => {
  const fake = await FakeApiServer.start();
  t.teardown(() => fake.close());
  fake.put({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: 'api-7f9', namespace: 'default', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'api', uid: 'd', controller: true }] } });
  fake.put(pod('api-7f9-x', { owner: { kind: 'ReplicaSet', name: 'api-7f9' } }));
  fake.put(pod('web-0', { owner: { kind: 'StatefulSet', name: 'web' } }));
  fake.put(pod('job-abc', { owner: { kind: 'Job', name: 'nightly', apiVersion: 'batch/v1' } }));
  fake.put(pod('agent-q', { owner: { kind: 'DaemonSet', name: 'agent' } }));
  fake.put(pod('virt-launcher-vm1-abcde', { owner: { kind: 'VirtualMachineInstance', name: 'vm1', apiVersion: 'kubevirt.io/v1' } }));
  fake.put(pod('bare'));
  const resolve = createOwnerResolver(fake.kubeConfig());
  t.deepEqual(await resolve('default', 'api-7f9-x'), { kind: 'Deployment', name: 'api' });
  t.deepEqual(await resolve('default', 'web-0'), { kind: 'StatefulSet', name: 'web' });
  t.deepEqual(await resolve('default', 'job-abc'), { kind: 'Job', name: 'nightly' });
  t.deepEqual(await resolve('default', 'agent-q'), { kind: 'DaemonSet', name: 'agent' });
  t.deepEqual(await resolve('default', 'virt-launcher-vm1-abcde'), { kind: 'VirtualMachineInstance', name: 'vm1' });
  t.is(await resolve('default', 'bare'), undefined);
  t.is(await resolve('default', 'missing'), undefined);
  const before = fake.requests.length;
  t.deepEqual(await resolve('default', 'api-7f9-x'), { kind: 'Deployment', name: 'api' });
  t.is(fake.requests.length, before, 'answered from the cache');
});

test('an API server that does not answer in time gives no owner instead of holding up the caller', async (t) => {
  const silent = createServer(() => undefined); // accepts, never answers
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => (silent.closeAllConnections(), silent.close()));
  const kc = new KubeConfig();
  const server = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  kc.loadFromOptions({ clusters: [{ name: 's', server, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 's', cluster: 's', user: 'u' }], currentContext: 's' });
  const errors: unknown[] = [];
  const resolve = createOwnerResolver(kc, { timeoutMs: 200, onError: (e) => errors.push(e) });
  const started = Date.now();
  t.is(await resolve('default', 'p'), undefined);
  t.true(Date.now() - started < 2000);
  t.regex(String((errors[0] as Error).message), /no answer within 200 ms/);
});
