// Whereabouts' own configurations (README, doc/, pkg/config tests, cmd tests, e2e NADs; copied verbatim, see
// test/fixtures/upstream/k8snetworkplumbingwg/whereabouts/SOURCE.md) through the real plugin binary and the real
// daemon: ADD, CHECK, DEL, ADD again, asserting what Whereabouts gives (its tests' assertions where they exist).
// Several go through Debian's macvlan into network namespaces made here (a dummy master in a "host" namespace).
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import test from 'ava';
import { startServe, type ServeProcess } from '../src/local/serve-process.js';
import { pluginBinary, runPlugin } from './helpers/cni.js';
import { call } from './helpers/daemon.js';
import { ip, Netns } from './helpers/netns.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';
import { asPluginConf, firstObject, goConfig, goTemplate, markdownBlock, nadConfig, readFixture, type NetConf } from './helpers/upstream-whereabouts.js';

const run = promisify(execFile);
const KUBECONFIG = '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig';
/** configureBackend(tmpDir) and the kubeConfigPath the cmd tests pass. */
const BACKEND = `"kubernetes": {"kubeconfig": "${KUBECONFIG}"}`;
const CMD = 'cmd/whereabouts_test.go';
const CONFIG = 'pkg/config/config_test.go';
const E2E = 'e2e/util/util.go';

type Ip = readonly [address: string, gateway?: string];
interface Outcome {
  readonly ips?: readonly Ip[];
  readonly routes?: readonly unknown[];
  readonly dns?: Readonly<Record<string, unknown>>;
  /** A refusal: CNI code and the field (or text) it names. */
  readonly code?: number;
  readonly names?: RegExp;
}
interface Case {
  readonly name: string;
  readonly conf: () => NetConf;
  readonly expect: Outcome;
  /** Also through Debian's macvlan into a namespace (the result must be one macvlan can apply). */
  readonly macvlan?: boolean;
}

const md = (file: string, n: number) => markdownBlock(file, n);
const cmd = (title: string, k = 0, args: string[] = [BACKEND]) => goConfig(CMD, title, k, args);
/** The cmd tests' ipamConfig()+newCNINetConf(): a config built from the test's ipRange and gateway strings. */
const cmdStruct = (ipRange: string, gw: string): string => {
  const src = readFixture(CMD);
  if (!src.includes(`"${ipRange}"`) || !src.includes(`"${gw}"`)) throw new Error(`${ipRange} / ${gw} not in ${CMD}`);
  return JSON.stringify({ cniVersion: '0.3.1', name: 'net', ipam: { type: 'whereabouts', range: ipRange, gateway: gw, kubernetes: { kubeconfig: KUBECONFIG } } });
};
const e2eNad = (range: string, ipRanges: string, network: string, overlapping: string) => goTemplate(E2E, 'MacvlanNetworkWithWhereaboutsIPAMNetwork', [range, ipRanges, network, overlapping]);

const CASES: readonly Case[] = [
  // README.md
  { name: 'README: range 192.168.2.225/28 with exclude', conf: () => asPluginConf(md('README.md', 2), 'n'), expect: { ips: [['192.168.2.225/28']] }, macvlan: true },
  { name: 'README: the example NAD, range 192.168.2.225/28', conf: () => asPluginConf(nadConfig(md('README.md', 3)), 'n'), expect: { ips: [['192.168.2.225/28']] }, macvlan: true },
  { name: 'README: IPv6 range 2001::0/116 with a gateway outside it', conf: () => asPluginConf(md('README.md', 4), 'n'), expect: { ips: [['2001::1/116', '2001::f:1']] }, macvlan: true },
  { name: 'README: ipRanges, one address per range (host bits dropped)', conf: () => asPluginConf(md('README.md', 5), 'n'), expect: { ips: [['192.168.10.1/24'], ['176.168.0.1/16']] }, macvlan: true },
  { name: 'README: fast IPAM by node slices (node_slice_size accepted, the whole range used)', conf: () => asPluginConf(nadConfig(md('README.md', 8)), 'n'), expect: { ips: [['192.168.2.1/24']] } },
  // doc/extended-configuration.md
  { name: 'extended-configuration: etcd_host, exclude, log_*, gateway', conf: () => asPluginConf(md('doc/extended-configuration.md', 0), 'n'), expect: { ips: [['192.168.2.225/28', '192.168.2.1']] }, macvlan: true },
  { name: 'extended-configuration: the NAD', conf: () => asPluginConf(nadConfig(md('doc/extended-configuration.md', 2)), 'n'), expect: { ips: [['192.168.2.225/28']] } },
  // doc/sample_config.json (its first object: the file holds two fragments)
  {
    name: 'sample_config.json: routes without gw and dns, as given',
    conf: () => asPluginConf(firstObject(readFixture('doc/sample_config.json')), 'n'),
    expect: {
      ips: [['192.168.1.1/24']],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.10.5.1' }, { dst: '3ffe:ffff:0:01ff::1/64' }],
      dns: { nameservers: ['8.8.8.8'], domain: 'example.com', search: ['example.com'] },
    },
  },
  // yamls/
  { name: 'whereaboutsScaleNAD.yaml: range 192.168.2.225/24 is the /24', conf: () => asPluginConf(nadConfig(readFixture('yamls/whereaboutsScaleNAD.yaml')), 'n'), expect: { ips: [['192.168.2.1/24']] }, macvlan: true },
  // pkg/config/config_test.go
  { name: 'config: a basic config, start-end/prefix range', conf: () => asPluginConf(goConfig(CONFIG, 'can load a basic config'), 'n'), expect: { ips: [['192.168.1.5/24', '192.168.10.1']] }, macvlan: true },
  { name: 'config: range_start below the range host bits, leader_* settings', conf: () => asPluginConf(goConfig(CONFIG, 'can load a global flat-file config', 1), 'n'), expect: { ips: [['192.168.2.223/24', '192.168.10.1']] } },
  { name: 'config: a config list', conf: () => asPluginConf(goConfig(CONFIG, 'can load a config list'), 'n'), expect: { ips: [['192.168.1.5/24', '192.168.10.1']] } },
  { name: 'config: leading zeroes in the start/end range', conf: () => asPluginConf(goConfig(CONFIG, 'allows for leading zeroes in the range in start/end range format'), 'n'), expect: { ips: [['192.168.1.5/24', '192.168.10.1']] } },
  { name: 'config: leading zeroes in the range', conf: () => asPluginConf(goConfig(CONFIG, 'allows for leading zeroes in the range'), 'n'), expect: { ips: [['192.168.1.1/24', '192.168.10.1']] } },
  { name: 'config: leading zeroes in range_start', conf: () => asPluginConf(goConfig(CONFIG, 'allows for leading zeroes in the range when the start range is provided'), 'n'), expect: { ips: [['192.168.1.44/24', '192.168.10.1']] } },
  { name: 'config: leading zeroes in range_start and range_end', conf: () => asPluginConf(goConfig(CONFIG, 'allows for leading zeroes in the range when the start and end ranges are provided'), 'n'), expect: { ips: [['192.168.1.44/24', '192.168.10.1']] } },
  { name: 'config: reconciler_cron_expression accepted', conf: () => asPluginConf(goConfig(CONFIG, 'can unmarshall the cronjob expression'), 'n'), expect: { ips: [['192.168.1.44/24', '192.168.10.1']] } },
  { name: 'config: a range start outside its CIDR is refused', conf: () => asPluginConf(goConfig(CONFIG, 'errors when an invalid range specified'), 'n'), expect: { code: 7, names: /ipam\.range: invalid range start for CIDR 192\.168\.2\.16\/28: 192\.168\.1\.5/ } },
  { name: 'config: configuration_path, enable_overlapping_ranges true', conf: () => asPluginConf(goTemplate(CONFIG, 'generateIPAMConfWithOverlappingRanges', []), 'n'), expect: { ips: [['192.168.2.1/24']] } },
  { name: 'config: configuration_path, enable_overlapping_ranges false', conf: () => asPluginConf(goTemplate(CONFIG, 'generateIPAMConfWithoutOverlappingRanges', []), 'n'), expect: { ips: [['192.168.2.1/24']] } },
  // cmd/whereabouts_test.go
  { name: 'cmd: ADD/DEL 192.168.1.0/24, gateway outside it', conf: () => asPluginConf(cmdStruct('192.168.1.0/24', '192.168.10.1'), 'n'), expect: { ips: [['192.168.1.1/24', '192.168.10.1']] } },
  { name: 'cmd: ADD/DEL 2001::1/116', conf: () => asPluginConf(cmdStruct('2001::1/116', '2001::f:1'), 'n'), expect: { ips: [['2001::1/116', '2001::f:1']] } },
  { name: 'cmd: IPv6 with left-hand zeroes fd::1/116', conf: () => asPluginConf(cmdStruct('fd::1/116', 'fd::f:1'), 'n'), expect: { ips: [['fd::1/116', 'fd::f:1']] } },
  {
    name: 'cmd: IPv6 range ending in zeroes, start-end/64 (a window of 5 addresses)',
    conf: () => asPluginConf(cmdStruct('2001:db8:480:603d:0304:0403:000:0000-2001:db8:480:603d:0304:0403:0000:0004/64', '2001:db8:480:603d::1'), 'n'),
    expect: { ips: [['2001:db8:480:603d:304:403::/64', '2001:db8:480:603d::1']] },
  },
  { name: 'cmd: DNS-1123 naming, start-end/64', conf: () => asPluginConf(cmdStruct('fd00:0:0:10:0:0:3:1-fd00:0:0:10:0:0:3:6/64', '2001::f:1'), 'n'), expect: { ips: [['fd00::10:0:0:3:1/64', '2001::f:1']] } },
  { name: 'cmd: excludes a range of addresses', conf: () => asPluginConf(cmd('excludes a range of addresses', 0, [BACKEND]), 'n'), expect: { ips: [['192.168.1.32/24', '192.168.10.1']], routes: [{ dst: '0.0.0.0/0' }] } },
  { name: 'cmd: excludes a range of IPv6 addresses', conf: () => asPluginConf(cmd('excludes a range of IPv6 addresses'), 'n'), expect: { ips: [['2001::3/116', '2001::f:1']] } },
  { name: 'cmd: excludes a range of IPv6 addresses, omitting broadcast', conf: () => asPluginConf(cmd('excludes a range of IPv6 addresses, omitting broadcast'), 'n'), expect: { ips: [['caa5::8000/112', '2001::f:1']] } },
  {
    name: 'cmd: static addresses next to a range, routes and dns as given',
    conf: () => asPluginConf(cmd('can still assign static parameters'), 'n'),
    expect: {
      ips: [['192.168.1.33/28', '192.168.1.1'], ['10.10.0.1/24', '10.10.0.254'], ['3ffe:ffff:0:1ff::1/64', '3ffe:ffff::1']],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '192.168.0.0/16', gw: '10.10.5.1' }, { dst: '3ffe:ffff:0:01ff::1/64' }],
      dns: { nameservers: ['8.8.8.8'], domain: 'example.com', search: ['example.com'] },
    },
  },
  { name: 'cmd: ipRanges notation', conf: () => asPluginConf(cmd('allocates an address using IPRanges notation'), 'n'), expect: { ips: [['192.168.10.1/24']] }, macvlan: true },
  { name: 'cmd: start/end cidr notation', conf: () => asPluginConf(cmd('allocates an address using start/end cidr notation'), 'n'), expect: { ips: [['192.168.1.5/24', '192.168.10.1']] } },
  { name: 'cmd: range_start', conf: () => asPluginConf(cmd('allocates an address using the range_start parameter'), 'n'), expect: { ips: [['192.168.1.5/24', '192.168.10.1']] }, macvlan: true },
  // e2e/util/util.go, with the arguments e2e/e2e_test.go passes
  { name: 'e2e: the NAD for 10.10.0.0/16 (a conflist)', conf: () => asPluginConf(e2eNad('10.10.0.0/16', '[]', '', 'true'), 'wa-nad'), expect: { ips: [['10.10.0.1/16']] }, macvlan: true },
];

/** Waiting for pools over 2^24 addresses (the ipv6 branch): /64 ranges without a small window. */
const WAITING_FOR_IPV6: readonly Case[] = [
  { name: 'README: ipRanges with range abcd::1/64', conf: () => asPluginConf(md('README.md', 6), 'n'), expect: { code: 7, names: /ipam\.range: abcd::\/64 holds \d+ usable addresses/ } },
  { name: 'README: dual-stack ipRanges with abcd::1/64', conf: () => asPluginConf(md('README.md', 7), 'n'), expect: { code: 7, names: /ipam\.ipRanges\[1\]\.range: abcd::\/64/ } },
  { name: 'cmd: DualStack ipRanges', conf: () => asPluginConf(cmd('allocates DualStack address using IPRanges notation'), 'n'), expect: { code: 7, names: /abcd::\/64/ } },
  { name: 'cmd: ipRanges and range', conf: () => asPluginConf(cmd('allocates addresses using both IPRanges and range notations'), 'n'), expect: { code: 7, names: /abcd::\/64/ } },
  { name: 'cmd: a /64 window of 2^63 addresses', conf: () => asPluginConf(cmdStruct('2001:db8:5422:0005::-2001:db8:5422:0005:7fff:ffff:ffff:ffff/64', '2001:db8:5422:0005::1'), 'n'), expect: { code: 7, names: /2001:db8:5422:5::\/64/ } },
  { name: 'e2e: dual-stack ipRanges 11.11.0.0/16 + abcd::0/64', conf: () => asPluginConf(e2eNad('', '[{"range": "11.11.0.0/16"},{"range": "abcd::0/64"}]', '', 'true'), 'wa-nad'), expect: { code: 7, names: /abcd::\/64/ } },
];

interface Env {
  readonly daemon: ServeProcess;
  readonly bin: string;
  call(command: string, conf: NetConf, pod: string, container: string): Promise<{ code: number; out: Record<string, unknown> | undefined }>;
}

let seq = 0;
async function setup(t: import('ava').ExecutionContext): Promise<Env> {
  const { endpoints } = await sharedEtcd();
  const daemon = await startServe({ endpoints, prefix: freshPrefix(), node: 'wb-node' });
  t.teardown(() => daemon.stop());
  const bin = pluginBinary();
  return {
    daemon,
    bin,
    async call(command, conf, pod, container) {
      const env = {
        CNI_COMMAND: command,
        CNI_CONTAINERID: container,
        CNI_NETNS: '/var/run/netns/none',
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/usr/lib/cni',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=dummyNS;K8S_POD_NAME=${pod}`,
        IPAM_ES_SOCKET: daemon.socket,
      };
      const r = await runPlugin(bin, env, JSON.stringify(conf));
      return { code: r.code, out: r.stdout ? (JSON.parse(r.stdout) as Record<string, unknown>) : undefined };
    },
  };
}

const ipsOf = (out: Record<string, unknown> | undefined): Ip[] =>
  ((out?.ips ?? []) as { address: string; gateway?: string }[]).map((i) => (i.gateway ? [i.address, i.gateway] : [i.address]) as Ip);

test('upstream Whereabouts configurations: ADD, CHECK, DEL, ADD again give what Whereabouts gives', async (t) => {
  const env = await setup(t);
  for (const c of [...CASES, ...WAITING_FOR_IPV6]) {
    const conf = c.conf();
    const pod = `pod-${seq}`;
    const ctr = `ctr-${seq++}`;
    const add = await env.call('ADD', conf, pod, ctr);
    if (c.expect.code !== undefined) {
      t.is(add.code, 1, `${c.name}: refused`);
      t.is(add.out?.code, c.expect.code, `${c.name}: ${JSON.stringify(add.out)}`);
      t.regex(String(add.out?.details), c.expect.names!, c.name);
      continue;
    }
    t.is(add.code, 0, `${c.name}: ${JSON.stringify(add.out)}`);
    t.deepEqual(ipsOf(add.out), c.expect.ips, c.name);
    if (c.expect.routes) t.deepEqual(add.out?.routes, c.expect.routes, `${c.name}: routes`);
    if (c.expect.dns) t.deepEqual(add.out?.dns, c.expect.dns, `${c.name}: dns`);
    // CHECK does not exist before CNI 0.4.0 (every configuration here is 0.3.x): refused with code 1.
    const check = await env.call('CHECK', { ...conf, prevResult: add.out }, pod, ctr);
    t.like(check.out, { code: 1, msg: 'config version does not allow CHECK' }, c.name);
    const checked = await env.call('CHECK', { ...conf, cniVersion: '0.4.0', prevResult: add.out }, pod, ctr);
    t.is(checked.code, 0, `${c.name}: CHECK at 0.4.0 ${JSON.stringify(checked.out)}`);
    t.is((await env.call('DEL', conf, pod, ctr)).code, 0);
    // Deleted and added again: the same addresses (the lowest free again).
    const again = await env.call('ADD', conf, pod, `${ctr}-again`);
    t.deepEqual(ipsOf(again.out), c.expect.ips, `${c.name}: ADD again`);
    t.is((await env.call('DEL', conf, pod, `${ctr}-again`)).code, 0);
  }
});

test('upstream Whereabouts flows: range_end as an upper limit, overlapping ranges on and off, two networks on one /24', async (t) => {
  const env = await setup(t);
  // cmd: "allocates addresses using range_end as an upper limit": .5 to .12, then an AssignmentError.
  const limited = asPluginConf(cmd('allocates addresses using range_end as an upper limit'), 'n');
  for (let i = 0; i < 8; i++) t.deepEqual(ipsOf((await env.call('ADD', limited, `lim-${i}`, `lim-${i}`)).out), [[`192.168.1.${5 + i}/24`, '192.168.10.1']]);
  t.like((await env.call('ADD', limited, 'lim-8', 'lim-8')).out, { code: 100 });
  for (let i = 0; i < 8; i++) t.is((await env.call('DEL', limited, `lim-${i}`, `lim-${i}`)).code, 0);

  // One daemon serves every flow here (upstream, each test has its own fake backend): pod names differ per flow, as
  // one pod's attachments to different networks differ by interface.
  // cmd: overlapping ranges detected (IPv4 and IPv6): the second range's pod gets the next address.
  const title4 = 'detects IPv4 addresses used in other ranges, to allow for overlapping IP address ranges';
  const first4 = asPluginConf(cmd(title4, 0, [KUBECONFIG, '192.168.22.0/24']), 'n');
  const second4 = asPluginConf(cmd(title4, 1, [KUBECONFIG, '192.168.22.0/28']), 'n');
  t.deepEqual(ipsOf((await env.call('ADD', first4, 'dummyfirstrange', 'dummyfirstrange')).out), [['192.168.22.1/24']]);
  t.deepEqual(ipsOf((await env.call('ADD', second4, 'dummysecondrange', 'dummysecondrange')).out), [['192.168.22.2/28']]);
  const title6 = 'detects IPv6 addresses used in other ranges, to allow for overlapping IP address ranges';
  const first6 = asPluginConf(cmd(title6, 0, [KUBECONFIG, '2001::2:3:0/124']), 'n');
  const second6 = asPluginConf(cmd(title6, 1, [KUBECONFIG, '2001::2:3:0/126']), 'n');
  t.deepEqual(ipsOf((await env.call('ADD', first6, 'v6-first', 'v6-first')).out), [['2001::2:3:1/124']]);
  t.deepEqual(ipsOf((await env.call('ADD', second6, 'v6-second', 'v6-second')).out), [['2001::2:3:2/126']]);
  // cmd: enable_overlapping_ranges false: Whereabouts lets both ranges hand out .1.
  const titleOff = 'allows IP collisions across ranges when enable_overlapping_ranges is set to false';
  const firstOff = asPluginConf(cmd(titleOff, 0, [KUBECONFIG, '192.168.33.0/24']), 'n');
  const secondOff = asPluginConf(cmd(titleOff, 1, [KUBECONFIG, '192.168.33.0/28']), 'n');
  t.deepEqual(ipsOf((await env.call('ADD', firstOff, 'off-first', 'off-first')).out), [['192.168.33.1/24']]);
  t.deepEqual(ipsOf((await env.call('ADD', secondOff, 'off-second', 'off-second')).out), [['192.168.33.1/28']]);

  // e2e: a /30 has two addresses; a third pod is refused (exhausted).
  const tiny = asPluginConf(e2eNad('10.10.0.0/30', '[]', '', 'true'), 'tiny');
  t.deepEqual(ipsOf((await env.call('ADD', tiny, 'tiny-0', 'tiny-0')).out), [['10.10.0.1/30']]);
  t.deepEqual(ipsOf((await env.call('ADD', tiny, 'tiny-1', 'tiny-1')).out), [['10.10.0.2/30']]);
  t.like((await env.call('ADD', tiny, 'tiny-2', 'tiny-2')).out, { code: 100 });

  // Two networks on the same /24 with different windows share its IPPool: the README's first example and the
  // scale NAD (192.168.2.225/24: the whole /24) hand out distinct addresses.
  const readme = asPluginConf(md('README.md', 2), 'n');
  const scale = asPluginConf(nadConfig(readFixture('yamls/whereaboutsScaleNAD.yaml')), 'scale');
  const narrow = { ...scale, ipam: { ...scale.ipam, range_start: '192.168.2.1', range_end: '192.168.2.2' } };
  t.deepEqual(ipsOf((await env.call('ADD', narrow, 's-0', 's-0')).out), [['192.168.2.1/24']]);
  t.deepEqual(ipsOf((await env.call('ADD', scale, 's-1', 's-1')).out), [['192.168.2.2/24']]);
  t.deepEqual(ipsOf((await env.call('ADD', readme, 's-2', 's-2')).out), [['192.168.2.225/28']]);

  // The IPPools as Whereabouts names and fills them: spec.range the normalised range, allocations keyed by the
  // offset from its first address (toAllocationMap), served by the Kubernetes-style API.
  const holder = (pod: string, ctr = pod) => ({ id: ctr, podref: `dummyNS/${pod}`, ifname: 'eth0' });
  await ippoolIs(t, env, '192.168.22.0-24', { range: '192.168.22.0/24', allocations: { 1: holder('dummyfirstrange') } });
  await ippoolIs(t, env, '192.168.22.0-28', { range: '192.168.22.0/28', allocations: { 2: holder('dummysecondrange') } });
  await ippoolIs(t, env, '2001--2-3-0-124', { range: '2001::2:3:0/124', allocations: { 1: holder('v6-first') } });
  await ippoolIs(t, env, '192.168.2.0-24', { range: '192.168.2.0/24', allocations: { 1: holder('s-0'), 2: holder('s-1') } });
  await ippoolIs(t, env, '192.168.2.224-28', { range: '192.168.2.224/28', allocations: { 1: holder('s-2') } });
  await ippoolIs(t, env, '10.10.0.0-30', { range: '10.10.0.0/30', allocations: { 1: holder('tiny-0'), 2: holder('tiny-1') } });
});

/** The daemon's IPPool (over its socket), waiting a bounded while for its projection to catch up. */
async function ippoolIs(t: import('ava').ExecutionContext, env: Env, name: string, spec: Record<string, unknown>): Promise<void> {
  let got: unknown;
  for (let i = 0; i < 50; i++) {
    const r = await call({ socket: env.daemon.socket, port: 0 }, 'GET', `/apis/whereabouts.cni.cncf.io/v1alpha1/namespaces/kube-system/ippools/${name}`, { via: 'socket' });
    got = r.status === 200 ? r.json().spec : r.text;
    if (isDeepStrictEqual(got, spec)) break;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  t.deepEqual(got, spec, `IPPool ${name}`);
}

test('upstream Whereabouts configurations through Debian macvlan into network namespaces: ADD puts the address on eth0, DEL removes it', async (t) => {
  const env = await setup(t);
  const ns = new Netns();
  t.teardown(() => ns.removeAll());
  const binDir = mkdtempSync(join(tmpdir(), 'ipam-wb-bin-'));
  t.teardown(() => rmSync(binDir, { recursive: true, force: true }));
  symlinkSync('/usr/lib/cni/macvlan', join(binDir, 'macvlan'));
  symlinkSync(env.bin, join(binDir, 'ipam-es'));
  const host = await ns.add('h');
  // The master: one end of a veth pair inside the host namespace (this kernel has no dummy links).
  const master = `wbm${ns.tag}`;
  await ip('-n', host, 'link', 'add', master, 'type', 'veth', 'peer', 'name', `wbp${ns.tag}`);
  await ip('-n', host, 'link', 'set', master, 'up');
  await ip('-n', host, 'link', 'set', `wbp${ns.tag}`, 'up');
  for (const c of CASES.filter((x) => x.macvlan)) {
    const id = seq++;
    const pod = await ns.add(`p${id}`);
    // No duplicate address detection in the pod, so IPv6 addresses are usable at once.
    await run('ip', ['netns', 'exec', pod, 'sh', '-c', 'echo 0 > /proc/sys/net/ipv6/conf/all/accept_dad && echo 0 > /proc/sys/net/ipv6/conf/default/accept_dad'], { timeout: 10_000 });
    const conf = { ...c.conf(), type: 'macvlan', master, mode: 'bridge' };
    const e = (command: string) => ({
      CNI_COMMAND: command,
      CNI_CONTAINERID: `mv-${id}`,
      CNI_NETNS: `/run/netns/${pod}`,
      CNI_IFNAME: 'eth0',
      CNI_PATH: binDir,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=dummyNS;K8S_POD_NAME=mv-${id}`,
      IPAM_ES_SOCKET: env.daemon.socket,
    });
    const add = await runPlugin(join(binDir, 'macvlan'), e('ADD'), JSON.stringify(conf), { netns: host });
    t.is(add.code, 0, `${c.name}: ${add.stdout} ${add.stderr}`);
    const shown = await ip('-n', pod, '-o', 'addr', 'show', 'dev', 'eth0');
    for (const [address] of c.expect.ips!) t.regex(shown, new RegExp(`inet6? ${address.replace(/\./g, '\\.')} `), `${c.name}: ${address} on eth0`);
    const del = await runPlugin(join(binDir, 'macvlan'), e('DEL'), JSON.stringify(conf), { netns: host });
    t.is(del.code, 0, `${c.name}: DEL ${del.stdout}`);
    t.false((await ip('-n', pod, '-o', 'link')).includes('eth0'), `${c.name}: eth0 gone`);
    const held = await env.call('CHECK', { ...conf, cniVersion: '0.4.0' }, `mv-${id}`, `mv-${id}`);
    t.like(held.out, { code: 102 }, `${c.name}: nothing held after DEL`);
  }
  await ns.removeAll();
  t.deepEqual(await ns.leftovers(), []);
});
