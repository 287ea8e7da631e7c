// IPv6 at real scale through the doors: a SpiderIPPool over a whole /64 and an IPv4 /24, dual-stack pods through
// the /v1 API, the Kubernetes-style objects rendered without enumerating the range (totalIPCount saturates,
// allocatedIPs holds only what is allocated, Whereabouts offsets past 2^53 exact), every address in RFC 5952 form.
import test from 'ava';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Address6 } from 'ip-address';
import type { SparseFreeSet } from '../src/net/sparse-free-set.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon } from './helpers/daemon.js';

const SP = '/apis/spiderpool.spidernet.io/v2beta1';
const WB = '/apis/whereabouts.cni.cncf.io/v1alpha1';
const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const NET = new Address6('fd00:10::/64').bigInt();

/** RFC 5952 text is what ip-address's correctForm() gives. */
const canonical = (a: string) => new Address6(a).correctForm() === a;

const ep = (name: string) => ({ namespace: 'default', name, uid: `uid-${name}`, containerID: `ctr-${name}` });

test('a /64 SpiderIPPool and an IPv4 /24: dual-stack pods through /v1, objects rendered without enumerating, RFC 5952 everywhere', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  // Written the long way: the API stores and prints the canonical form.
  const created = await call(f, 'POST', `${SP}/spiderippools`, {
    body: {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'v6-64' },
      spec: { ipVersion: 6, subnet: 'fd00:10::/64', ips: ['fd00:0010::0-fd00:10:0:0:ffff:ffff:ffff:ffff'], gateway: 'fd00:10:0::1', excludeIPs: ['fd00:10::1'], routes: [{ dst: 'fd00:99:0::/48', gw: 'FD00:10::FE' }], default: true },
    },
  });
  t.is(created.status, 201, created.text);
  await f.daemon.allocator.definePool('v4-24', { ipVersion: 4, subnet: '10.90.0.0/24', ips: ['10.90.0.1-10.90.0.254'], gateway: '10.90.0.1', default: true }, { at: AT });

  const pods = 40;
  const got: { v4: string; v6: string }[] = [];
  for (let i = 0; i < pods; i++) {
    const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep(`pod-${i}`), families: [4, 6] } });
    t.is(r.status, 201, r.text);
    const as = r.json().allocations as { ipVersion: number; address: string; prefixLength: number; gateway?: string; routes?: { dst: string; gw: string }[] }[];
    t.deepEqual(as.map((a) => a.ipVersion).sort(), [4, 6]);
    const v6 = as.find((a) => a.ipVersion === 6)!;
    t.true(canonical(v6.address), v6.address);
    t.is(v6.prefixLength, 64);
    t.is(v6.gateway, 'fd00:10::1');
    t.deepEqual(v6.routes, [{ dst: 'fd00:99::/48', gw: 'fd00:10::fe' }]);
    got.push({ v4: as.find((a) => a.ipVersion === 4)!.address, v6: v6.address });
  }
  const v6s = got.map((g) => g.v6);
  t.is(new Set(v6s).size, pods, 'no IPv6 address twice');
  t.is(new Set(got.map((g) => g.v4)).size, pods, 'no IPv4 address twice');
  for (const a of v6s) {
    const off = new Address6(a).bigInt() - NET;
    t.true(off > 0n && off < 1n << 64n, `${a} is inside the /64`);
    t.not(a, 'fd00:10::1', 'the gateway is never handed out');
  }
  // The sparse structure holds runs, not addresses.
  const pool = f.daemon.allocator.model.pools.get('v6-64')!;
  t.false(pool.offsets.dense);
  t.is(pool.offsets.total, (1n << 64n) - 2n, 'the whole /64 but the network (subnet-router anycast) address and the gateway');
  t.true((pool.free as SparseFreeSet).intervalCount <= 4, `intervals: ${(pool.free as SparseFreeSet).intervalCount}`);

  const sp = (await call(f, 'GET', `${SP}/spiderippools/v6-64`)).json();
  t.is(sp.spec.subnet, 'fd00:10::/64');
  t.deepEqual(sp.spec.ips, ['fd00:10::-fd00:10::ffff:ffff:ffff:ffff']);
  t.is(sp.spec.gateway, 'fd00:10::1');
  t.is(sp.status.totalIPCount, Number.MAX_SAFE_INTEGER, 'int64 upstream; 2^64 saturates at 2^53 - 1');
  t.is(sp.status.allocatedIPCount, pods);
  t.deepEqual(Object.keys(JSON.parse(sp.status.allocatedIPs) as Record<string, unknown>).sort(), [...v6s].sort(), 'allocatedIPs: exactly what is allocated, canonical');

  const wb = (await call(f, 'GET', `${WB}/namespaces/kube-system/ippools/v6-64`)).json();
  t.is(wb.spec.range, 'fd00:10::/64');
  const offsets = Object.keys(wb.spec.allocations).sort();
  t.deepEqual(offsets, v6s.map((a) => (new Address6(a).bigInt() - NET).toString(10)).sort(), 'offsets in decimal, exact past 2^53');

  // A release shows at once; the CLI prints the same canonical objects.
  const rel = await call(f, 'POST', '/v1/releases', { body: { containerID: 'ctr-pod-0' } });
  t.is(rel.status, 200, rel.text);
  t.is((await call(f, 'GET', `${SP}/spiderippools/v6-64`)).json().status.allocatedIPCount, pods - 1);
  const table = await new Promise<string>((ok, fail) =>
    execFile(process.execPath, [CLI, '--socket', f.socket, 'get', 'sp'], { timeout: 60_000 }, (err, stdout, stderr) => (err ? fail(new Error(stderr)) : ok(stdout))),
  );
  t.regex(table, new RegExp(`^v6-64\\s+6\\s+fd00:10::/64\\s+${pods - 1}\\s+${Number.MAX_SAFE_INTEGER}\\s+true$`, 'm'));
});

test('a Whereabouts IPPool over a /64 through the Kubernetes-style API: canonical range, the allocation at its exact offset', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  const body = { apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'IPPool', metadata: { name: 'wb-64', namespace: 'kube-system' }, spec: { range: 'fd00:0020:0::/64', allocations: {} } };
  const created = await call(f, 'POST', `${WB}/namespaces/kube-system/ippools`, { body });
  t.is(created.status, 201, created.text);
  t.is(created.json().spec.range, 'fd00:20::/64');
  const r = await call(f, 'POST', '/v1/allocations', { body: { endpoint: ep('wb-pod'), pools: { ipv6: ['wb-64'] } } });
  t.is(r.status, 201, r.text);
  const address = r.json().allocations[0].address as string;
  t.true(canonical(address));
  const wb = (await call(f, 'GET', `${WB}/namespaces/kube-system/ippools/wb-64`)).json();
  const offset = new Address6(address).bigInt() - new Address6('fd00:20::').bigInt();
  t.deepEqual(Object.keys(wb.spec.allocations), [offset.toString(10)]);
  t.true(offset < 1n << 63n, 'inside the first /65: Whereabouts reads offsets as int64');
  t.is((await call(f, 'GET', `${SP}/spiderippools/wb-64`)).json().status.totalIPCount, Number.MAX_SAFE_INTEGER);
});
