// The daemon's cluster caches (Pods on its node, Namespaces, its Node) against the API server double: only this
// node's pods, only the fields selection reads, answers without the API server once listed, one fetch per miss with a
// deadline and an error naming what was missing, relist on 410, restart after other errors, bounded.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { ClusterCache, isClusterLookupError, MAX_ANNOTATION_BYTES } from '../src/k8s/cluster-inputs.js';
import { SlimCache } from '../src/k8s/slim-cache.js';
import { FakeApiServer, until } from './helpers/k8s.js';
import type { FakeObject } from './helpers/fake-apiserver.js';

const podOn = (name: string, node: string, o: { annotations?: Record<string, string>; labels?: Record<string, string>; namespace?: string; uid?: string } = {}): FakeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: o.namespace ?? 'default', uid: o.uid ?? `uid-${name}`, labels: o.labels ?? {}, annotations: o.annotations ?? {}, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f', uid: 'rs-uid', controller: true }] },
  spec: { nodeName: node, containers: [{ name: 'c', image: 'x' }] },
});
const ns = (name: string, annotations: Record<string, string> = {}, labels: Record<string, string> = {}): FakeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations } });
const node = (name: string, labels: Record<string, string>): FakeObject => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });

async function setup(t: import('ava').ExecutionContext, o: Partial<ConstructorParameters<typeof ClusterCache>[1]> = {}) {
  const fake = await FakeApiServer.start();
  const cache = new ClusterCache(fake.kubeConfig(), { node: 'n1', backoffMs: 50, ...o });
  t.teardown(async () => {
    await cache.stop();
    await fake.close();
  });
  return { fake, cache };
}

test('holds this node\'s pods, namespaces and node with only the fields selection reads, and answers without the API server', async (t) => {
  const { fake, cache } = await setup(t);
  fake.put(ns('team-a', { 'ipam.spidernet.io/default-ipv4-ippool': '["a-v4"]', 'unrelated/x': 'big' }, { team: 'a' }));
  fake.put(node('n1', { zone: 'z1' }));
  fake.put(node('n2', { zone: 'z2' }));
  fake.put(podOn('p1', 'n1', { namespace: 'team-a', labels: { app: 'web' }, annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["x"]}', 'kubectl.kubernetes.io/last-applied-configuration': '{...}', 'k8s.v1.cni.cncf.io/networks': 'macvlan' } }));
  fake.put(podOn('p2', 'n2'));
  await cache.ready;
  t.is(cache.stats().pods.size, 1, 'pods of other nodes are not listed');
  t.is(cache.stats().nodes.size, 1);
  const before = fake.requests.length;
  const p = await cache.pod('team-a', 'p1', 'uid-p1');
  t.deepEqual(p, {
    namespace: 'team-a',
    name: 'p1',
    uid: 'uid-p1',
    labels: { app: 'web' },
    annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["x"]}', 'k8s.v1.cni.cncf.io/networks': 'macvlan' },
    oversized: [],
    controller: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d8f', uid: 'rs-uid' },
  });
  t.deepEqual((await cache.namespace('team-a')).annotations, { 'ipam.spidernet.io/default-ipv4-ippool': '["a-v4"]' });
  t.deepEqual((await cache.node()).labels, { zone: 'z1' });
  t.is(fake.requests.length, before, 'no request reached the API server');

  // The watch keeps it current.
  fake.put(podOn('p1', 'n1', { namespace: 'team-a', labels: { app: 'api' } }));
  await until('label change seen', () => cache.pods.get('team-a/p1')?.labels.app === 'api');
  fake.remove('v1', 'Pod', 'p1', 'team-a');
  await until('delete seen', () => cache.pods.get('team-a/p1') === undefined);
  t.is(cache.misses(), 0);
});

test('a miss fetches the object once (concurrent callers share it), caches it, and an unknown one is an error naming it', async (t) => {
  const { fake, cache } = await setup(t);
  await cache.ready;
  fake.put(podOn('late', 'n1'));
  // Asked before the watch could deliver it (same tick): both calls share one GET.
  const [a, b] = await Promise.all([cache.pod('default', 'late'), cache.pod('default', 'late')]);
  t.is(a.name, 'late');
  t.is(b.uid, 'uid-late');
  t.true(cache.misses() <= 1);
  const gets = fake.requests.filter((r) => r === 'GET /api/v1/namespaces/default/pods/late').length;
  t.true(gets <= 1, `one fetch at most (${gets})`);
  const e = await t.throwsAsync(cache.pod('default', 'ghost'));
  t.true(isClusterLookupError(e));
  t.regex(e!.message, /pod default\/ghost: is not in this daemon's cache of pods on its node, and the API server does not know it either \(404\)/);
  const ne = await t.throwsAsync(cache.namespace('nowhere'));
  t.regex(ne!.message, /namespace nowhere: .*404/);
});

test('a cached pod with another uid (recreated under the same name) is fetched anew', async (t) => {
  const { fake, cache } = await setup(t);
  fake.put(podOn('web-0', 'n1', { uid: 'old' }));
  await cache.ready;
  fake.remove('v1', 'Pod', 'web-0', 'default');
  fake.put(podOn('web-0', 'n1', { uid: 'new' }));
  const p = await cache.pod('default', 'web-0', 'new');
  t.is(p.uid, 'new');
});

test('a miss against an API server that does not answer fails within the deadline, naming what was missing', async (t) => {
  const silent = createServer(() => undefined);
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  const kc = new KubeConfig();
  const server = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  kc.loadFromOptions({ clusters: [{ name: 's', server, skipTLSVerify: true }], users: [{ name: 'u' }], contexts: [{ name: 's', cluster: 's', user: 'u' }], currentContext: 's' });
  const cache = new ClusterCache(kc, { node: 'n1', missTimeoutMs: 200, backoffMs: 50 });
  t.teardown(async () => {
    await cache.stop();
    silent.closeAllConnections();
    silent.close();
  });
  const started = Date.now();
  const e = await t.throwsAsync(cache.pod('default', 'p'));
  t.true(Date.now() - started < 2000);
  t.regex(e!.message, /pod default\/p: is not in this daemon's cache .* fetching it from the API server failed: fetch: no answer within 200 ms/);
});

test('relists after 410 Gone, restarts after other errors, and keeps serving', async (t) => {
  const errors: string[] = [];
  const { fake, cache } = await setup(t, { onError: (what, e) => errors.push(`${what}: ${(e as Error).message}`) });
  fake.put(podOn('a', 'n1'));
  await cache.ready;
  const relists = cache.stats().pods.relists;
  // History compacted while the watch was away: the next watch gets 410 and the cache lists again.
  fake.compact();
  fake.put(podOn('b', 'n1'));
  fake.compact();
  fake.dropWatches();
  await until('relisted after 410', () => cache.stats().pods.relists > relists && cache.pods.get('default/b') !== undefined);
  // Any other error: the loop restarts with backoff.
  fake.failNextRequests = 3;
  fake.dropWatches();
  await until('restarted', () => cache.stats().pods.restarts + cache.stats().namespaces.restarts + cache.stats().nodes.restarts > 0);
  fake.put(podOn('c', 'n1'));
  await until('serving again', () => cache.pods.get('default/c') !== undefined);
  t.true(errors.some((e) => /500|injected|Internal Server Error/.test(e)), errors.join('; ')); // the injected 500s, however client-node words them
  t.true(cache.idleMs() < 10_000);
});

test('bounded: beyond maxPods objects are not cached (a lookup then fetches), and oversized annotations are dropped by name', async (t) => {
  const { fake, cache } = await setup(t, { maxPods: 3 });
  for (let i = 0; i < 5; i++) fake.put(podOn(`p${i}`, 'n1'));
  fake.put(podOn('huge', 'n1', { annotations: { 'ipam.spidernet.io/ippool': 'x'.repeat(MAX_ANNOTATION_BYTES + 1) } }));
  await cache.ready;
  t.is(cache.stats().pods.size, 3);
  t.is(cache.stats().pods.overflow, 3);
  const missing = ['p0', 'p1', 'p2', 'p3', 'p4', 'huge'].find((n) => cache.pods.get(`default/${n}`) === undefined)!;
  t.is((await cache.pod('default', missing)).name, missing);
  t.is(cache.stats().pods.size, 3, 'a fetched object does not push the cache past its bound');
  const huge = await cache.pod('default', 'huge');
  t.deepEqual(huge.oversized, ['ipam.spidernet.io/ippool']);
  t.deepEqual(huge.annotations, {});
});

test('a slim cache that keeps only some objects tells each change once: watch events, and on a relist after 410 what the watch missed (a deletion)', async (t) => {
  const fake = await FakeApiServer.start();
  const changes: string[] = [];
  const core = fake.kubeConfig().makeApiClient(CoreV1Api);
  const cache = new SlimCache<{ uid: string }>({
    kc: fake.kubeConfig(),
    what: 'annotated pods',
    path: '/api/v1/pods',
    list: (cont) => core.listPodForAllNamespaces({ ...(cont ? { _continue: cont } : {}) }),
    // Only pods carrying the annotation are kept; losing it forgets the pod.
    slim: (o) => (o.metadata?.annotations?.['keep'] ? { uid: o.metadata.uid ?? '' } : undefined),
    onChange: (key, now, before) => changes.push(`${key} ${before ? 'had' : 'new'} ${now ? 'kept' : 'gone'}`),
    maxEntries: 10,
    backoffMs: 50,
  });
  t.teardown(async () => {
    await cache.stop();
    await fake.close();
  });
  fake.put(podOn('a', 'n1', { annotations: { keep: '1' } }));
  fake.put(podOn('b', 'n1'));
  await cache.ready;
  t.deepEqual(changes, ['default/a new kept'], 'the first list tells what it found, as an informer\'s ADDED events');
  t.deepEqual(cache.entries().map(([k]) => k), ['default/a']);
  fake.put(podOn('b', 'n1', { annotations: { keep: '1' } }));
  await until('b kept', () => cache.get('default/b') !== undefined);
  fake.put(podOn('b', 'n1'));
  await until('b forgotten', () => cache.get('default/b') === undefined);
  t.deepEqual(changes.slice(1), ['default/b new kept', 'default/b had gone']);
  // Watch cut, a deletion, history compacted: the watch resumes into a 410, and the relist reports what it missed.
  const relists = cache.stats().relists;
  fake.dropWatches();
  fake.remove('v1', 'Pod', 'a', 'default');
  fake.compact();
  await until('relisted', () => cache.stats().relists > relists && cache.get('default/a') === undefined);
  t.deepEqual(changes.slice(3), ['default/a had gone']);
  t.true(cache.stats().synced);
});
