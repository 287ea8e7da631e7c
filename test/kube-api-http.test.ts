// The Kubernetes-style API over raw HTTP: discovery, Status errors, fieldValidation, dryRun, read-your-writes,
// optimistic concurrency, read-only status, refused deletes, Whereabouts' namespace, watch from a resourceVersion.
// Real allocator and live projections on a real etcd; bad input must leave the log's head revision where it was.
import test from 'ava';
import { AT, request } from './helpers/alloc.js';
import { call, openWatch, postLarge } from './helpers/kube-client.js';
import { startKubeServer, type KubeServer } from './helpers/kube-server.js';

const SP = '/apis/spiderpool.spidernet.io/v2beta1';
const WB = '/apis/whereabouts.cni.cncf.io/v1alpha1';

let s: KubeServer;
test.before(async () => {
  s = await startKubeServer();
});
test.after.always(async () => {
  await s?.close();
});

const pool = (name: string, spec: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'spiderpool.spidernet.io/v2beta1',
  kind: 'SpiderIPPool',
  metadata: { name },
  spec: { ipVersion: 4, subnet: '10.20.0.0/16', ips: ['10.20.0.10-10.20.0.19'], ...spec },
  ...extra,
});
const head = () => s.fx.store.headRevision();
const api = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => call(s.url, method, path, body, headers);

test.serial('discovery documents name groups, resources, verbs, scope and short names', async (t) => {
  const groups = await api('GET', '/apis');
  t.is(groups.json.kind, 'APIGroupList');
  t.deepEqual(groups.json.groups.map((g: { name: string }) => g.name).sort(), ['projectcalico.org', 'spiderpool.spidernet.io', 'whereabouts.cni.cncf.io']);
  const list = await api('GET', SP);
  t.is(list.json.kind, 'APIResourceList');
  t.is(list.json.groupVersion, 'spiderpool.spidernet.io/v2beta1');
  const byName = new Map(list.json.resources.map((r: { name: string }) => [r.name, r]));
  t.like(byName.get('spiderippools'), { kind: 'SpiderIPPool', singularName: 'spiderippool', namespaced: false, shortNames: ['sp'] });
  t.deepEqual((byName.get('spiderippools') as { verbs: string[] }).verbs, ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']);
  t.like(byName.get('spidersubnets'), { namespaced: false, shortNames: ['ss'] });
  t.like(byName.get('spiderendpoints'), { namespaced: true, shortNames: ['se'], verbs: ['get', 'list', 'watch'] });
  t.like(byName.get('spiderippools/status'), { verbs: ['get'] });
  t.like((await api('GET', WB)).json.resources[0], { name: 'ippools', kind: 'IPPool', namespaced: true });
  t.like((await api('GET', '/apis/projectcalico.org/v3')).json.resources[0], { name: 'workloadendpoints', namespaced: true });
  t.is((await api('GET', '/version')).json.major, '1');
  t.is((await api('GET', '/apis/apps/v1')).status, 404);
  t.is((await api('GET', '/healthz')).status, 404, 'other paths are left to the daemon');
  t.is((await api('GET', '/healthz')).text, 'not served by the Kubernetes-style API\n');
});

test.serial('create, then get at once (read-your-writes); list carries the revision as resourceVersion', async (t) => {
  const created = await api('POST', `${SP}/spiderippools`, pool('rw-a'));
  t.is(created.status, 201, created.text);
  t.is(created.json.metadata.name, 'rw-a');
  t.deepEqual(created.json.spec.ips, ['10.20.0.10-10.20.0.19']);
  t.is(created.json.status.totalIPCount, 10);
  const got = await api('GET', `${SP}/spiderippools/rw-a`);
  t.is(got.status, 200);
  t.is(got.json.metadata.resourceVersion, created.json.metadata.resourceVersion);
  t.is(Number(got.json.metadata.resourceVersion), await head(), 'resourceVersion is the etcd revision of the write');
  const list = await api('GET', `${SP}/spiderippools`);
  t.is(list.json.kind, 'SpiderIPPoolList');
  t.true(Number(list.json.metadata.resourceVersion) >= Number(got.json.metadata.resourceVersion));
  t.deepEqual(list.json.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['rw-a']);
  const again = await api('POST', `${SP}/spiderippools`, pool('rw-a', { ips: ['10.20.1.1'] }));
  t.is(again.status, 409);
  t.like(again.json, { kind: 'Status', reason: 'AlreadyExists', code: 409 });
  const missing = await api('GET', `${SP}/spiderippools/nope`);
  t.like(missing.json, { kind: 'Status', status: 'Failure', reason: 'NotFound', code: 404 });
  t.is(missing.json.message, 'spiderippools.spiderpool.spidernet.io "nope" not found');
});

test.serial('dryRun=All validates and writes nothing', async (t) => {
  const before = await head();
  const dry = await api('POST', `${SP}/spiderippools?dryRun=All`, pool('dry-a', { subnet: '10.21.0.0/16', ips: ['10.21.0.1-10.21.0.4'] }));
  t.is(dry.status, 201, dry.text);
  t.is(dry.json.status.totalIPCount, 4);
  t.is((await api('GET', `${SP}/spiderippools/dry-a`)).status, 404);
  const overlapping = await api('POST', `${SP}/spiderippools?dryRun=All`, pool('dry-b', { ips: ['10.20.0.15'] }));
  t.is(overlapping.status, 422, 'dry run still decides: the overlap with rw-a is found');
  t.regex(overlapping.json.message, /spec\.ips: Forbidden: overlap with IPPool rw-a in IP ranges \[10\.20\.0\.15\]/); // Spiderpool's webhook words
  t.is((await api('POST', `${SP}/spiderippools?dryRun=Some`, pool('dry-c'))).status, 400);
  t.is(await head(), before);
});

test.serial('fieldValidation: Strict refuses unknown and duplicate fields, Warn warns, Ignore is silent', async (t) => {
  const before = await head();
  const strict = await api('POST', `${SP}/spiderippools?fieldValidation=Strict`, pool('fv-a', { subnet: '10.22.0.0/16', ips: ['10.22.0.1'], colour: 'blue' }, { extra: 1 }));
  t.is(strict.status, 400);
  t.like(strict.json, { kind: 'Status', reason: 'BadRequest', code: 400 });
  t.regex(strict.json.message, /^strict decoding error: /);
  t.regex(strict.json.message, /unknown field "extra"/);
  t.regex(strict.json.message, /unknown field "spec.colour"/);
  const dupBody = '{"apiVersion":"spiderpool.spidernet.io/v2beta1","kind":"SpiderIPPool","metadata":{"name":"fv-d"},"spec":{"ipVersion":4,"subnet":"10.22.0.0/16","ips":["10.22.0.1"],"ips":["10.22.0.2"]}}';
  const dup = await api('POST', `${SP}/spiderippools?fieldValidation=Strict`, dupBody);
  t.is(dup.status, 400);
  t.regex(dup.json.message, /duplicate field "spec.ips"/);
  t.is(await head(), before, 'nothing written');

  const warn = await api('POST', `${SP}/spiderippools?fieldValidation=Warn`, pool('fv-a', { subnet: '10.22.0.0/16', ips: ['10.22.0.1'], colour: 'blue' }));
  t.is(warn.status, 201, warn.text);
  t.is(warn.headers.get('warning'), '299 - "unknown field \\"spec.colour\\""');
  t.false('colour' in warn.json.spec, 'the unknown field is dropped');
  const ignore = await api('POST', `${SP}/spiderippools?fieldValidation=Ignore`, pool('fv-b', { subnet: '10.22.0.0/16', ips: ['10.22.0.2'], colour: 'blue' }));
  t.is(ignore.status, 201);
  t.is(ignore.headers.get('warning'), null);
  t.is((await api('POST', `${SP}/spiderippools?fieldValidation=Loose`, pool('fv-c'))).status, 400);
});

test.serial('bad input gets a Status naming the field, and writes nothing', async (t) => {
  const before = await head();
  const cidr = await api('POST', `${SP}/spiderippools`, pool('bad-a', { subnet: '10.23.0.0/33' }));
  t.is(cidr.status, 422);
  t.like(cidr.json, { kind: 'Status', reason: 'Invalid', code: 422, details: { name: 'bad-a', kind: 'SpiderIPPool', group: 'spiderpool.spidernet.io' } });
  t.is(cidr.json.details.causes[0].field, 'spec.subnet');
  t.regex(cidr.json.message, /^SpiderIPPool.spiderpool.spidernet.io "bad-a" is invalid: spec.subnet: Invalid value: "10.23.0.0\/33"/);

  const v4in6 = await api('POST', `${SP}/spiderippools`, pool('bad-b', { ipVersion: 6, subnet: 'fd00:23::/64', ips: ['10.23.0.1'] }));
  t.is(v4in6.status, 422);
  t.is(v4in6.json.details.causes[0].field, 'spec.subnet', 'Spiderpool refuses an address outside the subnet at spec.subnet (NewCIDR)');
  t.regex(v4in6.json.message, /not match base subnet: 10\.23\.0\.1/);

  const label = await api('POST', `${SP}/spiderippools`, pool('bad-c', {}, { metadata: { name: 'bad-c', labels: { 'a b': 'x' } } }));
  t.is(label.status, 422);
  t.regex(label.json.details.causes[0].field, /^metadata.labels/);

  const name = await api('POST', `${SP}/spiderippools`, pool('Bad_Name'));
  t.is(name.status, 422);
  t.is(name.json.details.causes[0].field, 'metadata.name');

  const json = await api('POST', `${SP}/spiderippools`, '{"apiVersion": "spiderpool.spidernet.io/v2beta1", "kind": ');
  t.is(json.status, 400);
  t.regex(json.json.message, /not valid JSON/);
  const yaml = await api('POST', `${SP}/spiderippools`, 'kind: SpiderIPPool\nmetadata: {name: [\n', { 'content-type': 'application/yaml' });
  t.is(yaml.status, 400);
  t.regex(yaml.json.message, /not valid YAML/);
  const kind = await api('POST', `${SP}/spiderippools`, { ...pool('bad-d'), kind: 'SpiderSubnet' });
  t.is(kind.status, 400);
  t.regex(kind.json.message, /does not match the expected kind/);
  const media = await api('POST', `${SP}/spiderippools`, 'x', { 'content-type': 'text/plain' });
  t.is(media.status, 415);

  const big = await postLarge(s.url, `${SP}/spiderippools`, 2 << 20);
  t.is(big.status, 413);
  t.is(JSON.parse(big.body).reason, 'RequestEntityTooLarge');
  t.is(await head(), before, 'the log did not move');
});

test.serial('YAML bodies are accepted', async (t) => {
  const body = ['apiVersion: spiderpool.spidernet.io/v2beta1', 'kind: SpiderSubnet', 'metadata: {name: subnet-y}', 'spec:', '  ipVersion: 4', '  subnet: 10.24.0.0/16', '  ips: ["10.24.0.1-10.24.0.100"]', ''].join('\n');
  const r = await api('POST', `${SP}/spidersubnets`, body, { 'content-type': 'application/yaml' });
  t.is(r.status, 201, r.text);
  t.is(r.json.status.totalIPCount, 100);
});

test.serial('PUT needs the current resourceVersion (409 when stale); status in a body is ignored; /status is read-only', async (t) => {
  const created = await api('POST', `${SP}/spiderippools`, pool('put-a', { subnet: '10.25.0.0/16', ips: ['10.25.0.1-10.25.0.4'] }));
  const rv = created.json.metadata.resourceVersion as string;
  const noRv = await api('PUT', `${SP}/spiderippools/put-a`, pool('put-a', { subnet: '10.25.0.0/16', ips: ['10.25.0.1-10.25.0.8'] }));
  t.is(noRv.status, 422);
  t.is(noRv.json.details.causes[0].field, 'metadata.resourceVersion');
  const body = pool('put-a', { subnet: '10.25.0.0/16', ips: ['10.25.0.1-10.25.0.8'] }, { status: { totalIPCount: 999, allocatedIPCount: 7 } });
  const ok = await api('PUT', `${SP}/spiderippools/put-a`, { ...body, metadata: { name: 'put-a', resourceVersion: rv } });
  t.is(ok.status, 200, ok.text);
  t.deepEqual(ok.json.spec.ips, ['10.25.0.1-10.25.0.8']);
  t.is(ok.json.status.totalIPCount, 8, 'status comes from the log, not the body');
  t.is(ok.json.status.allocatedIPCount, 0);
  t.true(Number(ok.json.metadata.resourceVersion) > Number(rv));
  const before = await head();
  const stale = await api('PUT', `${SP}/spiderippools/put-a`, { ...body, metadata: { name: 'put-a', resourceVersion: rv } });
  t.is(stale.status, 409);
  t.like(stale.json, { reason: 'Conflict', code: 409 });
  t.regex(stale.json.message, /the object has been modified/);
  const status = await api('PUT', `${SP}/spiderippools/put-a/status`, { ...body, metadata: { name: 'put-a', resourceVersion: ok.json.metadata.resourceVersion } });
  t.is(status.status, 405);
  t.regex(status.json.message, /status is computed from the allocation log/);
  t.is((await api('PATCH', `${SP}/spiderippools/put-a/status`, { status: { totalIPCount: 1 } }, { 'content-type': 'application/merge-patch+json' })).status, 405);
  t.is((await api('GET', `${SP}/spiderippools/put-a/status`)).json.status.totalIPCount, 8);
  const same = await api('PUT', `${SP}/spiderippools/put-a`, { ...ok.json });
  t.is(same.status, 200);
  t.is(await head(), before, 'a stale PUT, a status write and an unchanged PUT write nothing');
});

test.serial('merge patch and JSON patch change the spec; strategic merge patch is refused', async (t) => {
  await api('POST', `${SP}/spiderippools`, pool('patch-a', { subnet: '10.26.0.0/16', ips: ['10.26.0.1-10.26.0.4'] }));
  const merge = await api('PATCH', `${SP}/spiderippools/patch-a`, { spec: { ips: ['10.26.0.1-10.26.0.6'], default: true } }, { 'content-type': 'application/merge-patch+json' });
  t.is(merge.status, 200, merge.text);
  t.deepEqual(merge.json.spec.ips, ['10.26.0.1-10.26.0.6']);
  t.true(merge.json.spec.default);
  const jp = await api('PATCH', `${SP}/spiderippools/patch-a`, [{ op: 'replace', path: '/spec/ips', value: ['10.26.0.2'] }, { op: 'remove', path: '/spec/default' }], { 'content-type': 'application/json-patch+json' });
  t.is(jp.status, 200, jp.text);
  t.deepEqual(jp.json.spec.ips, ['10.26.0.2']);
  t.false('default' in jp.json.spec);
  const before = await head();
  const smp = await api('PATCH', `${SP}/spiderippools/patch-a`, { spec: {} }, { 'content-type': 'application/strategic-merge-patch+json' });
  t.is(smp.status, 415);
  const bad = await api('PATCH', `${SP}/spiderippools/patch-a`, { spec: { ips: ['10.99.0.1'] } }, { 'content-type': 'application/merge-patch+json' });
  t.is(bad.status, 422);
  t.is(bad.json.details.causes[0].field, 'spec.subnet');
  t.is(await head(), before);
});

test.serial('deleting a pool that holds allocations is refused with a clear Status; after release it goes', async (t) => {
  await api('POST', `${SP}/spiderippools`, pool('del-a', { subnet: '10.27.0.0/16', ips: ['10.27.0.1-10.27.0.4'] }));
  const a = await s.fx.allocator.allocate(request('del-pod', { pools: { ipv4: ['del-a'] } }));
  t.is(a.allocations.length, 1);
  const shown = await api('GET', `${SP}/spiderippools/del-a`);
  t.is(shown.json.status.allocatedIPCount, 1, 'the allocation is visible');
  const before = await head();
  const refused = await api('DELETE', `${SP}/spiderippools/del-a`);
  t.is(refused.status, 409);
  t.like(refused.json, { kind: 'Status', reason: 'Conflict', code: 409 });
  t.regex(refused.json.message, /still holds 1 allocation/);
  t.is(await head(), before);
  const dry = await api('DELETE', `${SP}/spiderippools/del-a?dryRun=All`);
  t.is(dry.status, 409, 'a dry-run delete decides too');
  await s.fx.allocator.releasePod('default', 'del-pod', undefined, 'admin', AT);
  const gone = await api('DELETE', `${SP}/spiderippools/del-a`);
  t.is(gone.status, 200, gone.text);
  t.is(gone.json.metadata.name, 'del-a');
  t.is((await api('GET', `${SP}/spiderippools/del-a`)).status, 404);
  t.is((await api('DELETE', `${SP}/spiderippools/del-a`)).status, 404);
});

test.serial('Whereabouts IPPools live in kube-system: the same engine pool as the SpiderIPPool of that name', async (t) => {
  const ippool = (ns: string, name: string, range: string) => ({ apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'IPPool', metadata: { name, namespace: ns }, spec: { range, allocations: {} } });
  const before = await head();
  const elsewhere = await api('POST', `${WB}/namespaces/default/ippools`, ippool('default', 'wb-a', '10.28.0.0/24'));
  t.is(elsewhere.status, 422);
  t.is(elsewhere.json.details.causes[0].field, 'metadata.namespace');
  t.regex(elsewhere.json.message, /kube-system/);
  t.is(await head(), before);
  const created = await api('POST', `${WB}/namespaces/kube-system/ippools`, ippool('kube-system', 'wb-a', '10.28.0.0/24'));
  t.is(created.status, 201, created.text);
  t.deepEqual(created.json.spec, { range: '10.28.0.0/24', allocations: {} });
  const asSpider = await api('GET', `${SP}/spiderippools/wb-a`);
  t.is(asSpider.json.status.totalIPCount, 254);
  await s.fx.allocator.allocate(request('wb-pod', { pools: { ipv4: ['wb-a'] } }));
  const got = await api('GET', `${WB}/namespaces/kube-system/ippools/wb-a`);
  const [offset, holder] = Object.entries(got.json.spec.allocations)[0] as [string, { podref: string }];
  t.true(Number(offset) >= 1 && Number(offset) <= 254);
  t.is(holder.podref, 'default/wb-pod');
  t.is((await api('GET', `${WB}/namespaces/default/ippools`)).json.items.length, 0);
  // Allocations the log does not hold would be dropped by a write: refused, pointing at ipam adopt.
  const beforeDrop = await head();
  const dropping = await api('POST', `${WB}/namespaces/kube-system/ippools`, { ...ippool('kube-system', 'wb-b', '10.29.0.0/24'), spec: { range: '10.29.0.0/24', allocations: { '5': { id: 'c', podref: 'default/elsewhere', ifname: 'eth0' } } } });
  t.is(dropping.status, 422, dropping.text);
  t.is(dropping.json.details.causes[0].field, 'spec.allocations');
  t.regex(dropping.json.message, /ipam adopt -f FILE/);
  t.is(await head(), beforeDrop);
  t.true((await api('GET', `${WB}/ippools`)).json.items.some((o: { metadata: { name: string } }) => o.metadata.name === 'wb-a'));
});

test.serial('selectors: fieldSelector metadata.name and labelSelector; bad selectors are 400', async (t) => {
  const byName = await api('GET', `${SP}/spiderippools?fieldSelector=metadata.name%3Drw-a`);
  t.deepEqual(byName.json.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['rw-a']);
  const notName = await api('GET', `${SP}/spiderippools?fieldSelector=metadata.name!%3Drw-a`);
  t.false(notName.json.items.some((o: { metadata: { name: string } }) => o.metadata.name === 'rw-a'));
  await s.fx.allocator.allocate(request('sel-1', { pools: { ipv4: ['rw-a'] } }, { namespace: 'ns-1' }));
  await s.fx.allocator.allocate(request('sel-2', { pools: { ipv4: ['rw-a'] } }, { namespace: 'ns-2' }));
  const weps = await api('GET', '/apis/projectcalico.org/v3/workloadendpoints?labelSelector=projectcalico.org%2Fnamespace%3Dns-1');
  t.is(weps.status, 200, weps.text);
  t.deepEqual(weps.json.items.map((o: { spec: { pod: string } }) => o.spec.pod), ['sel-1']);
  const inNs = await api('GET', `${SP}/namespaces/ns-2/spiderendpoints`);
  t.deepEqual(inNs.json.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['sel-2']);
  const one = await api('GET', `${SP}/namespaces/ns-2/spiderendpoints/sel-2`);
  t.is(one.json.status.current.ips[0].ipv4Pool, 'rw-a');
  t.is((await api('GET', `${SP}/spiderippools?labelSelector=a%20in%20(`)).status, 400);
  t.is((await api('GET', `${SP}/spiderippools?fieldSelector=spec.subnet%3Dx`)).status, 400);
});

test.serial('watch streams changes from a resourceVersion; the change feed answers 410 Expired below what it holds', async (t) => {
  const list = await api('GET', `${SP}/spiderippools`);
  const rv = list.json.metadata.resourceVersion as string;
  const w = await openWatch(s.url, `${SP}/spiderippools?watch=true&resourceVersion=${rv}`);
  t.is(w.status, 200);
  const created = await api('POST', `${SP}/spiderippools`, pool('watch-a', { subnet: '10.29.0.0/16', ips: ['10.29.0.1-10.29.0.4'] }));
  const added = await w.next();
  t.is(added.type, 'ADDED');
  t.is(added.object.metadata.name, 'watch-a');
  t.is(added.object.metadata.resourceVersion, created.json.metadata.resourceVersion);
  await s.fx.allocator.allocate(request('watch-pod', { pools: { ipv4: ['watch-a'] } }));
  const modified = await w.next();
  t.is(modified.type, 'MODIFIED');
  t.is(modified.object.status.allocatedIPCount, 1);
  w.close();

  // Resuming from the list's revision replays what changed since (latest state per object).
  const resumed = await openWatch(s.url, `${SP}/spiderippools?watch=true&resourceVersion=${rv}&fieldSelector=metadata.name%3Dwatch-a`);
  const replayed = await resumed.next();
  t.is(replayed.type, 'ADDED');
  t.is(replayed.object.status.allocatedIPCount, 1);
  resumed.close();

  const small = await startKubeServer({ feedCapacity: 2 });
  t.teardown(() => small.close());
  t.is((await call(small.url, 'POST', `${SP}/spiderippools`, pool('old-0', { subnet: '10.30.0.0/16', ips: ['10.30.0.9'] }))).status, 201);
  const base = (await call(small.url, 'GET', `${SP}/spiderippools`)).json.metadata.resourceVersion as string;
  t.not(base, '0', 'a resourceVersion of 0 would mean "any", not "from here"');
  for (const [i, n] of [1, 2, 3].entries()) {
    const r = await call(small.url, 'POST', `${SP}/spiderippools`, pool(`old-${n}`, { subnet: '10.30.0.0/16', ips: [`10.30.0.${10 + i}`] }));
    t.is(r.status, 201, r.text);
  }
  const expired = await call(small.url, 'GET', `${SP}/spiderippools?watch=true&resourceVersion=${base}`);
  t.is(expired.status, 410);
  t.like(expired.json, { kind: 'Status', reason: 'Expired', code: 410 });
  const fromStart = await openWatch(small.url, `${SP}/spiderippools?watch=true`);
  const names = [];
  for (let i = 0; i < 4; i++) names.push((await fromStart.next()).object.metadata.name);
  t.deepEqual(names, ['old-0', 'old-1', 'old-2', 'old-3'], 'without a resourceVersion, the current objects come first');
  fromStart.close();
});

test.serial('SpiderReservedIP: create, list, get, PUT without resourceVersion refused, merge patch of ips and labels (uid and creationTimestamp kept, generation bumped), delete', async (t) => {
  const rsv = { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderReservedIP', metadata: { name: 'rsv-a' }, spec: { ipVersion: 4, ips: ['10.20.0.11'] } };
  const list0 = await api('GET', `${SP}/spiderreservedips`);
  const w = await openWatch(s.url, `${SP}/spiderreservedips?watch=true&resourceVersion=${list0.json.metadata.resourceVersion}`);
  t.teardown(() => w.close());
  const created = await api('POST', `${SP}/spiderreservedips`, rsv);
  t.is(created.status, 201, created.text);
  const added = await w.next();
  t.is(added.type, 'ADDED');
  t.is(added.object.metadata.name, 'rsv-a');
  t.deepEqual(created.json.spec, { ipVersion: 4, ips: ['10.20.0.11'] });
  t.deepEqual((await api('GET', `${SP}/spiderreservedips`)).json.items.map((o: { metadata: { name: string } }) => o.metadata.name), ['rsv-a']);
  t.is((await api('PUT', `${SP}/spiderreservedips/rsv-a`, rsv)).status, 422, 'an update needs metadata.resourceVersion');
  const before = created.json.metadata;
  t.regex(before.uid, /^[0-9a-f-]{36}$/);
  t.is(before.generation, 1);
  const patched = await api('PATCH', `${SP}/spiderreservedips/rsv-a`, { metadata: { labels: { team: 'net' } }, spec: { ips: ['10.20.0.11', '10.20.0.12'] } }, { 'content-type': 'application/merge-patch+json' });
  t.is(patched.status, 200, patched.text);
  t.deepEqual(patched.json.spec, { ipVersion: 4, ips: ['10.20.0.11-10.20.0.12'] });
  t.like(patched.json.metadata, { uid: before.uid, creationTimestamp: before.creationTimestamp, generation: 2, labels: { team: 'net' } });
  t.deepEqual(s.fx.allocator.model.reservations.get('rsv-a')!.ips, ['10.20.0.11-10.20.0.12'], 'the allocator holds the new reservation');
  t.is((await api('PATCH', `${SP}/spiderreservedips/rsv-a`, { spec: {} }, { 'content-type': 'application/strategic-merge-patch+json' })).status, 415, 'strategic merge patch is refused for custom resources, as the API server does');
  t.is((await api('DELETE', `${SP}/spiderreservedips/rsv-a`, { preconditions: { uid: 'not-its-uid' } })).status, 409);
  t.is((await api('DELETE', `${SP}/spiderreservedips/rsv-a`, { preconditions: { uid: before.uid } })).status, 200);
  t.is((await api('GET', `${SP}/spiderreservedips/rsv-a`)).status, 404);
});
