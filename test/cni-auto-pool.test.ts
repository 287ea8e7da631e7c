// SpiderSubnet auto pools end to end: `ipam controller` (real etcd and Redis, the API server double — it says it is
// one) watches workloads copied verbatim from Spiderpool's docs (docs/usage/spider-subnet.md's heredocs and
// docs/example/spider-subnet/*.yaml, see SOURCE.md beside them) and carves each its own pool from the SpiderSubnet;
// a daemon's CNI route (its own allocator on the same etcd, its own caches) serves the workload's pods from that pool
// through the real plugin binary; scaling resizes the pool, deleting the workload reclaims it (or keeps it with
// ippool-reclaim "false"); every step is an event that history and replay show.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import type { DomainEvent, LoggedEvent } from '../events/catalogue.js';
import { history } from '../projections/history.js';
import { readModelOf, replay } from '../projections/runtime.js';
import { spiderIPPoolProjection, spiderSubnetProjection } from '../projections/index.js';
import { configMetadataProjection } from '../src/k8s/config-metadata.js';
import { ClusterCache } from '../src/k8s/cluster-inputs.js';
import { AutoPoolController } from '../src/k8s/auto-pools.js';
import type { RunningController } from '../src/k8s/controller.js';
import { openAllocator, type AllocFixture } from './helpers/alloc.js';
import { pluginBinary, ROOT, runPlugin, startCniServer } from './helpers/cni.js';
import type { FakeObject } from './helpers/fake-apiserver.js';
import { allEvents, controller, FakeApiServer, freshQueuePrefix, until } from './helpers/k8s.js';
import { freshPrefix } from './helpers/store.js';

const UPSTREAM = join(ROOT, 'test/fixtures/upstream/spidernet-io/spiderpool');
const NODE = 'node-a';
const HASH = '74cbbf654';

/** Every document of the `cat <<EOF | kubectl create|apply -f -` heredocs of an upstream page, verbatim. */
function heredocs(page: string): FakeObject[] {
  const text = readFileSync(join(UPSTREAM, page), 'utf8');
  const out: FakeObject[] = [];
  for (const m of text.matchAll(/cat <<EOF \| kubectl (?:create|apply) -f -\n([\s\S]*?)\nEOF/g)) {
    for (const d of parseAllDocuments(m[1]!)) if (d.errors.length === 0 && d.toJS()) out.push(d.toJS() as FakeObject);
  }
  return out;
}
function yamlFile(path: string): FakeObject[] {
  return parseAllDocuments(readFileSync(join(UPSTREAM, path), 'utf8')).map((d) => d.toJS() as FakeObject);
}
const find = (docs: FakeObject[], kind: string, name: string): FakeObject => {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  if (!d) throw new Error(`no ${kind} ${name}`);
  return structuredClone(d);
};

interface Rig {
  fake: FakeApiServer;
  ctl: RunningController;
  daemon: AllocFixture;
  cache: ClusterCache;
  add(pod: string, o?: { ifname?: string; id?: string }): Promise<{ code: number; out: Record<string, any> }>;
  del(id: string, ifname?: string): Promise<number>;
  /** The Deployment as the API server holds it (namespace default, a uid, the replicas asked). */
  deploy(d: FakeObject, uid: string, replicas?: number): void;
  /** A pod of that Deployment on this node, as its ReplicaSet makes it: the template's labels and annotations. */
  pod(d: FakeObject, name: string, owner?: { apiVersion: string; kind: string; name: string }): Promise<void>;
  pool(name: string): { ips: readonly string[]; disable?: boolean; gateway?: string; podAffinity?: unknown } | undefined;
  /** How many IPs the pool owns (undefined: no such pool). */
  size(name: string): number | undefined;
  labels(pool: string): Record<string, string>;
  log(): Promise<LoggedEvent[]>;
}

async function rig(t: ExecutionContext, subnets: FakeObject[], o: { autoPools?: boolean } = {}): Promise<Rig> {
  const bin = pluginBinary();
  const fake = await FakeApiServer.start();
  fake.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } });
  fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'default', labels: { 'kubernetes.io/metadata.name': 'default' } } });
  for (const s of subnets) fake.put(s);
  const prefix = freshPrefix();
  const ctl = await controller(fake, { prefix, queuePrefix: freshQueuePrefix(), gc: false, statusWriteback: false, crdRetryMs: 200, autoPoolRetryMs: 200, ...(o.autoPools === false ? { autoPools: false } : {}) });
  // The daemon: its own allocator on the same etcd prefix, its own caches; it never creates pools.
  const daemon = await openAllocator(prefix);
  const cache = new ClusterCache(fake.kubeConfig(), { node: NODE, backoffMs: 50 });
  await cache.ready;
  const server = await startCniServer({ allocator: daemon.allocator, node: NODE, ready: () => true, cluster: cache }, { autoPoolWaitMs: 8000 });
  t.teardown(async () => {
    await server.close();
    await cache.stop();
    await ctl.stop();
    await daemon.close();
    await fake.close();
  });
  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'macvlan-ens192', type: 'macvlan', master: 'eth0', ipam: { type: 'ipam-es' } });
  const env = (command: string, id: string, ifname: string, pod = '') => ({
    CNI_COMMAND: command,
    CNI_PATH: '/opt/cni/bin',
    IPAM_ES_SOCKET: server.socket,
    CNI_CONTAINERID: id,
    CNI_NETNS: `/run/netns/${id}`,
    CNI_IFNAME: ifname,
    CNI_ARGS: pod ? `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${pod}` : '',
  });
  return {
    fake,
    ctl,
    daemon,
    cache,
    async add(pod, o = {}) {
      const ifname = o.ifname ?? 'eth0';
      const r = await runPlugin(bin, env('ADD', o.id ?? `ctr-${pod}`, ifname, pod), conf);
      return { code: r.code, out: JSON.parse(r.stdout || '{}') };
    },
    async del(id, ifname = 'eth0') {
      return (await runPlugin(bin, env('DEL', id, ifname), conf)).code;
    },
    deploy(d, uid, replicas) {
      fake.put({ ...d, metadata: { ...d.metadata, namespace: d.metadata.namespace ?? 'default', uid }, spec: { ...(d.spec as object), ...(replicas !== undefined ? { replicas } : {}) } });
    },
    async pod(d, name, owner) {
      const tpl = d.kind === 'CronJob' ? (d.spec as any).jobTemplate.spec.template : (d.spec as any).template;
      fake.put({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: 'default',
          uid: `uid-${name}`,
          labels: { ...tpl.metadata.labels, 'pod-template-hash': HASH },
          annotations: { ...tpl.metadata.annotations },
          ownerReferences: [{ ...(owner ?? { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${d.metadata.name}-${HASH}` }), uid: `uid-owner-${d.metadata.name}`, controller: true }],
        },
        spec: { nodeName: NODE, ...tpl.spec },
      });
      await until(`pod ${name} cached`, () => cache.pods.get(`default/${name}`) !== undefined);
    },
    pool(name) {
      return daemon.allocator.model.pools.get(name)?.compiled.spec;
    },
    size(name) {
      const p = daemon.allocator.model.pools.get(name);
      return p ? Number(p.compiled.owned.size()) : undefined;
    },
    labels(pool) {
      return { ...(ctl.projections.state(configMetadataProjection).pools[pool]?.labels ?? {}) };
    },
    log: () => allEvents(daemon.store),
  };
}

const types = (log: readonly LoggedEvent[], pool: string) => log.filter((e) => (e.event.data as { name?: string; pool?: string }).name === pool || (e.event.data as { pool?: string }).pool === pool).map((e) => e.event.type);
const poolEvents = (log: readonly LoggedEvent[], pool: string) => types(log, pool).filter((x) => x.startsWith('Pool'));
const addr = (r: { out: Record<string, any> }, i = 0): string => String(r.out.ips?.[i]?.address ?? '').split('/')[0]!;

/** SpiderSubnet status as a replay of the log up to `revision` shows it. */
async function subnetAt(daemon: AllocFixture, name: string, revision: number): Promise<Record<string, any> | undefined> {
  const states = await replay(daemon.store, [spiderSubnetProjection, spiderIPPoolProjection], { until: revision });
  return [...readModelOf(states).list(spiderSubnetProjection.name)].find((o: any) => o.metadata.name === name) as Record<string, any> | undefined;
}

test('docs/usage/spider-subnet.md test-app-1: auto pool created (3 IPs for 2 replicas, "+1"), a pod served from it, scaled with replicas, kept on delete (ippool-reclaim "false") and reused by a same-named successor', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6'), find(page, 'SpiderSubnet', 'subnet-7')]);
  await until('subnets defined', () => r.daemon.allocator.model.subnets.has('subnet-6') && r.daemon.allocator.model.subnets.has('subnet-7'));
  const app = find(page, 'Deployment', 'test-app-1');
  // A uid whose last group starts a5bd3: the page's pool name, auto4-test-app-1-eth0-a5bd3.
  r.deploy(app, '6f1c2b0e-3d4a-4b5c-9e8f-a5bd3c7e9f10');
  const name = 'auto4-test-app-1-eth0-a5bd3';
  await until('auto pool with 3 IPs', () => r.pool(name)?.ips.join() === '10.6.168.101-10.6.168.103');
  const created = await r.daemon.store.currentRevision();
  const spec = r.pool(name)!;
  // The page's `kubectl get spiderippool ... -ojsonpath={.spec}`: the subnet's gateway and routes, the app's affinity.
  t.is(spec.gateway, '10.6.0.1');
  t.deepEqual((spec as any).routes, [{ dst: '10.7.0.0/16', gw: '10.6.0.1' }]);
  t.deepEqual(spec.podAffinity, {
    matchLabels: {
      'ipam.spidernet.io/app-api-group': 'apps',
      'ipam.spidernet.io/app-api-version': 'v1',
      'ipam.spidernet.io/app-kind': 'Deployment',
      'ipam.spidernet.io/app-name': 'test-app-1',
      'ipam.spidernet.io/app-namespace': 'default',
    },
  });
  const labels = r.labels(name);
  for (const k of ['ipam.spidernet.io/owner-application-gv', 'ipam.spidernet.io/owner-application-kind', 'ipam.spidernet.io/owner-application-namespace', 'ipam.spidernet.io/owner-application-name', 'ipam.spidernet.io/owner-application-uid']) {
    t.truthy(labels[k], `label ${k}`);
  }
  t.is(labels['ipam.spidernet.io/ippool-reclaim'], 'false');
  t.is(labels['ipam.spidernet.io/owner-spider-subnet'], 'subnet-6');

  // A pod of the Deployment gets its address from the auto pool, with the subnet's gateway.
  await r.pod(app, `test-app-1-${HASH}-2ndzl`);
  const a = await r.add(`test-app-1-${HASH}-2ndzl`);
  t.is(a.code, 0, JSON.stringify(a.out));
  t.regex(addr(a), /^10\.6\.168\.10[1-3]$/);
  t.is(a.out.ips[0].gateway, '10.6.0.1');
  const log1 = await r.log();
  t.is((log1.find((e) => e.event.type === 'IPAllocated')?.event.data as { pool?: string } | undefined)?.pool, name);

  // Scaled 2 -> 3: the pool grows from 3 to 4 IPs (the page's "Dynamically scale fixed IP pools").
  r.deploy(app, '6f1c2b0e-3d4a-4b5c-9e8f-a5bd3c7e9f10', 3);
  await until('pool of 4', () => r.pool(name)?.ips.join() === '10.6.168.101-10.6.168.104');
  const grown = await r.daemon.store.currentRevision();
  // Scaled to 0: 1 IP wanted, and the pod's address is kept (only unallocated IPs go back).
  r.deploy(app, '6f1c2b0e-3d4a-4b5c-9e8f-a5bd3c7e9f10', 0);
  await until('pool of 1', () => r.size(name) === 1);
  t.deepEqual(r.pool(name)!.ips, [addr(a)]);

  // Deleted with ippool-reclaim "false": the pool stays.
  r.fake.remove('apps/v1', 'Deployment', 'test-app-1', 'default');
  await until('the controller saw the deletion', () => r.ctl.autoPools!.stats().Deployment.size === 0);
  await r.ctl.autoPools!.idle();
  t.truthy(r.pool(name), 'kept');
  t.false(poolEvents(await r.log(), name).includes('PoolRemoved'));
  // Recreated under the same name (a new uid): the kept pool is reused, resized, its uid label refreshed.
  r.deploy(app, '0a0b0c0d-1111-2222-3333-444455556666');
  await until('reused pool of 3', () => r.size(name) === 3 && r.labels(name)['ipam.spidernet.io/owner-application-uid'] === '0a0b0c0d-1111-2222-3333-444455556666');
  t.false([...r.daemon.allocator.model.pools.keys()].some((p) => p.startsWith('auto4-test-app-1-eth0-') && p !== name), 'no second pool');

  const log = await r.log();
  t.deepEqual(poolEvents(log, name), ['PoolDefined', 'PoolCarved', 'PoolChanged', 'PoolCarved', 'PoolChanged', 'PoolCarved', 'PoolChanged', 'PoolCarved']);
  // History and replay show it: the pod's holding in the pool; the subnet's controlled pools as they were.
  const h = await history(r.daemon.store, { pool: name });
  t.is(h.length, 1);
  t.is(h[0]!.pod, `default/test-app-1-${HASH}-2ndzl`);
  const at1 = await subnetAt(r.daemon, 'subnet-6', created);
  t.deepEqual(JSON.parse(at1!.status.controlledIPPools)[name].ips, ['10.6.168.101-10.6.168.103']);
  t.is(at1!.status.allocatedIPCount, 3);
  const at2 = await subnetAt(r.daemon, 'subnet-6', grown);
  t.is(at2!.status.allocatedIPCount, 4);
});

test('docs/example/spider-subnet/deploy-use-subnet.yaml: dual-stack auto pools ("+2"), a pod gets IPv4 and IPv6 from them; deleting the Deployment (ippool-reclaim "true") disables them and removes them once the pod\'s addresses are released', async (t) => {
  const r = await rig(t, yamlFile('docs/example/spider-subnet/subnet-demo.yaml'));
  await until('subnets defined', () => r.daemon.allocator.model.subnets.size === 2);
  const [app] = yamlFile('docs/example/spider-subnet/deploy-use-subnet.yaml');
  r.deploy(app!, '5b1d7f3e-9c2a-4e8b-b6d4-c0ffee123456');
  const v4 = 'auto4-demo-deploy-subnet-eth0-c0ffe';
  const v6 = 'auto6-demo-deploy-subnet-eth0-c0ffe';
  await until('both pools', () => r.pool(v4) !== undefined && r.pool(v6) !== undefined);
  t.deepEqual(r.pool(v4)!.ips, ['172.16.41.1-172.16.41.3']);
  t.deepEqual(r.pool(v6)!.ips, ['fc00:f853:ccd:e790:d::1-fc00:f853:ccd:e790:d::3']);
  await r.pod(app!, `demo-deploy-subnet-${HASH}-x1`);
  const a = await r.add(`demo-deploy-subnet-${HASH}-x1`);
  t.is(a.code, 0, JSON.stringify(a.out));
  t.regex(addr(a, 0), /^172\.16\.41\.[1-3]$/);
  t.regex(addr(a, 1), /^fc00:f853:ccd:e790:d::[1-3]$/);

  r.fake.remove('apps/v1', 'Deployment', 'demo-deploy-subnet', 'default');
  await until('disabled while the pod holds its addresses', () => r.pool(v4)?.disable === true && r.pool(v6)?.disable === true).catch((e) => {
    throw new Error(`${(e as Error).message}: ${JSON.stringify([...r.ctl.autoPools!.problems])}`);
  });
  // A new pod of the gone workload is not served from a pool being reclaimed.
  await r.pod(app!, `demo-deploy-subnet-${HASH}-x2`);
  const late = await r.add(`demo-deploy-subnet-${HASH}-x2`);
  t.not(late.code, 0);
  t.is(await r.del(`ctr-demo-deploy-subnet-${HASH}-x1`), 0);
  await until('reclaimed', () => r.pool(v4) === undefined && r.pool(v6) === undefined);
  const log = await r.log();
  for (const p of [v4, v6]) t.deepEqual(poolEvents(log, p), ['PoolDefined', 'PoolCarved', 'PoolChanged', 'PoolCarved', 'PoolRemoved', 'PoolReturned'], p);
  const returned = log.find((e) => e.event.type === 'PoolReturned' && (e.event.data as { pool: string }).pool === v4)!.event.data;
  t.deepEqual(returned, { subnet: 'subnet-demo-v4', pool: v4, ips: ['172.16.41.1-172.16.41.3'] });
  const now = await subnetAt(r.daemon, 'subnet-demo-v4', await r.daemon.store.currentRevision());
  t.falsy(now!.status.controlledIPPools, 'no pool carved any more');
});

test('docs/usage/spider-subnet.md test-app-2: ipam.spidernet.io/subnets gives eth0 and net1 a pool each (default "+1"); each interface is served from its own', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6'), find(page, 'SpiderSubnet', 'subnet-7')]);
  await until('subnets defined', () => r.daemon.allocator.model.subnets.size === 2);
  const app = find(page, 'Deployment', 'test-app-2');
  r.deploy(app, '9d8e7f60-aaaa-bbbb-cccc-440376543210');
  await until('two pools', () => r.pool('auto4-test-app-2-eth0-44037') !== undefined && r.pool('auto4-test-app-2-net1-44037') !== undefined);
  t.deepEqual(r.pool('auto4-test-app-2-eth0-44037')!.ips, ['10.6.168.101-10.6.168.103']);
  t.deepEqual(r.pool('auto4-test-app-2-net1-44037')!.ips, ['10.7.168.101-10.7.168.103']);
  await r.pod(app, `test-app-2-${HASH}-8hxvw`);
  const eth0 = await r.add(`test-app-2-${HASH}-8hxvw`, { ifname: 'eth0', id: 'ctr-m' });
  const net1 = await r.add(`test-app-2-${HASH}-8hxvw`, { ifname: 'net1', id: 'ctr-m' });
  t.is(eth0.code, 0, JSON.stringify(eth0.out));
  t.is(net1.code, 0, JSON.stringify(net1.out));
  t.regex(addr(eth0), /^10\.6\.168\.10[1-3]$/);
  t.regex(addr(net1), /^10\.7\.168\.10[1-3]$/);
});

test('refusals: a bare pod naming a subnet fails with error 7 (upstream: no-controller pod), a workload whose subnet does not exist fails with 11 after the wait; nothing is written', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, []);
  const app = find(page, 'Deployment', 'test-app-1');
  const tpl = (app.spec as any).template;
  r.fake.put({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bare', namespace: 'default', uid: 'uid-bare', labels: tpl.metadata.labels, annotations: tpl.metadata.annotations }, spec: { nodeName: NODE } });
  await until('bare cached', () => r.cache.pods.get('default/bare') !== undefined);
  const before = (await r.log()).length;
  const bare = await r.add('bare');
  t.is(bare.code, 1);
  t.is(bare.out.code, 7);
  t.regex(bare.out.details, /ipam\.spidernet\.io\/subnet: SpiderSubnet feature doesn't support no-controller pod/);
  r.deploy(app, '6f1c2b0e-3d4a-4b5c-9e8f-a5bd3c7e9f10');
  await r.pod(app, `test-app-1-${HASH}-nosub`);
  const started = Date.now();
  const waited = await r.add(`test-app-1-${HASH}-nosub`);
  t.is(waited.out.code, 11, JSON.stringify(waited.out));
  t.regex(waited.out.details, /SpiderSubnet subnet-6 does not exist within 8000 ms/);
  t.true(Date.now() - started >= 7500);
  const after: DomainEvent[] = (await r.log()).map((e) => e.event);
  t.is(after.length, before, 'nothing written');
});

test('two controllers on one etcd: each workload gets exactly one pool and no IP is carved twice (the conditional append re-decides)', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6')]);
  const second = await controller(r.fake, { prefix: r.daemon.prefix, queuePrefix: freshQueuePrefix(), gc: false, statusWriteback: false, sources: false, autoPoolRetryMs: 200 });
  t.teardown(() => second.stop());
  await until('subnet defined', () => r.daemon.allocator.model.subnets.has('subnet-6'));
  const app = find(page, 'Deployment', 'test-app-1');
  // 10 IPs in subnet-6: three apps of 2 replicas "+1" take 9.
  for (const i of [1, 2, 3]) r.deploy({ ...app, metadata: { ...app.metadata, name: `app-${i}` } }, `00000000-0000-0000-0000-00000000000${i}`);
  await until('three pools', () => [1, 2, 3].every((i) => r.pool(`auto4-app-${i}-eth0-00000`)?.ips !== undefined));
  await r.ctl.autoPools!.idle();
  await second.autoPools!.idle();
  const log = await r.log();
  const defined = log.filter((e) => e.event.type === 'PoolDefined').map((e) => (e.event.data as { name: string }).name);
  t.deepEqual([...defined].sort(), ['auto4-app-1-eth0-00000', 'auto4-app-2-eth0-00000', 'auto4-app-3-eth0-00000']);
  const model = r.daemon.allocator.model;
  const sets = [1, 2, 3].map((i) => model.pools.get(`auto4-app-${i}-eth0-00000`)!.compiled.owned);
  for (const s of sets) t.is(s.size(), 3n);
  t.false(sets[0]!.overlaps(sets[1]!) || sets[0]!.overlaps(sets[2]!) || sets[1]!.overlaps(sets[2]!), 'carves are disjoint');
});

test('a pod beyond its auto pool\'s size (a scale-up the controller has not carved yet) waits, and gets the new IP once the pool grows', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6')]);
  await until('subnet defined', () => r.daemon.allocator.model.subnets.has('subnet-6'));
  const app = find(page, 'Deployment', 'test-app-1');
  const uid = '6f1c2b0e-3d4a-4b5c-9e8f-a5bd3c7e9f10';
  r.deploy(app, uid);
  const name = 'auto4-test-app-1-eth0-a5bd3';
  await until('pool of 3', () => r.size(name) === 3);
  const got: string[] = [];
  for (const p of ['p1', 'p2', 'p3']) {
    await r.pod(app, `test-app-1-${HASH}-${p}`);
    const a = await r.add(`test-app-1-${HASH}-${p}`);
    t.is(a.code, 0, JSON.stringify(a.out));
    got.push(addr(a));
  }
  await r.pod(app, `test-app-1-${HASH}-p4`);
  const fourth = r.add(`test-app-1-${HASH}-p4`);
  await new Promise((res) => setTimeout(res, 700));
  t.is(r.size(name), 3, 'still 3 while the fourth ADD waits');
  r.deploy(app, uid, 3);
  const a4 = await fourth;
  t.is(a4.code, 0, JSON.stringify(a4.out));
  t.is(addr(a4), '10.6.168.104');
  t.deepEqual([...got].sort(), ['10.6.168.101', '10.6.168.102', '10.6.168.103']);
});

test('bounded: beyond maxWorkloads per kind a workload is not kept (counted as overflow) and gets no pool; the start-up sweep then reclaims nothing (a workload it cannot see is not gone)', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6')], { autoPools: false });
  await until('subnet defined', () => r.daemon.allocator.model.subnets.has('subnet-6'));
  const app = find(page, 'Deployment', 'test-app-1');
  const tpl = (app.spec as any).template;
  const reclaiming = { ...app, spec: { ...(app.spec as object), template: { ...tpl, metadata: { ...tpl.metadata, annotations: { ...tpl.metadata.annotations, 'ipam.spidernet.io/ippool-reclaim': 'true' } } } } };
  for (const i of [1, 2]) r.deploy({ ...reclaiming, metadata: { ...app.metadata, name: `app-${i}` } }, `00000000-0000-0000-0000-00000000000${i}`);
  const opts = {
    kc: r.fake.kubeConfig(),
    allocator: r.ctl.allocator,
    recorded: () => r.ctl.projections.state(configMetadataProjection),
    waitFor: (rev: number) => r.ctl.projections.waitFor(rev),
    retryMs: 200,
  };
  // Unbounded first: both apps get their pool (ippool-reclaim "false" here is beside the point: made "true").
  const first = new AutoPoolController(opts);
  await first.start();
  await first.stop();
  const autos = () => [...r.ctl.allocator.model.pools.keys()].filter((p) => p.startsWith('auto4-app-')).sort();
  t.deepEqual(autos(), ['auto4-app-1-eth0-00000', 'auto4-app-2-eth0-00000']);
  // Bounded to one Deployment: the second is not kept; its pool is not reclaimed as if it were gone.
  const apc = new AutoPoolController({ ...opts, maxWorkloads: 1 });
  t.teardown(() => apc.stop());
  await apc.start();
  t.is(apc.stats().Deployment.size, 1);
  t.is(apc.stats().Deployment.overflow, 1);
  t.deepEqual(autos(), ['auto4-app-1-eth0-00000', 'auto4-app-2-eth0-00000']);
  t.false(autos().some((p) => r.ctl.allocator.model.pools.get(p)!.compiled.spec.disable === true), 'none disabled');
  r.deploy({ ...reclaiming, metadata: { ...app.metadata, name: 'app-3' } }, '00000000-0000-0000-0000-000000000003');
  await until('overflow counted', () => apc.stats().Deployment.overflow === 2);
  await apc.idle();
  t.deepEqual(autos(), ['auto4-app-1-eth0-00000', 'auto4-app-2-eth0-00000'], 'app-3 gets no pool');
});

test('a CronJob (its pod template: test-app-1\'s from the page) gets one auto pool; its pods, whose controller is a Job "<cronjob>-<minutes>", are served from it', async (t) => {
  const page = heredocs('docs/usage/spider-subnet.md');
  const r = await rig(t, [find(page, 'SpiderSubnet', 'subnet-6')]);
  await until('subnet defined', () => r.daemon.allocator.model.subnets.has('subnet-6'));
  const tpl = (find(page, 'Deployment', 'test-app-1').spec as any).template;
  const cron: FakeObject = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'nightly', namespace: 'default', uid: 'c0c0c0c0-0000-0000-0000-abcdef012345' }, spec: { schedule: '0 3 * * *', jobTemplate: { spec: { template: tpl } } } };
  r.fake.put(cron);
  // One pod per run (no completions, no parallelism), "+1": 2 IPs.
  await until('cron pool', () => r.size('auto4-nightly-eth0-abcde') === 2);
  await r.pod(cron, 'nightly-29163525-x7k2p', { apiVersion: 'batch/v1', kind: 'Job', name: 'nightly-29163525' });
  const a = await r.add('nightly-29163525-x7k2p');
  t.is(a.code, 0, JSON.stringify(a.out));
  t.regex(addr(a), /^10\.6\.168\.10[12]$/);
  t.is((await r.log()).filter((e) => e.event.type === 'IPAllocated').map((e) => (e.event.data as { pool: string }).pool).join(), 'auto4-nightly-eth0-abcde');
});
