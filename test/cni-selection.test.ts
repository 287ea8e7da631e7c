// Pool selection on the CNI path, through the real plugin binary, against the API server double (it says it is one)
// holding Pods, Namespaces and a Node built from Spiderpool's own example manifests (verbatim under
// test/fixtures/upstream/spidernet-io/spiderpool/docs/example, see SOURCE.md there): each level of Spiderpool's
// precedence, multi-NIC, node/namespace/pod affinity from the real labels, requested addresses granted and refused,
// malformed annotations refused with nothing written, and a warm ADD that never asks the API server.
import { readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { join } from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parseAllDocuments } from 'yaml';
import type { DomainEvent } from '../events/catalogue.js';
import { readManifests } from '../src/cli/manifests.js';
import { ClusterCache } from '../src/k8s/cluster-inputs.js';
import { startServe } from '../src/local/serve-process.js';
import { AT, openAllocator, type AllocFixture } from './helpers/alloc.js';
import { pluginBinary, ROOT, runPlugin, startCniServer } from './helpers/cni.js';
import type { FakeObject } from './helpers/fake-apiserver.js';
import { FakeApiServer, until } from './helpers/k8s.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const EXAMPLES = join(ROOT, 'test/fixtures/upstream/spidernet-io/spiderpool/docs/example');
const NODE = 'node-a';

interface Setup {
  fx: AllocFixture;
  fake: FakeApiServer;
  cache: ClusterCache;
  add(o: { pod: string; namespace?: string; ifname?: string; ipam?: Record<string, unknown>; args?: string; runtimeConfig?: Record<string, unknown>; id?: string }): Promise<{ code: number; out: Record<string, any> }>;
  log(): Promise<DomainEvent[]>;
  /** Defines the SpiderIPPools of an upstream example file. */
  pools(file: string): Promise<void>;
  pool(name: string, spec: Record<string, unknown>): Promise<void>;
}

async function setup(t: ExecutionContext, nodeLabels: Record<string, string> = { 'kubernetes.io/hostname': NODE }): Promise<Setup> {
  const bin = pluginBinary();
  const fx = await openAllocator();
  const fake = await FakeApiServer.start();
  fake.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: nodeLabels } });
  for (const ns of ['default', 'test-ns', 'test-ns1']) fake.put(namespace(ns));
  const cache = new ClusterCache(fake.kubeConfig(), { node: NODE, backoffMs: 50 });
  await cache.ready;
  const server = await startCniServer({ allocator: fx.allocator, node: NODE, ready: () => true, cluster: cache });
  t.teardown(async () => {
    await server.close();
    await cache.stop();
    await fake.close();
    await fx.close();
  });
  let n = 0;
  return {
    fx,
    fake,
    cache,
    async add(o) {
      const id = o.id ?? `ctr-${o.pod}-${o.ifname ?? 'eth0'}-${n++}`;
      const conf = { cniVersion: '1.0.0', name: 'macvlan-conf', type: 'macvlan', master: 'eth0', ipam: o.ipam ?? { type: 'ipam-es' }, ...(o.runtimeConfig ? { runtimeConfig: o.runtimeConfig } : {}) };
      const r = await runPlugin(
        bin,
        {
          CNI_COMMAND: 'ADD',
          CNI_PATH: '/opt/cni/bin',
          IPAM_ES_SOCKET: server.socket,
          CNI_CONTAINERID: id,
          CNI_NETNS: `/run/netns/${id}`,
          CNI_IFNAME: o.ifname ?? 'eth0',
          CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${o.namespace ?? 'default'};K8S_POD_NAME=${o.pod};K8S_POD_UID=uid-${o.pod}${o.args ? `;${o.args}` : ''}`,
        },
        JSON.stringify(conf),
      );
      return { code: r.code, out: JSON.parse(r.stdout || '{}') };
    },
    async log() {
      const out: DomainEvent[] = [];
      for await (const e of fx.store.read()) out.push(e.event);
      return out;
    },
    async pools(file) {
      // Spiderpool's webhook infers spec.ipVersion from the subnet, and its parser (net.ParseCIDR) reads "10.6.0.1/16"
      // as the network 10.6.0.0/16; this engine wants both said (the spiderpool branch brings the webhook's rules), so
      // the fixture's spec gets them the way Spiderpool reads it, the rest as written.
      for (const m of readManifests(join(EXAMPLES, file))) {
        const subnet = String(m.spec.subnet);
        const network = subnet.replace(/^(\d+\.\d+)\.\d+\.\d+\/16$/, '$1.0.0/16');
        await fx.allocator.definePool(m.name, { ipVersion: subnet.includes(':') ? 6 : 4, ...m.spec, subnet: network }, { at: AT });
      }
    },
    async pool(name, spec) {
      await fx.allocator.definePool(name, { ipVersion: 4, ...spec }, { at: AT });
    },
  };
}

function namespace(name: string, annotations: Record<string, string> = {}): FakeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name }, annotations } };
}

/** A pod as a Deployment of an upstream example makes it: the template's labels and annotations, verbatim. */
function podOf(file: string, deployment: string, pod: string): FakeObject {
  const docs = parseAllDocuments(readFileSync(join(EXAMPLES, file), 'utf8')).map((d) => d.toJS() as Record<string, any>);
  const d = docs.find((x) => x.metadata.name === deployment);
  if (!d) throw new Error(`no Deployment ${deployment} in ${file}`);
  const hash = '5d8f7c9b4';
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: pod,
      namespace: d.metadata.namespace ?? 'default',
      uid: `uid-${pod}`,
      labels: { ...d.spec.template.metadata.labels, 'pod-template-hash': hash },
      annotations: { ...(d.spec.template.metadata.annotations ?? {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${deployment}-${hash}`, uid: `uid-rs-${deployment}`, controller: true }],
    },
    spec: { nodeName: NODE, ...d.spec.template.spec },
  };
}

function plainPod(name: string, o: { namespace?: string; annotations?: Record<string, string>; labels?: Record<string, string> } = {}): FakeObject {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: o.namespace ?? 'default', uid: `uid-${name}`, labels: o.labels ?? {}, annotations: o.annotations ?? {} }, spec: { nodeName: NODE } };
}

/** Puts objects and waits until the daemon's caches hold them (the CNI route then never waits on the API server). */
async function put(s: Setup, ...objs: FakeObject[]): Promise<void> {
  for (const o of objs) s.fake.put(o);
  await until('caches current', () =>
    objs.every((o) => {
      const rv = o.kind === 'Pod' ? s.cache.pods.get(`${o.metadata.namespace}/${o.metadata.name}`) : o.kind === 'Namespace' ? s.cache.namespaces.get(o.metadata.name) : s.cache.nodes.get(o.metadata.name);
      return rv !== undefined && JSON.stringify(rv).includes(JSON.stringify(o.metadata.labels ?? {}).slice(1, -1));
    }),
  );
}

const ip = (r: { out: Record<string, any> }, i = 0): string => r.out.ips?.[i]?.address;
const addrs = (log: DomainEvent[]) => log.filter((e) => e.type === 'IPAllocated').map((e) => (e.data as { address: string; pool: string }).pool);

test('precedence: pod annotation > namespace default-ipv4-ippool > CNI config (Spiderpool\'s default_ipv4_ippool) > cluster default pools', async (t) => {
  const s = await setup(t);
  await s.pools('basic/custom-ipv4-ippool.yaml');
  // Upstream's ns1-default-ipv4-ippool.yaml overlaps custom-ipv4-ippool (both from 172.18.41.40; one scenario each
  // upstream, and overlapping pools are refused there too): the namespace level gets a pool of the name the upstream
  // namespace patch names, in another subnet.
  await s.pool('ns1-default-ipv4-ippool', { subnet: '172.18.60.0/24', ips: ['172.18.60.40-172.18.60.43'] });
  await s.pool('netconf-v4', { subnet: '172.18.61.0/24', ips: ['172.18.61.10-172.18.61.20'] });
  await s.pool('cluster-default-v4', { subnet: '172.18.62.0/24', ips: ['172.18.62.10-172.18.62.20'], default: true });
  const patch = parseAllDocuments(readFileSync(join(EXAMPLES, 'ippool-namespace/ns1-ippool-selection-patch.yaml'), 'utf8'))[0]!.toJS() as { metadata: { annotations: Record<string, string> } };
  await put(s, namespace('test-ns1', patch.metadata.annotations));
  const spiderpoolConf = { type: 'spiderpool', default_ipv4_ippool: ['netconf-v4'], log_level: 'DEBUG', log_file_path: '/var/log/spidernet/spiderpool.log' };

  // 1. The pod's ipam.spidernet.io/ippool wins over everything below it.
  const annotated = podOf('basic/custom-ippool-deploy.yaml', 'custom-ippool-deploy', 'custom-ippool-deploy-x1');
  annotated.metadata.namespace = 'test-ns1';
  await put(s, annotated);
  const a = await s.add({ pod: 'custom-ippool-deploy-x1', namespace: 'test-ns1', ipam: spiderpoolConf });
  t.is(a.code, 0, JSON.stringify(a.out));
  t.regex(ip(a), /^172\.18\.41\.(4\d|50)\/24$/);
  // 2. No pod annotation: the namespace's default-ipv4-ippool.
  await put(s, podOf('ippool-namespace/ns1-default-ippool-deploy.yaml', 'ns1-default-ippool-deploy', 'ns1-default-ippool-deploy-x1'));
  const b = await s.add({ pod: 'ns1-default-ippool-deploy-x1', namespace: 'test-ns1', ipam: spiderpoolConf });
  t.regex(ip(b), /^172\.18\.60\.4[0-3]\/24$/, JSON.stringify(b.out));
  // 3. A namespace without the annotation: the CNI config's default_ipv4_ippool.
  await put(s, plainPod('plain-1'));
  const c = await s.add({ pod: 'plain-1', ipam: spiderpoolConf });
  t.regex(ip(c), /^172\.18\.61\.\d+\/24$/, JSON.stringify(c.out));
  // 4. Nothing named anywhere: the cluster's default pools.
  await put(s, plainPod('plain-2'));
  const d = await s.add({ pod: 'plain-2', ipam: { type: 'spiderpool' } });
  t.regex(ip(d), /^172\.18\.62\.\d+\/24$/, JSON.stringify(d.out));
  t.deepEqual(addrs(await s.log()), ['custom-ipv4-ippool', 'ns1-default-ipv4-ippool', 'netconf-v4', 'cluster-default-v4']);
  // The owner comes from the cached pod (ReplicaSet "<deployment>-<pod-template-hash>"), with no lookup.
  const first = (await s.log()).find((e) => e.type === 'IPAllocated')!;
  t.deepEqual((first.data as { endpoint: { owner?: unknown } }).endpoint.owner, { kind: 'Deployment', name: 'custom-ippool-deploy' });
});

test('a warm ADD reads the caches only: no request reaches the API server', async (t) => {
  const s = await setup(t);
  await s.pools('basic/custom-ipv4-ippool.yaml');
  await put(s, podOf('basic/custom-ippool-deploy.yaml', 'custom-ippool-deploy', 'warm-1'));
  // Warm: every cache has listed and its watch has reached the server (on a loaded machine a cache's watch request can
  // arrive after the ADD; it is the cache's own traffic, not the ADD's).
  await until('every cache watching', () => ['/api/v1/pods', '/api/v1/namespaces', '/api/v1/nodes'].every((c) => s.fake.watchCount(c) > 0));
  const before = s.fake.requests.length;
  const r = await s.add({ pod: 'warm-1' });
  t.is(r.code, 0, JSON.stringify(r.out));
  t.deepEqual(s.fake.requests.slice(before), []);
  t.is(s.cache.misses(), 0);
});

test('multi-NIC: ipam.spidernet.io/ippools gives each interface its own pool; an interface it does not name is refused, nothing written', async (t) => {
  const s = await setup(t);
  await s.pools('multi-interfaces-annotation/different-segment-ipv4-ippools.yaml');
  await put(s, podOf('multi-interfaces-annotation/ippool-test-deploy.yaml', 'ippool-test-app', 'ippool-test-app-x1'));
  const eth0 = await s.add({ pod: 'ippool-test-app-x1', ifname: 'eth0', id: 'sandbox-1' });
  const net1 = await s.add({ pod: 'ippool-test-app-x1', ifname: 'net1', id: 'sandbox-1' });
  t.regex(ip(eth0), /^10\.6\.168\.(17[6-9]|180)\/16$/, JSON.stringify(eth0.out));
  t.is(eth0.out.ips[0].gateway, '10.6.0.1');
  t.regex(ip(net1), /^10\.7\.168\.(17[6-9]|180)\/16$/, JSON.stringify(net1.out));
  const before = (await s.log()).length;
  const net2 = await s.add({ pod: 'ippool-test-app-x1', ifname: 'net2', id: 'sandbox-1' });
  t.is(net2.code, 1);
  t.like(net2.out, { code: 7, msg: 'invalid pool selection: ipam.spidernet.io/ippools' });
  t.regex(net2.out.details, /interface net2 must be specified/);
  t.is((await s.log()).length, before);
  // Items that name no interface serve eth0, net1, ... in order (how Multus names them).
  await put(s, plainPod('unnamed', { annotations: { 'ipam.spidernet.io/ippools': '[{"ipv4":["ippool-test-ens224"]},{"ipv4":["ippool-test-ens192"],"cleangateway":true}]' } }));
  const u0 = await s.add({ pod: 'unnamed', ifname: 'eth0', id: 'sandbox-2' });
  const u1 = await s.add({ pod: 'unnamed', ifname: 'net1', id: 'sandbox-2' });
  t.regex(ip(u0), /^10\.7\./);
  t.regex(ip(u1), /^10\.6\./);
  t.is(u1.out.ips[0].gateway, undefined, 'cleangateway: no gateway in the result');
});

test('node affinity from this node\'s real labels: the worker pool, then the master pool once the node is labelled', async (t) => {
  const s = await setup(t);
  await s.pools('ippool-affinity-node/master-ipv4-ippool.yaml');
  await s.pools('ippool-affinity-node/worker-ipv4-ippool.yaml');
  await put(s, podOf('ippool-affinity-node/node-affinity-deploy.yaml', 'node-affinity-deploy', 'node-affinity-deploy-x1'));
  const w = await s.add({ pod: 'node-affinity-deploy-x1' });
  t.is(ip(w), '172.18.42.40/24', JSON.stringify(w.out));
  await put(s, { apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE, 'node-role.kubernetes.io/master': '' } } });
  await put(s, podOf('ippool-affinity-node/node-affinity-deploy.yaml', 'node-affinity-deploy', 'node-affinity-deploy-x2'));
  const m = await s.add({ pod: 'node-affinity-deploy-x2' });
  t.is(ip(m), '172.18.41.40/24', JSON.stringify(m.out));
  // Both single-address pools are now used: the next pod is refused as exhausted, not given something else.
  await put(s, podOf('ippool-affinity-node/node-affinity-deploy.yaml', 'node-affinity-deploy', 'node-affinity-deploy-x3'));
  const full = await s.add({ pod: 'node-affinity-deploy-x3' });
  t.is(full.out.code, 101, JSON.stringify(full.out));
  t.regex(full.out.details, /pool master-ipv4-ippool is exhausted .*nodeAffinity does not match node node-a: label node-role.kubernetes.io\/master is present/);
});

test('namespace affinity from the real namespace labels: refused in default, granted in test-ns', async (t) => {
  const s = await setup(t);
  await s.pools('ippool-affnity-namespace/test-ns-ipv4-ippool.yaml');
  await put(s, podOf('ippool-affnity-namespace/different-ns-deploys.yaml', 'default-ns-deploy', 'default-ns-deploy-x1'));
  await put(s, podOf('ippool-affnity-namespace/different-ns-deploys.yaml', 'test-ns-deploy', 'test-ns-deploy-x1'));
  const refused = await s.add({ pod: 'default-ns-deploy-x1' });
  t.is(refused.code, 1);
  t.like(refused.out, { code: 101, msg: 'no pool can serve this pod' });
  t.regex(refused.out.details, /pools from ipam\.spidernet\.io\/ippool: .*namespaceAffinity does not match namespace default: label kubernetes\.io\/metadata\.name=default, want kubernetes\.io\/metadata\.name=test-ns/);
  const granted = await s.add({ pod: 'test-ns-deploy-x1', namespace: 'test-ns' });
  t.regex(ip(granted), /^172\.18\.41\.4[01]\/24$/, JSON.stringify(granted.out));
});

test('pod affinity from the real pod labels: app=static is served, another app is refused', async (t) => {
  const s = await setup(t);
  await s.pools('ippool-affinity-pod/occupied-static-ipv4-ippool.yaml');
  await put(s, podOf('ippool-affinity-pod/occupied-static-ippool-deploy.yaml', 'occupied-static-ippool-deploy', 'occupied-x1'));
  const ok = await s.add({ pod: 'occupied-x1' });
  t.regex(ip(ok), /^172\.18\.41\.4[0-3]\/24$/, JSON.stringify(ok.out));
  const other = podOf('ippool-affinity-pod/occupied-static-ippool-deploy.yaml', 'occupied-static-ippool-deploy', 'occupied-x2');
  other.metadata.labels = { app: 'other' };
  await put(s, other);
  const no = await s.add({ pod: 'occupied-x2' });
  t.like(no.out, { code: 101 });
  t.regex(no.out.details, /podAffinity does not match the pod: label app=other, want app=static/);
});

test('requested addresses: Calico ipAddrs, the ips capability and the IP argument get exactly that address; taken, outside or wrong prefix are refused', async (t) => {
  const s = await setup(t);
  await s.pools('basic/custom-ipv4-ippool.yaml');
  await s.pool('other-v4', { subnet: '10.50.0.0/24', ips: ['10.50.0.10-10.50.0.20'], default: true });
  await put(
    s,
    plainPod('calico-1', { annotations: { 'cni.projectcalico.org/ipv4pools': '["custom-ipv4-ippool"]', 'cni.projectcalico.org/ipAddrs': '["172.18.41.45"]' } }),
    plainPod('cidr-1', { annotations: { 'cni.projectcalico.org/ipv4pools': '["172.18.41.0/24"]' } }),
    plainPod('static-1', { annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["custom-ipv4-ippool"]}' } }),
    plainPod('static-2', { annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["custom-ipv4-ippool"]}' } }),
    plainPod('thief', { annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["custom-ipv4-ippool"]}', 'cni.projectcalico.org/ipAddrs': '["172.18.41.45"]' } }),
    plainPod('outside', { annotations: { 'ipam.spidernet.io/ippool': '{"ipv4":["custom-ipv4-ippool"]}' } }),
  );
  const c = await s.add({ pod: 'calico-1' });
  t.is(ip(c), '172.18.41.45/24', JSON.stringify(c.out));
  const rc = await s.add({ pod: 'static-1', runtimeConfig: { ips: ['172.18.41.46/24'] } });
  t.is(ip(rc), '172.18.41.46/24', JSON.stringify(rc.out));
  const arg = await s.add({ pod: 'static-2', args: 'IP=172.18.41.47' });
  t.is(ip(arg), '172.18.41.47/24', JSON.stringify(arg.out));
  const cidr = await s.add({ pod: 'cidr-1' });
  t.regex(ip(cidr), /^172\.18\.41\./, 'a CIDR in ipv4pools names the pool of that subnet');
  const before = (await s.log()).length;
  const taken = await s.add({ pod: 'thief' });
  t.like(taken.out, { code: 103, msg: 'requested address unavailable' });
  t.regex(taken.out.details, /172\.18\.41\.45 in pool custom-ipv4-ippool is already allocated to default\/calico-1 \(eth0\); no other address is given instead/);
  const out = await s.add({ pod: 'outside', runtimeConfig: { ips: ['10.50.0.15/24'] } });
  t.like(out.out, { code: 103 });
  t.regex(out.out.details, /10\.50\.0\.15 is not inside any IPv4 pool allowed for default\/outside/);
  const prefix = await s.add({ pod: 'outside', runtimeConfig: { ips: ['172.18.41.48/16'] } });
  t.like(prefix.out, { code: 7, msg: 'invalid requested address: runtimeConfig.ips' });
  const bad = await s.add({ pod: 'outside', args: 'IP=172.18.41.300' });
  t.like(bad.out, { code: 7, msg: 'invalid network configuration: CNI_ARGS IP' });
  t.is((await s.log()).length, before, 'refusals wrote nothing');
});

test('malformed or unknown: the ADD fails with CNI error 7 naming the annotation and the reason, and nothing is written', async (t) => {
  const s = await setup(t);
  await s.pools('basic/custom-ipv4-ippool.yaml');
  const cases: [string, Record<string, string>, RegExp][] = [
    ['bad-json', { 'ipam.spidernet.io/ippool': '{"ipv4": ["custom-ipv4-ippool"' }, /ipam\.spidernet\.io\/ippool: invalid format of the annotation/],
    ['bad-type', { 'ipam.spidernet.io/ippool': '{"ipv4": "custom-ipv4-ippool"}' }, /ipam\.spidernet\.io\/ippool: ipv4 must be a list of strings/],
    ['unknown-pool', { 'ipam.spidernet.io/ippool': '{"ipv4": ["no-such-pool"]}' }, /ipam\.spidernet\.io\/ippool: failed to get original IPPool no-such-pool: pool no-such-pool does not exist/],
    ['mixed-nics', { 'ipam.spidernet.io/ippools': '[{"interface":"eth0","ipv4":["custom-ipv4-ippool"]},{"ipv4":["custom-ipv4-ippool"]}]' }, /NIC should be either all specified or all unspecified/],
    ['dup-pool', { 'ipam.spidernet.io/ippool': '{"ipv4": ["custom-ipv4-ippool", "custom-*"]}' }, /duplicate IPv4 IPPool custom-ipv4-ippool specified/],
    // Auto pools are per workload (test/cni-auto-pool): a pod without a controller naming a subnet is refused as upstream refuses it.
    ['subnet', { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-a"]}' }, /ipam\.spidernet\.io\/subnet: SpiderSubnet feature doesn't support no-controller pod/],
    ['subnet-bad-number', { 'ipam.spidernet.io/subnet': '{"ipv4":["subnet-a"]}', 'ipam.spidernet.io/ippool-ip-number': '+x' }, /ipam\.spidernet\.io\/ippool-ip-number: invalid input '\+x'/],
    ['calico-no-ipam', { 'cni.projectcalico.org/ipAddrsNoIpam': '["172.18.41.44"]' }, /cni\.projectcalico\.org\/ipAddrsNoIpam: bypasses IPAM/],
    ['calico-two-v4', { 'cni.projectcalico.org/ipAddrs': '["172.18.41.44","172.18.41.45"]' }, /cannot have more than one IPv4 address/],
  ];
  for (const [name, annotations] of cases) await put(s, plainPod(name, { annotations }));
  await put(s, namespace('test-ns', { 'ipam.spidernet.io/default-ipv4-ippool': 'custom-ipv4-ippool' }));
  await put(s, plainPod('ns-bad', { namespace: 'test-ns' }));
  const before = await s.log();
  for (const [name, , want] of cases) {
    const r = await s.add({ pod: name });
    t.is(r.code, 1, name);
    t.is(r.out.code, 7, `${name}: ${JSON.stringify(r.out)}`);
    t.regex(r.out.details, want, name);
    t.regex(r.out.details, /nothing was allocated/, name);
  }
  const ns = await s.add({ pod: 'ns-bad', namespace: 'test-ns' });
  t.like(ns.out, { code: 7 });
  t.regex(ns.out.details, /ipam\.spidernet\.io\/default-ipv4-ippool: invalid format of the annotation/);
  t.deepEqual(await s.log(), before, 'nothing written');
  // A wildcard that is well-formed expands over the pools of that family.
  await put(s, plainPod('wild', { annotations: { 'ipam.spidernet.io/ippool': '{"ipv4": ["custom-*"]}' } }));
  const w = await s.add({ pod: 'wild' });
  t.regex(ip(w), /^172\.18\.41\./, JSON.stringify(w.out));
});

test('a pod the caches do not hold yet is fetched once; one the API server does not know fails with error 11 naming it', async (t) => {
  const s = await setup(t);
  await s.pools('basic/custom-ipv4-ippool.yaml');
  const r = await s.add({ pod: 'ghost' });
  t.like(r.out, { code: 11, msg: "cannot read the pod's selection inputs" });
  t.regex(r.out.details, /pod default\/ghost \(uid uid-ghost\): is not in this daemon's cache of pods on its node, and the API server does not know it either \(404\)/);
  t.deepEqual((await s.log()).filter((e) => e.type === 'IPAllocated'), []);
});

test('the real `ipam serve --kubeconfig`: its CNI route asks its caches (pod annotation + node affinity), and without --kubeconfig it works as before', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const fx = await openAllocator(prefix);
  const fake = await FakeApiServer.start();
  const kubeconfig = fake.kubeConfigFile();
  t.teardown(async () => {
    await fake.close();
    await fx.close();
    rmSync(kubeconfig, { force: true });
  });
  for (const m of readManifests(join(EXAMPLES, 'ippool-affinity-node/worker-ipv4-ippool.yaml'))) await fx.allocator.definePool(m.name, { ipVersion: 4, ...m.spec }, { at: AT });
  await fx.allocator.definePool('plain-v4', { ipVersion: 4, subnet: '10.77.0.0/24', ips: ['10.77.0.10-10.77.0.20'] }, { at: AT });
  fake.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } });
  fake.put(namespace('default'));
  fake.put(podOf('ippool-affinity-node/node-affinity-deploy.yaml', 'node-affinity-deploy', 'node-affinity-deploy-e2e'));
  const daemon = await startServe({ endpoints, prefix, node: NODE, kubeconfig });
  t.teardown(() => daemon.stop());
  const plain = await startServe({ endpoints, prefix, node: NODE });
  t.teardown(() => plain.stop());
  const env = (socket: string, pod: string) => ({
    CNI_COMMAND: 'ADD',
    CNI_PATH: '/opt/cni/bin',
    IPAM_ES_SOCKET: socket,
    CNI_CONTAINERID: `c-${pod}`,
    CNI_NETNS: `/run/netns/c-${pod}`,
    CNI_IFNAME: 'eth0',
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${pod}`,
  });
  const conf = (ipam: Record<string, unknown>) => JSON.stringify({ cniVersion: '1.0.0', name: 'macvlan-conf', type: 'macvlan', ipam });
  // The ippool annotation names master-ipv4-ippool (absent here) and worker-ipv4-ippool; the node is a worker.
  const r = await runPlugin(pluginBinary(), env(daemon.socket, 'node-affinity-deploy-e2e'), conf({ type: 'spiderpool' }));
  const out = JSON.parse(r.stdout);
  // master-ipv4-ippool does not exist in this run: the annotation names it, so the ADD is refused naming it.
  t.is(out.code, 7, r.stdout);
  t.regex(out.details, /ipam\.spidernet\.io\/ippool: failed to get original IPPool master-ipv4-ippool/);
  for (const m of readManifests(join(EXAMPLES, 'ippool-affinity-node/master-ipv4-ippool.yaml'))) await fx.allocator.definePool(m.name, { ipVersion: 4, ...m.spec }, { at: AT });
  await until('daemon sees the pool', async () => {
    const again = JSON.parse((await runPlugin(pluginBinary(), env(daemon.socket, 'node-affinity-deploy-e2e'), conf({ type: 'spiderpool' }))).stdout);
    if (again.code === 7) return false;
    t.deepEqual(again.ips, [{ address: '172.18.42.40/24', gateway: '172.18.42.1' }], JSON.stringify(again));
    return true;
  });
  // Without --kubeconfig: no cluster is read; the config's pools serve as before.
  const p = JSON.parse((await runPlugin(pluginBinary(), env(plain.socket, 'anything'), conf({ type: 'ipam-es', pools: { ipv4: ['plain-v4'] } }))).stdout);
  t.regex(p.ips[0].address, /^10\.77\.0\.\d+\/24$/, JSON.stringify(p));
});

/** GET on a daemon's HTTPS API with its token and CA. */
function httpsGet(d: { url: string; ca: string; token: string }, path: string): Promise<{ status: number; body: string }> {
  return new Promise((ok, fail) => {
    https
      .get(`${d.url}${path}`, { ca: d.ca, headers: { authorization: `Bearer ${d.token}` } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
      })
      .on('error', fail);
  });
}

test('the caches\' liveness: /readyz waits for their first sync (naming the caches), /metrics shows synced, last event age, relists, restarts, objects, misses', async (t) => {
  const { endpoints } = await sharedEtcd();
  const fake = await FakeApiServer.start();
  const kubeconfig = fake.kubeConfigFile();
  t.teardown(async () => {
    await fake.close();
    rmSync(kubeconfig, { force: true });
  });
  fake.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE, labels: { 'kubernetes.io/hostname': NODE } } });
  fake.put(namespace('default'));
  // The API server answers nothing but 500s at first: the caches restart with backoff and have not synced.
  fake.failNextRequests = 1_000_000;
  const daemon = await startServe({ endpoints, prefix: freshPrefix(), node: NODE, kubeconfig });
  t.teardown(() => daemon.stop());
  await until('etcd side ready, caches not synced', async () => {
    const r = await httpsGet(daemon, '/readyz');
    return r.status === 503 && /cluster caches not synced yet \(pods, namespaces, node\)/.test(r.body);
  });
  const before = (await httpsGet(daemon, '/metrics')).body;
  t.regex(before, /ipam_cluster_cache_synced\{cache="pods"\} 0/);
  await until('a restart counted', async () => /ipam_cluster_cache_restarts_total\{cache="pods"\} [1-9]/.test((await httpsGet(daemon, '/metrics')).body));
  fake.failNextRequests = 0;
  await until('ready once synced', async () => (await httpsGet(daemon, '/readyz')).status === 200, 30_000);
  const m = (await httpsGet(daemon, '/metrics')).body;
  for (const cache of ['pods', 'namespaces', 'node']) {
    t.regex(m, new RegExp(`ipam_cluster_cache_synced\\{cache="${cache}"\\} 1`), cache);
    t.regex(m, new RegExp(`ipam_cluster_cache_relists_total\\{cache="${cache}"\\} [1-9]`), cache);
    const age = Number(new RegExp(`ipam_cluster_cache_last_event_age_seconds\\{cache="${cache}"\\} ([0-9.e-]+)`).exec(m)?.[1]);
    t.true(age >= 0 && age < 60, `${cache} age ${age}`);
  }
  t.regex(m, /ipam_cluster_cache_objects\{cache="node"\} 1/);
  t.regex(m, /ipam_cluster_cache_objects\{cache="namespaces"\} 1/);
  t.regex(m, /ipam_cluster_cache_overflow_total\{cache="pods"\} 0/);
  t.regex(m, /ipam_cluster_cache_misses_total 0/);
});
