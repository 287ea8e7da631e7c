// The CNI plugin binary against createCniRoute on a unix socket, with a real allocator on a real etcd: every
// command, its result or error JSON, and what it wrote to the log (bad input writes nothing).
import test from 'ava';
import type { DomainEvent } from '../events/catalogue.js';
import { SUPPORTED_VERSIONS } from '../src/cni/protocol.js';
import { cniSocketRoute } from '../src/cni/daemon-route.js';
import { AT, openAllocator, type AllocFixture } from './helpers/alloc.js';
import { pluginBinary, runPlugin, startCniServer, type CniServer } from './helpers/cni.js';
import { call as daemonCall, startDaemon } from './helpers/daemon.js';

interface Setup {
  fx: AllocFixture;
  server: CniServer;
  ready: { value: boolean };
  call(command: string, conf: Record<string, unknown>, env?: Record<string, string>): Promise<{ code: number; out: Record<string, unknown> | undefined }>;
  log(): Promise<DomainEvent[]>;
}

async function setup(node = 'node-a'): Promise<Setup> {
  const bin = pluginBinary();
  const fx = await openAllocator();
  const ready = { value: true };
  const server = await startCniServer({ allocator: fx.allocator, node, ready: () => ready.value });
  return {
    fx,
    server,
    ready,
    async call(command, conf, env = {}) {
      const r = await runPlugin(bin, { CNI_COMMAND: command, CNI_PATH: '/opt/cni/bin', IPAM_ES_SOCKET: server.socket, ...env }, JSON.stringify(conf));
      return { code: r.code, out: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
    },
    async log() {
      const out: DomainEvent[] = [];
      for await (const e of fx.store.read()) out.push(e.event);
      return out;
    },
  };
}

const attach = (id: string, pod: string, ifname = 'net1') => ({
  CNI_CONTAINERID: id,
  CNI_NETNS: `/run/netns/${id}`,
  CNI_IFNAME: ifname,
  CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=${pod};K8S_POD_UID=uid-${pod};K8S_POD_INFRA_CONTAINER_ID=${id}`,
});
const net = (ipam: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'macvlan-a', type: 'macvlan', master: 'eth0', ipam: { type: 'ipam-es', ...ipam }, ...extra });

test('VERSION is answered by the binary itself, with the versions the daemon speaks', async (t) => {
  const r = await runPlugin(pluginBinary(), { CNI_COMMAND: 'VERSION', IPAM_ES_SOCKET: '/nonexistent/ipam.sock' }, '{"cniVersion":"0.4.0"}');
  t.is(r.code, 0);
  t.deepEqual(JSON.parse(r.stdout), { cniVersion: '0.4.0', supportedVersions: [...SUPPORTED_VERSIONS] });
});

test('daemon unreachable: error 11 (try again later) for ADD, 50 (not available) for STATUS', async (t) => {
  const env = { IPAM_ES_SOCKET: '/nonexistent/ipam.sock', ...attach('c1', 'p1') };
  const add = await runPlugin(pluginBinary(), { CNI_COMMAND: 'ADD', ...env }, JSON.stringify(net({ range: '10.1.0.0/24' })));
  t.is(add.code, 1);
  t.like(JSON.parse(add.stdout), { cniVersion: '1.0.0', code: 11, msg: 'the ipam-es daemon is unreachable' });
  t.regex(JSON.parse(add.stdout).details, /\/nonexistent\/ipam\.sock/);
  const status = await runPlugin(pluginBinary(), { CNI_COMMAND: 'STATUS', IPAM_ES_SOCKET: '/nonexistent/ipam.sock' }, JSON.stringify(net({ range: '10.1.0.0/24' }, { cniVersion: '1.1.0' })));
  t.like(JSON.parse(status.stdout), { code: 50 });
});

test('ADD with a Whereabouts range: pool defined on first use, result, pod identity in the log; retried ADD, DEL, repeated DEL', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  const conf = net({ range: '10.20.0.0/24', range_start: '10.20.0.10', gateway: '10.20.0.1', routes: [{ dst: '10.30.0.0/16', gw: '10.20.0.254' }], dns: { nameservers: ['10.20.0.2'] } });
  const add = await s.call('ADD', conf, attach('ctr-1', 'web-1'));
  t.is(add.code, 0, JSON.stringify(add.out));
  t.deepEqual(add.out, { cniVersion: '1.0.0', ips: [{ address: (add.out?.ips as { address: string }[])[0]!.address, gateway: '10.20.0.1' }], routes: [{ dst: '10.30.0.0/16', gw: '10.20.0.254' }], dns: { nameservers: ['10.20.0.2'] } });
  const address = (add.out?.ips as { address: string }[])[0]!.address;
  t.regex(address, /^10\.20\.0\.\d+\/24$/);
  t.true(Number(address.split('.')[3]!.split('/')[0]) >= 10, 'from range_start on');

  const again = await s.call('ADD', conf, attach('ctr-1', 'web-1'));
  t.deepEqual(again.out, add.out, 'a retried ADD gets the same address');

  let log = await s.log();
  t.deepEqual(log.map((e) => e.type), ['PoolDefined', 'IPAllocated']);
  const allocated = log[1]!;
  t.like(allocated.type === 'IPAllocated' ? allocated.data : {}, { pool: '10.20.0.0-24', address: address.split('/')[0], endpoint: { namespace: 'team-a', name: 'web-1', uid: 'uid-web-1', containerID: 'ctr-1', node: 'node-a', nic: 'net1' } });

  const del = await s.call('DEL', conf, attach('ctr-1', 'web-1'));
  t.deepEqual(del, { code: 0, out: undefined });
  log = await s.log();
  t.like(log[2], { type: 'IPReleased', data: { address: address.split('/')[0], reason: 'cni-del' } });
  t.deepEqual(await s.call('DEL', conf, attach('ctr-1', 'web-1')), { code: 0, out: undefined }, 'DEL again is success');
  t.is((await s.log()).length, 3, 'and writes nothing');
});

test('bad input: a CNI error naming the field, and nothing written', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  const cases: [Record<string, unknown>, Record<string, string>, number, RegExp][] = [
    [net({ range: '10.21.0.0/24', range_start: 5 }), attach('c1', 'p1'), 7, /ipam\.range_start.*must be a string/],
    [net({ range: '10.21.0.0/24', bogus: true }), attach('c1', 'p1'), 2, /ipam\.bogus/],
    [net({ pools: { ipv4: ['missing-pool'] } }), attach('c1', 'p1'), 7, /ipam\.pools\.ipv4\[0\].*missing-pool does not exist/],
    [{ ...net({ range: '10.21.0.0/24' }), cniVersion: '0.2.0' }, attach('c1', 'p1'), 1, /0\.2\.0/],
    [net({ range: '10.21.0.0/24' }), { ...attach('c1', 'p1'), CNI_IFNAME: '' }, 4, /CNI_IFNAME/],
    [net({ range: '10.21.0.0/24' }), { ...attach('c1', 'p1'), CNI_ARGS: 'K8S_POD_NAME' }, 4, /CNI_ARGS/],
  ];
  for (const [conf, env, code, field] of cases) {
    const r = await s.call('ADD', conf, env);
    t.is(r.code, 1);
    t.is(r.out?.code, code, JSON.stringify(r.out));
    t.regex(`${String(r.out?.msg)} ${String(r.out?.details)}`, field);
  }
  const bin = pluginBinary();
  const garbled = await runPlugin(bin, { CNI_COMMAND: 'ADD', IPAM_ES_SOCKET: s.server.socket, ...attach('c1', 'p1') }, '{"cniVersion": ');
  t.like(JSON.parse(garbled.stdout), { code: 6 });
  t.deepEqual(await s.log(), [], 'nothing written');

  // Two networks on one /24 with different windows share its IPPool (Whereabouts names the pool by its range).
  t.like((await s.call('ADD', net({ range: '10.21.0.0/24' }), attach('c2', 'p2'))).out, { ips: [{ address: '10.21.0.1/24' }] });
  const other = await s.call('ADD', net({ range: '10.21.0.0/24', range_end: '10.21.0.50' }), attach('c3', 'p3'));
  t.like(other.out, { ips: [{ address: '10.21.0.2/24' }] });
  t.deepEqual((await s.log()).slice(0, 3).map((e) => e.type), ['PoolDefined', 'IPAllocated', 'IPAllocated']);
  // Whereabouts' CNI_ARGS IP and GATEWAY: static addresses after the range's, each gateway on the addresses holding it.
  const withArgs = await s.call('ADD', net({ range: '10.21.0.0/24' }), { ...attach('c5', 'p5'), CNI_ARGS: 'K8S_POD_NAMESPACE=team-a;K8S_POD_NAME=p5;IP=10.30.0.5/24,fd00:30::5/64;GATEWAY=10.30.0.1' });
  t.deepEqual(withArgs.out?.ips, [{ address: '10.21.0.3/24' }, { address: '10.30.0.5/24', gateway: '10.30.0.1' }, { address: 'fd00:30::5/64' }]);
  const badArgs = await s.call('ADD', net({ range: '10.21.0.0/24' }), { ...attach('c6', 'p6'), CNI_ARGS: 'K8S_POD_NAME=p6;IP=10.30.0.5' });
  t.like(badArgs.out, { code: 4, details: 'CNI_ARGS IP[0]: invalid CIDR 10.30.0.5' });
  // A Whereabouts range overlapping a SpiderIPPool of its scope is refused, with a hint that fits the config.
  await s.fx.allocator.definePool('sp-a', { ipVersion: 4, subnet: '10.60.0.0/24', ips: ['10.60.0.10-10.60.0.20'] }, { at: AT });
  await s.fx.allocator.definePool('sp-b', { ipVersion: 4, subnet: '10.61.0.0/24', ips: ['10.61.0.10-10.61.0.20'], scope: 'blue' }, { at: AT });
  const unnamed = await s.call('ADD', net({ range: '10.60.0.0/24' }), attach('c7', 'p7'));
  t.like(unnamed.out, { code: 7, msg: 'invalid network configuration: ipam.range' });
  t.regex(String(unnamed.out?.details), /overlaps pool sp-a .* in address scope default \(that pool is not a Whereabouts pool.*set ipam\.network_name/);
  const named = await s.call('ADD', net({ range: '10.61.0.0/24', network_name: 'blue' }), attach('c8', 'p8'));
  t.regex(String(named.out?.details), /overlaps pool sp-b .* in address scope blue \(.*use another network_name than blue\)/);
  // A pool of that name an admin defined for another subnet is never redefined from a CNI call.
  await s.fx.allocator.definePool('10.23.0.0-24', { ipVersion: 4, subnet: '10.99.0.0/24', ips: ['10.99.0.1'] }, { at: AT });
  const clash = await s.call('ADD', net({ range: '10.23.0.0/24' }), attach('c4', 'p4'));
  t.like(clash.out, { code: 7, msg: 'invalid network configuration: ipam.range' });
  t.regex(String(clash.out?.details), /pool 10\.23\.0\.0-24 already exists for subnet 10\.99\.0\.0\/24/);
});

test('named pools, dual stack: one address per family; exhausted pools give error 100 and fail STATUS with 50', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  await s.fx.allocator.definePool('v4', { ipVersion: 4, subnet: '10.40.0.0/29', ips: ['10.40.0.2-10.40.0.3'], gateway: '10.40.0.1', routes: [{ dst: '10.41.0.0/16', gw: '10.40.0.1' }] }, { at: AT });
  await s.fx.allocator.definePool('v6', { ipVersion: 6, subnet: 'fd00:40::/120', ips: ['fd00:40::10-fd00:40::20'] }, { at: AT });
  const conf = net({ pools: { ipv4: ['v4'], ipv6: ['v6'] }, routes: [{ dst: '0.0.0.0/0' }] }, { cniVersion: '1.1.0' });
  t.deepEqual(await s.call('STATUS', conf), { code: 0, out: undefined });
  const a = await s.call('ADD', conf, attach('c1', 'p1'));
  t.is(a.code, 0, JSON.stringify(a.out));
  const ips = a.out?.ips as { address: string; gateway?: string }[];
  t.is(ips.length, 2);
  t.regex(ips[0]!.address, /^10\.40\.0\.[23]\/29$/);
  t.is(ips[0]!.gateway, '10.40.0.1');
  t.regex(ips[1]!.address, /^fd00:40::[0-9a-f]+\/120$/);
  t.deepEqual(a.out?.routes, [{ dst: '10.41.0.0/16', gw: '10.40.0.1' }, { dst: '0.0.0.0/0' }]);
  t.is((await s.call('ADD', conf, attach('c2', 'p2'))).code, 0);
  const full = await s.call('ADD', conf, attach('c3', 'p3'));
  t.like(full.out, { cniVersion: '1.1.0', code: 100, msg: 'no free address' });
  const status = await s.call('STATUS', conf);
  t.like(status.out, { code: 50 });
  t.regex(String(status.out?.details), /no IPv4 pool can allocate: v4 is exhausted \(2\/2 allocated\)/);
  t.like((await s.call('STATUS', net({ pools: { ipv4: ['nope'] } }, { cniVersion: '1.1.0' }))).out, { code: 50, details: 'no IPv4 pool can allocate: nope does not exist' });
});

test('CHECK: passes for a held attachment listed in prevResult, fails (102) otherwise', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  const conf = net({ range: '10.50.0.0/24' });
  const add = await s.call('ADD', conf, attach('c1', 'p1'));
  const prevResult = { ...add.out, interfaces: [{ name: 'net1', sandbox: '/run/netns/c1' }] };
  t.deepEqual(await s.call('CHECK', { ...conf, prevResult }, attach('c1', 'p1')), { code: 0, out: undefined });
  const unknown = await s.call('CHECK', { ...conf, prevResult }, attach('c9', 'p9'));
  t.like(unknown.out, { code: 102 });
  t.regex(String(unknown.out?.details), /container c9 interface net1 holds no address/);
  const wrong = await s.call('CHECK', { ...conf, prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.50.0.250/24' }] } }, attach('c1', 'p1'));
  t.like(wrong.out, { code: 102 });
  t.regex(String(wrong.out?.details), /which prevResult\.ips does not list \(it lists 10\.50\.0\.250\/24\)/);
});

test('GC releases this node\'s attachments of this network that the runtime no longer lists, and nothing else', async (t) => {
  const s = await setup('node-a');
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  const other = await startCniServer({ allocator: s.fx.allocator, node: 'node-b', ready: () => true });
  t.teardown(() => other.close());
  const conf = net({ range: '10.60.0.0/24' }, { cniVersion: '1.1.0' });
  const elsewhere = net({ range: '10.61.0.0/24' }, { cniVersion: '1.1.0', name: 'other-net' });
  for (const id of ['keep', 'stale-1', 'stale-2']) t.is((await s.call('ADD', conf, attach(id, id))).code, 0);
  t.is((await s.call('ADD', elsewhere, attach('other-net-pod', 'x'))).code, 0);
  const onB = await runPlugin(pluginBinary(), { CNI_COMMAND: 'ADD', IPAM_ES_SOCKET: other.socket, ...attach('on-node-b', 'b') }, JSON.stringify(conf));
  t.is(onB.code, 0, onB.stdout);

  const gc = await s.call('GC', { ...conf, 'cni.dev/valid-attachments': [{ containerID: 'keep', ifname: 'net1' }] }, {});
  t.deepEqual(gc, { code: 0, out: undefined });
  const released = (await s.log()).filter((e) => e.type === 'IPReleased');
  t.deepEqual(released.map((e) => (e.type === 'IPReleased' ? `${e.data.endpoint.containerID} ${e.data.reason}` : '')).sort(), ['stale-1 orphan', 'stale-2 orphan']);
  t.like((await s.call('GC', conf, {})).out, { code: 7 }, 'GC without the valid list is refused, not "release all"');
});

test('not ready: ADD answers 11 and STATUS 50, writing nothing', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  s.ready.value = false;
  t.like((await s.call('ADD', net({ range: '10.70.0.0/24' }), attach('c1', 'p1'))).out, { code: 11, msg: 'the ipam-es daemon is not ready' });
  t.like((await s.call('STATUS', net({ range: '10.70.0.0/24' }, { cniVersion: '1.1.0' }))).out, { code: 50 });
  t.deepEqual(await s.log(), []);
});

test('concurrent first ADDs on a new range define its pool once and get distinct addresses', async (t) => {
  const s = await setup();
  t.teardown(() => s.server.close().then(() => s.fx.close()));
  const conf = net({ range: '10.80.0.0/24' });
  const results = await Promise.all(Array.from({ length: 12 }, (_, i) => s.call('ADD', conf, attach(`c${i}`, `p${i}`))));
  t.true(results.every((r) => r.code === 0), JSON.stringify(results.find((r) => r.code !== 0)));
  const addresses = results.map((r) => (r.out?.ips as { address: string }[])[0]!.address);
  t.is(new Set(addresses).size, 12);
  t.is((await s.log()).filter((e) => e.type === 'PoolDefined').length, 1);
});

test('the daemon serves the CNI route on its unix socket only, not on TCP', async (t) => {
  const d = await startDaemon({ node: 'node-d', extra: { socketRoutes: [cniSocketRoute] } });
  t.teardown(() => d.close());
  // Under load the daemon's first readiness probe may time out (the plugin then gets 11); wait as kubelet would.
  for (let i = 0; i < 100 && !d.daemon.readiness.ready; i++) await new Promise((r) => setTimeout(r, 100));
  t.true(d.daemon.readiness.ready, d.daemon.readiness.reason);
  const add = await runPlugin(pluginBinary(), { CNI_COMMAND: 'ADD', IPAM_ES_SOCKET: d.socket, ...attach('c1', 'p1') }, JSON.stringify(net({ range: '10.90.0.0/24' })));
  t.is(add.code, 0, add.stdout);
  t.regex(JSON.parse(add.stdout).ips[0].address, /^10\.90\.0\.\d+\/24$/);
  const tcp = await daemonCall(d, 'POST', '/v1/cni', { raw: '{}', headers: { 'cni-command': 'STATUS' } });
  t.is(tcp.status, 404);
  t.is(tcp.headers['cni-exit-code'], undefined);
});
