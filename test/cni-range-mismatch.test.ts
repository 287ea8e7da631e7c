// A CNI ADD for an attachment (container + interface) that already holds an address from another range, through
// the real plugin binary and daemon: as host-local's allocator (Get: an existing allocation counts only when it lies
// in the requested range set) and Whereabouts (one pool per range) do, the answer is an address of the requested
// range, the earlier one stays held, and DEL releases everything the attachment holds (host-local's ReleaseByID).
import { join } from 'node:path';
import test from 'ava';
import type { DomainEvent } from '../events/catalogue.js';
import { bridgeRig } from './helpers/bridge-rig.js';
import { runPlugin } from './helpers/cni.js';
import { ip } from './helpers/netns.js';

test('ADD with range A, then ADD for the same container and interface with range B: an address of B; both in the log; a retry changes nothing; DEL releases both', async (t) => {
  const { daemon, reader, ns, binDir, host, pods } = await bridgeRig(t);
  const base = { cniVersion: '1.0.0', name: `mm-${ns.tag}`, type: 'bridge', bridge: `br${ns.tag}`, isGateway: true };
  const confA = { ...base, ipam: { type: 'ipam-es', range: '10.231.1.0/24', gateway: '10.231.1.1' } };
  const confB = { ...base, ipam: { type: 'ipam-es', range: '10.231.2.0/24', gateway: '10.231.2.1' } };
  const container = `ctr-mm-${ns.tag}`;
  const env = (command: string) => ({
    CNI_COMMAND: command,
    CNI_CONTAINERID: container,
    CNI_NETNS: `/run/netns/${pods.a}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: binDir,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=mm;K8S_POD_NAME=pod-mm;K8S_POD_UID=uid-mm-${ns.tag}`,
    IPAM_ES_SOCKET: daemon.socket,
  });
  const plugin = async (which: 'bridge' | 'ipam-es', command: string, conf: object) => {
    const r = await runPlugin(join(binDir, which), env(command), JSON.stringify(conf), which === 'bridge' ? { netns: host } : {});
    t.is(r.code, 0, `${which} ${command}: ${r.stdout} ${r.stderr}\n${daemon.output().slice(-2000)}`);
    return r.stdout ? (JSON.parse(r.stdout) as { ips?: { address: string; gateway?: string }[] }) : undefined;
  };
  const log = async () => {
    const out: DomainEvent[] = [];
    for await (const e of reader.store.read()) out.push(e.event);
    return out;
  };

  // ADD with range A through the bridge: the pod has an A address on eth0.
  const a = (await plugin('bridge', 'ADD', confA))!.ips![0]!;
  t.regex(a.address, /^10\.231\.1\.\d+\/24$/);
  t.true((await ip('-n', pods.a, '-o', 'addr', 'show', 'dev', 'eth0')).includes(`inet ${a.address}`));

  // The same container and interface asks again, now with range B (the IPAM plugin called as a runtime or a chained
  // plugin calls it, with the whole network configuration):
  // an address of B with B's gateway, not A's address from A's pool.
  const b = (await plugin('ipam-es', 'ADD', confB))!.ips!;
  t.is(b.length, 1);
  t.regex(b[0]!.address, /^10\.231\.2\.\d+\/24$/, `got ${b[0]!.address}`);
  t.is(b[0]!.gateway, '10.231.2.1');

  const allocated = (await log()).filter((e) => e.type === 'IPAllocated');
  const bare = (cidr: string) => cidr.split('/')[0]!;
  t.deepEqual(
    allocated.map((e) => (e.type === 'IPAllocated' ? [e.data.address, e.data.endpoint.containerID, e.data.endpoint.nic] : [])),
    [
      [bare(a.address), container, 'eth0'],
      [bare(b[0]!.address), container, 'eth0'],
    ],
    'both allocations in the log, for the same attachment',
  );
  t.not(allocated[0]!.type === 'IPAllocated' && allocated[0]!.data.pool, allocated[1]!.type === 'IPAllocated' && allocated[1]!.data.pool, 'from two pools');

  // Retried ADDs answer what the attachment holds in the range asked for; nothing is written.
  const revision = (await log()).length;
  t.deepEqual((await plugin('ipam-es', 'ADD', confB))!.ips!.map((i) => i.address), [b[0]!.address]);
  t.deepEqual((await plugin('ipam-es', 'ADD', confA))!.ips!.map((i) => i.address), [a.address]);
  t.is((await log()).length, revision, 'nothing written by the retries');

  // DEL (with B's config, through the bridge: eth0 goes) releases everything the attachment holds, as host-local does.
  await plugin('bridge', 'DEL', confB);
  const released = (await log()).filter((e) => e.type === 'IPReleased').map((e) => (e.type === 'IPReleased' ? `${e.data.address} ${e.data.reason}` : ''));
  t.deepEqual(released.sort(), [`${bare(a.address)} cni-del`, `${bare(b[0]!.address)} cni-del`].sort());
  t.false((await ip('-n', pods.a, '-o', 'link')).includes('eth0'), 'eth0 gone');

  await ns.removeAll();
  t.deepEqual(await ns.leftovers(), []);
});
