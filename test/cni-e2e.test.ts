// End to end with real plugins: Debian's bridge plugin delegates IPAM to ours, which forwards to the real daemon
// (`ipam serve`, its own process) over its unix socket. Everything network-side happens in namespaces made here: the
// bridge lives in a "host" namespace, the pods are two more; all are removed afterwards, even on failure.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import type { DomainEvent } from '../events/catalogue.js';
import { bridgeRig } from './helpers/bridge-rig.js';
import { runPlugin } from './helpers/cni.js';
import { ip } from './helpers/netns.js';

const run = promisify(execFile);

test('bridge + ipam-es: ADD into two namespaces, ping across the bridge, CHECK, DEL releases, GC releases the never-deleted', async (t) => {
  const { daemon, reader, ns, binDir, host, pods } = await bridgeRig(t);
  const bridge = `br${ns.tag}`;
  const conf = {
    cniVersion: '1.0.0', // Debian's bridge plugin speaks up to 1.0.0
    name: `e2e-${ns.tag}`,
    type: 'bridge',
    bridge,
    isGateway: true,
    ipam: { type: 'ipam-es', range: '10.123.0.0/24', range_start: '10.123.0.10', gateway: '10.123.0.1' },
  };
  const env = (pod: 'a' | 'b', command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: `ctr-${pod}-${ns.tag}`,
    CNI_NETNS: `/run/netns/${pods[pod]}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: binDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=pod-${pod};K8S_POD_UID=uid-${pod}-${ns.tag}`,
    IPAM_ES_SOCKET: daemon.socket,
  });
  const bridgeCall = async (pod: 'a' | 'b', command: string, extra: Record<string, unknown> = {}) => {
    const r = await runPlugin(join(binDir, 'bridge'), env(pod, command), JSON.stringify({ ...conf, ...extra }), { netns: host });
    t.is(r.code, 0, `bridge ${command} for pod ${pod}: ${r.stdout} ${r.stderr}\n${daemon.output()}`);
    return r.stdout ? (JSON.parse(r.stdout) as { ips: { address: string; gateway?: string }[] }) : undefined;
  };
  const log = async () => {
    const out: DomainEvent[] = [];
    for await (const e of reader.store.read()) out.push(e.event);
    return out;
  };

  // ADD: each pod gets an address from the range, on eth0 inside its namespace.
  const added = { a: (await bridgeCall('a', 'ADD'))!, b: (await bridgeCall('b', 'ADD'))! };
  const addr = { a: added.a.ips[0]!.address, b: added.b.ips[0]!.address };
  t.regex(addr.a, /^10\.123\.0\.\d+\/24$/);
  t.regex(addr.b, /^10\.123\.0\.\d+\/24$/);
  t.not(addr.a, addr.b);
  t.is(added.a.ips[0]!.gateway, '10.123.0.1');
  for (const pod of ['a', 'b'] as const) t.true((await ip('-n', pods[pod], '-o', 'addr', 'show', 'dev', 'eth0')).includes(`inet ${addr[pod]}`), `${addr[pod]} on eth0 in ${pods[pod]}`);

  // The two namespaces reach each other across the bridge (and the gateway on the bridge).
  const bare = (cidr: string) => cidr.split('/')[0]!;
  await t.notThrowsAsync(run('ip', ['netns', 'exec', pods.a, 'ping', '-c', '2', '-W', '2', bare(addr.b)], { timeout: 15_000 }), 'a pings b');
  await t.notThrowsAsync(run('ip', ['netns', 'exec', pods.b, 'ping', '-c', '2', '-W', '2', bare(addr.a)], { timeout: 15_000 }), 'b pings a');
  await t.notThrowsAsync(run('ip', ['netns', 'exec', pods.a, 'ping', '-c', '1', '-W', '2', '10.123.0.1'], { timeout: 15_000 }), 'a pings the gateway');

  // CHECK through the bridge, which delegates CHECK to our plugin with the ADD's result.
  await bridgeCall('a', 'CHECK', { prevResult: added.a });

  // DEL: the address leaves the namespace and is released in the log.
  await bridgeCall('a', 'DEL', { prevResult: added.a });
  t.false((await ip('-n', pods.a, '-o', 'addr')).includes(bare(addr.a)), 'address gone from namespace a');
  const delReleases = (await log()).filter((e) => e.type === 'IPReleased' && e.data.address === bare(addr.a));
  t.like(delReleases[0], { type: 'IPReleased', data: { reason: 'cni-del', endpoint: { namespace: 'e2e', name: 'pod-a', nic: 'eth0' } } });
  t.is(delReleases.length, 1);

  // GC (CNI 1.1, so called on our plugin directly): pod b was never deleted and is not listed; a third attachment is.
  const keep = { ...env('b', 'ADD'), CNI_CONTAINERID: `ctr-keep-${ns.tag}`, CNI_ARGS: 'K8S_POD_NAMESPACE=e2e;K8S_POD_NAME=pod-keep' };
  const kept = await runPlugin(join(binDir, 'ipam-es'), keep, JSON.stringify(conf));
  t.is(kept.code, 0, kept.stdout);
  const gcConf = { ...conf, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: keep.CNI_CONTAINERID, ifname: 'eth0' }] };
  const gc = await runPlugin(join(binDir, 'ipam-es'), { CNI_COMMAND: 'GC', CNI_PATH: binDir, IPAM_ES_SOCKET: daemon.socket }, JSON.stringify(gcConf));
  t.deepEqual([gc.code, gc.stdout], [0, ''], gc.stdout);
  const released = (await log()).filter((e) => e.type === 'IPReleased').map((e) => (e.type === 'IPReleased' ? `${e.data.address} ${e.data.reason}` : ''));
  t.deepEqual(released, [`${bare(addr.a)} cni-del`, `${bare(addr.b)} orphan`], 'GC released b only');
  t.is((await runPlugin(join(binDir, 'ipam-es'), { ...keep, CNI_COMMAND: 'DEL' }, JSON.stringify(conf))).code, 0);

  // Teardown leaves nothing behind: the namespaces (and the bridge and veths inside them) are gone.
  await ns.removeAll();
  t.deepEqual(await ns.leftovers(), []);
  t.false((await ip('-o', 'link')).includes(bridge), 'no bridge in the root namespace');
});
