// Dual stack end to end with real plugins: Debian's bridge plugin delegates IPAM to ours (Whereabouts-style ranges:
// an IPv4 /24 and a whole IPv6 /64), which forwards to the real daemon over its unix socket. The /64 sits on the
// bridge (isGateway); two pod namespaces ping each other over IPv6 and IPv4. Namespaces made here, removed after.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Address6 } from 'ip-address';
import type { DomainEvent } from '../events/catalogue.js';
import { bridgeRig } from './helpers/bridge-rig.js';
import { runPlugin } from './helpers/cni.js';
import { ip } from './helpers/netns.js';

const run = promisify(execFile);

test('bridge + ipam-es, an IPv4 /24 and an IPv6 /64: each pod gets one address of each, ping6 and ping across the bridge, DEL releases both', async (t) => {
  const { daemon, reader, ns, binDir, host, pods } = await bridgeRig(t);
  const conf = {
    cniVersion: '1.0.0',
    name: `e2e6-${ns.tag}`,
    type: 'bridge',
    bridge: `br${ns.tag}`,
    isGateway: true, // the bridge takes each range's first address (fd00:124::1/64, 10.124.0.1/24)
    ipam: { type: 'ipam-es', range: '10.124.0.0/24', range_start: '10.124.0.10', ipRanges: [{ range: 'fd00:124::/64', range_start: 'fd00:124::10' }] },
  };
  const env = (pod: 'a' | 'b', command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `ctr6-${pod}-${ns.tag}`,
    CNI_NETNS: `/run/netns/${pods[pod]}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: binDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e6;K8S_POD_NAME=pod-${pod};K8S_POD_UID=uid6-${pod}-${ns.tag}`,
    IPAM_ES_SOCKET: daemon.socket,
  });
  const bridgeCall = async (pod: 'a' | 'b', command: string, extra: Record<string, unknown> = {}) => {
    const r = await runPlugin(join(binDir, 'bridge'), env(pod, command), JSON.stringify({ ...conf, ...extra }), { netns: host });
    t.is(r.code, 0, `bridge ${command} for pod ${pod}: ${r.stdout} ${r.stderr}\n${daemon.output()}`);
    return r.stdout ? (JSON.parse(r.stdout) as { ips: { address: string; gateway?: string }[] }) : undefined;
  };

  const added = { a: (await bridgeCall('a', 'ADD'))!, b: (await bridgeCall('b', 'ADD'))! };
  const bare = (cidr: string) => cidr.split('/')[0]!;
  const v6 = { a: '', b: '' };
  const v4 = { a: '', b: '' };
  for (const pod of ['a', 'b'] as const) {
    const ips = added[pod].ips.map((x) => x.address);
    t.is(ips.length, 2, JSON.stringify(added[pod]));
    v4[pod] = ips.find((x) => !x.includes(':'))!;
    v6[pod] = ips.find((x) => x.includes(':'))!;
    t.regex(v4[pod], /^10\.124\.0\.\d+\/24$/);
    t.regex(v6[pod], /^fd00:124::[0-9a-f:]+\/64$/);
    t.is(new Address6(bare(v6[pod])).correctForm(), bare(v6[pod]), 'RFC 5952 text in the CNI result');
    const off = new Address6(bare(v6[pod])).bigInt() - new Address6('fd00:124::').bigInt();
    t.true(off >= 0x10n && off < 1n << 63n, `${v6[pod]} is in the range: its first /65, what Whereabouts addresses`);
    const shown = await ip('-n', pods[pod], '-o', '-6', 'addr', 'show', 'dev', 'eth0');
    t.true(shown.includes(`inet6 ${v6[pod]} scope global`), `${v6[pod]} on eth0 in ${pods[pod]}: ${shown}`);
  }
  t.not(v6.a, v6.b);
  t.not(v4.a, v4.b);
  t.true((await ip('-n', host, '-o', '-6', 'addr', 'show', 'dev', conf.bridge)).includes('inet6 fd00:124::1/64'), 'the /64 is on the bridge');

  // IPv6 and IPv4 across the bridge, both ways, and to the bridge's IPv6 gateway address.
  const ping = (from: string, to: string, six: boolean) => run('ip', ['netns', 'exec', from, 'ping', ...(six ? ['-6'] : []), '-c', '2', '-W', '2', to], { timeout: 20_000 });
  await t.notThrowsAsync(ping(pods.a, bare(v6.b), true), 'a ping6s b');
  await t.notThrowsAsync(ping(pods.b, bare(v6.a), true), 'b ping6s a');
  await t.notThrowsAsync(ping(pods.a, 'fd00:124::1', true), 'a ping6s the bridge');
  await t.notThrowsAsync(ping(pods.a, bare(v4.b), false), 'a pings b over IPv4');

  for (const pod of ['a', 'b'] as const) await bridgeCall(pod, 'DEL', { prevResult: added[pod] });
  const log: DomainEvent[] = [];
  for await (const e of reader.store.read()) log.push(e.event);
  const released = log.flatMap((e) => (e.type === 'IPReleased' ? [e.data.address] : [])).sort();
  t.deepEqual(released, [v4.a, v4.b, v6.a, v6.b].map(bare).sort(), 'DEL released both families of both pods');
  t.true(log.some((e) => e.type === 'PoolDefined' && e.data.spec.subnet === 'fd00:124::/64'), 'the /64 range became a pool');

  await ns.removeAll();
  t.deepEqual(await ns.leftovers(), []);
});
