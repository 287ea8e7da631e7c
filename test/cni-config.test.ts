// The CNI plugin's pure parts: the call's environment, the network config (pools and Whereabouts-style ranges),
// results per CNI version, and error results with the spec's codes naming the field at fault.
import test, { type ExecutionContext } from 'ava';
import type { Allocation } from '../src/alloc/types.js';
import { AllocError } from '../src/alloc/errors.js';
import { InputError } from '../src/net/errors.js';
import { parseArgs, parseCall } from '../src/cni/call.js';
import { parseIpam, parseNetConf, prevResultAddresses, validAttachments } from '../src/cni/config.js';
import { whereaboutsPoolName } from '../src/upstream/whereabouts/pools.js';
import { toCniError } from '../src/cni/errors.js';
import { CniError, errorResult } from '../src/cni/protocol.js';
import { ipamResult } from '../src/cni/result.js';
import { encodeHeaderValue, envFromHeaders } from '../src/cni/wire.js';

function cniError(t: ExecutionContext, fn: () => unknown, code: number, mention: RegExp): CniError {
  const e = t.throws(fn, { instanceOf: CniError });
  t.is(e.code as number, code, e.message);
  t.regex(e.message, mention);
  return e;
}

const conf = (ipam: unknown, extra: Record<string, unknown> = {}) => ({ cniVersion: '1.0.0', name: 'net1', type: 'macvlan', ipam, ...extra });
const ipamOf = (ipam: unknown) => parseIpam(parseNetConf(JSON.stringify(conf(ipam))).raw);

test('the environment: required variables per command, named when missing or malformed', (t) => {
  const add = parseCall({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc-1', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'net1', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u-1;K8S_POD_INFRA_CONTAINER_ID=abc-1' });
  t.deepEqual(add, { command: 'ADD', containerID: 'abc-1', ifname: 'net1', netns: '/run/netns/x', args: { podNamespace: 'ns', podName: 'p', podUid: 'u-1' } });
  t.is(parseCall({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' }).netns, '', 'DEL needs no CNI_NETNS');
  t.is(parseCall({ CNI_COMMAND: 'GC' }).command, 'GC');
  t.is(parseCall({ CNI_COMMAND: 'STATUS' }).command, 'STATUS');
  cniError(t, () => parseCall({}), 4, /CNI_COMMAND.*required/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'ATTACH' }), 4, /CNI_COMMAND.*"ATTACH"/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc' }), 4, /CNI_NETNS, CNI_IFNAME/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'CHECK', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth0' }), 4, /CNI_NETNS/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: '-abc', CNI_IFNAME: 'eth0' }), 4, /CNI_CONTAINERID/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'a-very-long-ifname' }), 4, /CNI_IFNAME.*15 bytes/);
  cniError(t, () => parseCall({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'abc', CNI_IFNAME: 'eth/0' }), 4, /CNI_IFNAME/);
  cniError(t, () => parseArgs('K8S_POD_NAME'), 4, /CNI_ARGS.*KEY=VALUE/);
  t.deepEqual(parseArgs(';K8S_POD_NAME=a=b;;'), { podName: 'a=b' }, 'values may hold "="; empty pairs are skipped');
});

test('headers carry the environment percent-encoded, as the C client sends it', (t) => {
  const value = 'K8S_POD_NAME=p ä;X=%41';
  const enc = encodeHeaderValue(value);
  t.regex(enc, /^[!-~]+$/);
  t.deepEqual(envFromHeaders({ 'cni-command': 'ADD', 'cni-args': enc }), { CNI_COMMAND: 'ADD', CNI_ARGS: value });
  cniError(t, () => envFromHeaders({ 'cni-args': '%E0%A4%A' }), 4, /CNI_ARGS/);
});

test('the envelope: JSON, a supported cniVersion and a name', (t) => {
  t.is(parseNetConf(JSON.stringify(conf({}))).cniVersion, '1.0.0');
  cniError(t, () => parseNetConf('{"cniVersion": "1.0.0",'), 6, /not valid JSON/);
  cniError(t, () => parseNetConf('[1]'), 6, /JSON object/);
  cniError(t, () => parseNetConf('{"name": "n"}'), 7, /cniVersion/);
  cniError(t, () => parseNetConf('{"cniVersion": "0.2.0", "name": "n"}'), 1, /0\.2\.0.*supported: 0\.3\.0/);
  cniError(t, () => parseNetConf('{"cniVersion": "1.0.0"}'), 7, /name/);
});

test('pools mode: pool names per family, routes and dns', (t) => {
  const ipam = ipamOf({ type: 'ipam-es', pools: { ipv4: ['v4-a', 'v4-b'], ipv6: ['v6'] }, routes: [{ dst: '10.0.0.0/8', gw: '10.6.0.1' }, { dst: '0.0.0.0/0' }], dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] } });
  t.deepEqual(ipam, {
    kind: 'pools',
    pools: { ipv4: ['v4-a', 'v4-b'], ipv6: ['v6'] },
    routes: [{ dst: '10.0.0.0/8', gw: '10.6.0.1' }, { dst: '0.0.0.0/0' }],
    dns: { nameservers: ['10.0.0.10'], search: ['svc.local'] },
  });
  t.deepEqual(ipamOf({ type: 'ipam-es' }), { kind: 'pools', routes: [] }, 'nothing named: the default pools');
  cniError(t, () => ipamOf({ pools: { ipv4: ['Bad_Name'] } }), 7, /ipam\.pools\.ipv4\[0\].*not a valid name/);
  cniError(t, () => ipamOf({ pools: { ipv5: ['a'] } }), 2, /ipam\.pools\.ipv5/);
  cniError(t, () => ipamOf({ pools: { ipv4: [] } }), 7, /ipam\.pools.*names no pool/);
  cniError(t, () => ipamOf({ pools: { ipv4: ['a'] }, gateway: '10.0.0.1' }), 2, /ipam\.gateway.*"10\.0\.0\.1".*spec\.gateway/);
  cniError(t, () => ipamOf({ pools: { ipv4: ['a'] }, range: '10.0.0.0/24' }), 2, /ipam\.range/);
  cniError(t, () => ipamOf({ routes: [{ dst: '10.0.0.0' }] }), 7, /ipam\.routes\[0\]\.dst.*not a CIDR/);
  cniError(t, () => ipamOf({ routes: [{ dst: '10.0.0.0/8', gw: 'fd00::1' }] }), 7, /ipam\.routes\[0\]\.gw/);
  cniError(t, () => ipamOf({ dns: { nameservers: ['dns.local'] } }), 7, /ipam\.dns\.nameservers\[0\]/);
  cniError(t, () => ipamOf({ dns: { ndots: 2 } }), 2, /ipam\.dns\.ndots/);
  cniError(t, () => ipamOf({ subnet: '10.0.0.0/24' }), 2, /ipam\.subnet = "10\.0\.0\.0\/24"/);
  cniError(t, () => ipamOf('pool-a'), 7, /ipam.*must be an object/);
});

test('range mode: a Whereabouts range is a pool of its whole normalised CIDR, named as Whereabouts names its IPPool; the window travels with the ADD', (t) => {
  const ipam = ipamOf({
    type: 'ipam-es',
    range: '192.168.2.7/24',
    range_start: '192.168.2.10',
    range_end: '192.168.2.99',
    exclude: ['192.168.2.20/30'],
    gateway: '10.9.9.1',
    routes: [{ dst: '10.0.0.0/8' }],
    log_file: '/tmp/whereabouts.log',
    kubernetes: { kubeconfig: '/etc/cni/net.d/whereabouts.d/whereabouts.kubeconfig' },
  });
  t.is(ipam.kind, 'range');
  if (ipam.kind !== 'range') return;
  t.deepEqual(ipam.pools.map((p) => [p.name, p.spec]), [
    ['192.168.2.0-24', { ipVersion: 4, subnet: '192.168.2.0/24', ips: ['192.168.2.1-192.168.2.254'], order: 'lowest', sharedAddresses: true }],
  ]);
  t.deepEqual(ipam.pools[0]!.range.window.toStrings(4), ['192.168.2.10-192.168.2.19', '192.168.2.24-192.168.2.99']);
  t.is(ipam.whereabouts.gateway, '10.9.9.1', 'the gateway is not checked against the range');
  t.deepEqual(ipam.routes, [{ dst: '10.0.0.0/8' }], 'routes as given, without gw');
  const dual = ipamOf({ network_name: 'blue', ipRanges: [{ range: '10.1.0.0/24' }, { range: 'FD00:1::/120' }], range: '' });
  t.deepEqual(dual.kind === 'range' ? dual.pools.map((p) => [p.name, p.spec.scope]) : [], [['blue-10.1.0.0-24', 'blue'], ['blue-fd00-1---120', 'blue']]);
  t.is(whereaboutsPoolName('fd00::/64', undefined), 'fd00---64');
  cniError(t, () => ipamOf({ range: '10.0.0.0/24', network_name: 'Blue' }), 7, /ipam\.network_name.*uppercase/);
  cniError(t, () => ipamOf({ range: '10.0.0.0/33' }), 7, /ipam\.range.*invalid CIDR/);
  cniError(t, () => ipamOf({ range: '10.0.0.0/24', gateway: 'gw' }), 7, /ipam\.gateway.*couldn't parse gateway IP/);
  cniError(t, () => ipamOf({ ipRanges: [{ range: '10.0.0.0/24' }, { range: '10.0.0.0/24', range_start: '10.0.0.100' }] }), 7, /ipam\.ipRanges\[1\]\.range.*same IPPool/);
  cniError(t, () => ipamOf({ range: '10.0.0.0/24', addresses: [{ address: '10.0.0.5' }] }), 7, /ipam\.addresses\[0\]\.address.*invalid CIDR in addresses/);
  cniError(t, () => ipamOf({ range: '10.0.0.0/24', order: 'random' }), 7, /ipam\.order/);
  // CNI 1.1 route attributes (containernetworking/cni types.Route) are printed as given.
  t.deepEqual(ipamOf({ range: '10.0.0.0/24', routes: [{ dst: '10.9.0.0/16', mtu: 1400, table: 100, scope: 253, priority: 5, advmss: 1360 }] }).routes, [{ dst: '10.9.0.0/16', mtu: 1400, advmss: 1360, priority: 5, table: 100, scope: 253 }]);
  cniError(t, () => ipamOf({ range: '10.0.0.0/24', routes: [{ dst: '10.9.0.0/16', mtu: '1400' }] }), 7, /ipam\.routes\[0\]\.mtu.*integer/);
});

test('prevResult addresses (CHECK) and valid attachments (GC)', (t) => {
  const raw = (extra: Record<string, unknown>) => parseNetConf(JSON.stringify(conf({}, extra))).raw;
  t.is(prevResultAddresses(raw({})), undefined);
  t.deepEqual(prevResultAddresses(raw({ prevResult: { cniVersion: '1.0.0', ips: [{ address: '10.0.0.5/24', interface: 2 }] } })), ['10.0.0.5/24']);
  cniError(t, () => prevResultAddresses(raw({ prevResult: { ips: [{ gateway: '10.0.0.1' }] } })), 7, /prevResult\.ips\[0\]\.address/);
  t.deepEqual(validAttachments(raw({ 'cni.dev/valid-attachments': [{ containerID: 'c1', ifname: 'eth0' }] })), [{ containerID: 'c1', ifname: 'eth0' }]);
  cniError(t, () => validAttachments(raw({})), 7, /cni\.dev\/valid-attachments.*required for GC/);
  cniError(t, () => validAttachments(raw({ 'cni.dev/valid-attachments': [{ containerID: 'c1' }] })), 7, /valid-attachments\[0\]/);
});

const alloc = (address: string, ipVersion: 4 | 6, prefixLength: number, extra: Partial<Allocation> = {}): Allocation => ({
  allocationId: `a-${address}`,
  pool: `p${ipVersion}`,
  ipVersion,
  address,
  prefixLength,
  endpoint: { namespace: 'ns', name: 'p', uid: 'u', containerID: 'c', node: 'n', nic: 'eth0' },
  ...extra,
});

test('the abbreviated IPAM result: IPv4 first, gateway, routes once, dns; "version" on ips before 1.0.0', (t) => {
  const allocations = [alloc('fd00::5', 6, 120), alloc('10.6.0.5', 4, 16, { gateway: '10.6.0.1', routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }] })];
  const ipam = { kind: 'pools' as const, routes: [{ dst: '0.0.0.0/0' }, { dst: '10.7.0.0/16', gw: '10.6.0.254' }], dns: { nameservers: ['10.0.0.10'] } };
  t.deepEqual(ipamResult('1.0.0', allocations, ipam), {
    cniVersion: '1.0.0',
    ips: [{ address: '10.6.0.5/16', gateway: '10.6.0.1' }, { address: 'fd00::5/120' }],
    routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }, { dst: '0.0.0.0/0' }],
    dns: { nameservers: ['10.0.0.10'] },
  });
  const old = ipamResult('0.4.0', [allocations[1]!], { kind: 'pools', routes: [] });
  t.deepEqual(old, { cniVersion: '0.4.0', ips: [{ version: '4', address: '10.6.0.5/16', gateway: '10.6.0.1' }], routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }], dns: {} });
  const wb = ipamOf({ range: '10.6.0.0/16', gateway: '10.6.0.1', addresses: [{ address: '10.10.0.1/24', gateway: '10.10.0.254' }], routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }] });
  const range = ipamResult('0.3.1', [alloc('10.6.0.5', 4, 16, { pool: '10.6.0.0-16', routes: [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }] })], wb);
  t.deepEqual(range.routes, [{ dst: '10.7.0.0/16', gw: '10.6.0.254' }], 'range mode prints ipam.routes as written, not again from the pool');
  t.deepEqual(range.ips, [
    { version: '4', address: '10.6.0.5/16', gateway: '10.6.0.1' },
    { version: '4', address: '10.10.0.1/24', gateway: '10.10.0.254' },
  ], 'Whereabouts: ranges in order with ipam.gateway, then the static addresses');
});

test('errors: allocator and input errors become CNI errors with the spec\'s codes, naming the field', (t) => {
  const json = (e: unknown) => errorResult('1.0.0', toCniError(e));
  t.deepEqual(json(new InputError('ipam.range', 'is required')), { cniVersion: '1.0.0', code: 7, msg: 'invalid network configuration: ipam.range', details: 'ipam.range: is required' });
  t.like(json(new AllocError('PoolNotFound', 'pools.ipv4[1]', 'pool x does not exist')), { code: 7, msg: 'invalid network configuration: ipam.pools.ipv4[1]', details: 'ipam.pools.ipv4[1]: pool x does not exist' });
  t.like(json(new AllocError('PoolExhausted', 'pools.ipv4', 'no free IPv4 address', true)), { code: 100 });
  t.like(json(new AllocError('NoPoolMatches', 'pools.ipv4', 'pool a is disabled')), { code: 101 });
  t.like(json(new AllocError('Conflict', '', 'gave up after 16 attempts', true)), { code: 11 });
  t.like(json(new Error('etcd: deadline exceeded')), { code: 11, msg: 'try again later' });
  t.regex(json(new Error('etcd: deadline exceeded')).details as string, /etcd: deadline exceeded/);
});
