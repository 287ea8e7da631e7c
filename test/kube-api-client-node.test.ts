// @kubernetes/client-node 1.x (a client no one here wrote) against the Kubernetes-style API over HTTPS (CA-verified): CustomObjectsApi list,
// get, create, merge patch, JSON patch, delete, and the Watch class. Real allocator and projections on real etcd.
import { ApiException, CustomObjectsApi, KubeConfig, PatchStrategy, Watch, setHeaderOptions } from '@kubernetes/client-node';
import test from 'ava';
import { request } from './helpers/alloc.js';
import { KUBE_TOKEN, startKubeServer, type KubeServer } from './helpers/kube-server.js';

const group = 'spiderpool.spidernet.io';
const version = 'v2beta1';
const plural = 'spiderippools';

interface PoolObject {
  metadata: { name: string; resourceVersion: string };
  spec: { ips: string[]; subnet: string; default?: boolean };
  status: { allocatedIPCount: number; totalIPCount: number; allocatedIPs?: string };
}

let s: KubeServer;
let kc: KubeConfig;
let api: CustomObjectsApi;
test.before(async () => {
  s = await startKubeServer({}, { tls: true });
  kc = new KubeConfig();
  kc.loadFromOptions({
    // HTTPS verified with the server's CA (never skipTLSVerify), and the bearer token it requires.
    clusters: [{ name: 'ipam', server: s.url, caData: Buffer.from(s.ca!).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'admin', token: KUBE_TOKEN }],
    contexts: [{ name: 'ipam', cluster: 'ipam', user: 'admin' }],
    currentContext: 'ipam',
  });
  api = kc.makeApiClient(CustomObjectsApi);
});
test.after.always(async () => {
  await s?.close();
});

const body = (name: string, subnet: string, ips: string[]) => ({ apiVersion: `${group}/${version}`, kind: 'SpiderIPPool', metadata: { name }, spec: { ipVersion: 4, subnet, ips } });

test.serial('create, get, list, merge patch, JSON patch and delete a SpiderIPPool', async (t) => {
  const created = (await api.createClusterCustomObject({ group, version, plural, body: body('cn-a', '10.40.0.0/16', ['10.40.0.1-10.40.0.8']) })) as PoolObject;
  t.is(created.metadata.name, 'cn-a');
  t.is(created.status.totalIPCount, 8);

  const got = (await api.getClusterCustomObject({ group, version, plural, name: 'cn-a' })) as PoolObject;
  t.deepEqual(got.spec.ips, ['10.40.0.1-10.40.0.8']);
  const list = (await api.listClusterCustomObject({ group, version, plural })) as { kind: string; items: PoolObject[]; metadata: { resourceVersion: string } };
  t.is(list.kind, 'SpiderIPPoolList');
  t.true(list.items.some((o) => o.metadata.name === 'cn-a'));
  t.regex(list.metadata.resourceVersion, /^[1-9][0-9]*$/);

  const merged = (await api.patchClusterCustomObject(
    { group, version, plural, name: 'cn-a', body: { spec: { ips: ['10.40.0.1-10.40.0.16'], default: true } } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  )) as PoolObject;
  t.deepEqual(merged.spec.ips, ['10.40.0.1-10.40.0.16']);
  t.true(merged.spec.default);
  t.is(merged.status.totalIPCount, 16);

  // client-node's default patch type is JSON patch.
  const jp = (await api.patchClusterCustomObject({ group, version, plural, name: 'cn-a', body: [{ op: 'replace', path: '/spec/ips', value: ['10.40.0.1-10.40.0.4'] }] })) as PoolObject;
  t.deepEqual(jp.spec.ips, ['10.40.0.1-10.40.0.4']);
  t.is(((await api.getClusterCustomObject({ group, version, plural, name: 'cn-a' })) as PoolObject).status.totalIPCount, 4, 'the next GET sees the patch');

  await api.deleteClusterCustomObject({ group, version, plural, name: 'cn-a' });
  const err = await t.throwsAsync(api.getClusterCustomObject({ group, version, plural, name: 'cn-a' }));
  t.true(err instanceof ApiException);
  t.is((err as ApiException<string>).code, 404);
});

test.serial('errors arrive as Status objects the client surfaces with their code', async (t) => {
  const before = await s.fx.store.headRevision();
  const invalid = await t.throwsAsync(api.createClusterCustomObject({ group, version, plural, body: body('cn-bad', '10.41.0.0/16', ['10.99.0.1']) }));
  t.is((invalid as ApiException<string>).code, 422);
  const status = JSON.parse((invalid as ApiException<string>).body) as { reason: string; details: { causes: { field: string }[] } };
  t.is(status.reason, 'Invalid');
  t.is(status.details.causes[0]!.field, 'spec.subnet'); // Spiderpool's webhook: an address outside spec.subnet
  const strict = await t.throwsAsync(
    api.createClusterCustomObject({ group, version, plural, fieldValidation: 'Strict', body: { ...body('cn-bad', '10.41.0.0/16', ['10.41.0.1']), spec: { ipVersion: 4, subnet: '10.41.0.0/16', ips: ['10.41.0.1'], size: 3 } } }),
  );
  t.is((strict as ApiException<string>).code, 400);
  t.regex((strict as ApiException<string>).body, /unknown field \\"spec.size\\"/);
  t.is(await s.fx.store.headRevision(), before);
});

test.serial('Watch delivers ADDED and MODIFIED from a list resourceVersion; namespaced SpiderEndpoints list per namespace', async (t) => {
  await api.createClusterCustomObject({ group, version, plural, body: body('cn-w0', '10.42.0.0/16', ['10.42.0.1']) });
  const list = (await api.listClusterCustomObject({ group, version, plural })) as { metadata: { resourceVersion: string } };
  const events: { phase: string; obj: PoolObject }[] = [];
  let wake: () => void = () => undefined;
  const watcher = new Watch(kc);
  const ac = await watcher.watch(
    `/apis/${group}/${version}/${plural}`,
    { resourceVersion: list.metadata.resourceVersion, allowWatchBookmarks: true },
    (phase, obj: PoolObject) => {
      events.push({ phase, obj });
      wake();
    },
    () => wake(),
  );
  t.teardown(() => ac.abort());
  const waitFor = async (n: number) => {
    for (let i = 0; i < 50 && events.length < n; i++) await new Promise<void>((r) => ((wake = r), setTimeout(r, 100)));
  };
  await api.createClusterCustomObject({ group, version, plural, body: body('cn-w1', '10.43.0.0/16', ['10.43.0.1-10.43.0.4']) });
  await waitFor(1);
  await s.fx.allocator.allocate(request('cn-pod', { pools: { ipv4: ['cn-w1'] } }, { namespace: 'team-a' }));
  await waitFor(2);
  t.deepEqual(events.map((e) => `${e.phase} ${e.obj.metadata.name}`), ['ADDED cn-w1', 'MODIFIED cn-w1']);
  const [, modified] = events;
  t.deepEqual(Object.values(JSON.parse(modified!.obj.status.allocatedIPs ?? '{}') as Record<string, { pod: string }>).map((a) => a.pod), ['team-a/cn-pod'], 'v2beta1: a JSON string');
  t.true(Number(modified!.obj.metadata.resourceVersion) > Number(list.metadata.resourceVersion));

  const eps = (await api.listNamespacedCustomObject({ group, version, namespace: 'team-a', plural: 'spiderendpoints' })) as { items: { metadata: { name: string; namespace: string } }[] };
  t.deepEqual(eps.items.map((o) => `${o.metadata.namespace}/${o.metadata.name}`), ['team-a/cn-pod']);
  const none = (await api.listNamespacedCustomObject({ group, version, namespace: 'team-b', plural: 'spiderendpoints' })) as { items: unknown[] };
  t.is(none.items.length, 0);
});
