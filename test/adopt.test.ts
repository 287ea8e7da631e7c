// Migration: a populated Whereabouts pool (IPPool spec.allocations + an OverlappingRangeIPReservation) and a populated
// SpiderIPPool (v2beta1 status.allocatedIPs + SpiderEndpoints), shaped as `kubectl get -o yaml` prints them, are
// adopted by `ipam adopt`; running pods keep their addresses, 1,000 more allocations never hand one out twice (log
// invariants), a second run adopts nothing, conflicts write nothing, and `ipam apply` refuses to drop allocations.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { adopt, AdoptConflictError } from '../src/cli/commands/adopt.js';
import { apply } from '../src/cli/commands/apply.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { judge } from '../src/k8s/gc-decide.js';
import { isInputError } from '../src/net/errors.js';
import { encodeAllocatedIPs, poolIPAllocationJson } from '../src/upstream/spiderpool/status.js';
import { AT, openAllocator, replay, request } from './helpers/alloc.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const WB = 50;
const SP = 50;

const wbAddr = (i: number) => `10.60.${Math.floor((i + 1) / 256)}.${(i + 1) % 256}`; // offset i + 1 from 10.60.0.0
const spAddr = (i: number) => `10.61.0.${10 + i}`;

function input(over: { duplicate?: boolean } = {}) {
  const allocations: Record<string, { id: string; podref: string; ifname: string }> = {};
  for (let i = 0; i < WB; i++) allocations[String(i + 1)] = { id: `ctr-wb-${i}`, podref: `default/wb-${i}`, ifname: 'net1' };
  const held: [string, string][] = [];
  for (let i = 0; i < SP; i++) held.push([spAddr(i), poolIPAllocationJson({ pod: `shop/sp-${i}`, podUid: `uid-sp-${i}` })]);
  if (over.duplicate) held.push([wbAddr(3).replace('10.60', '10.61'), poolIPAllocationJson({ pod: 'shop/intruder', podUid: 'uid-x' })]);
  const items: object[] = [
    {
      apiVersion: 'whereabouts.cni.cncf.io/v1alpha1',
      kind: 'IPPool',
      metadata: { name: '10.60.0.0-22', namespace: 'kube-system', resourceVersion: '812', uid: 'a1b2' },
      spec: { range: '10.60.0.0/22', allocations },
    },
    // Whereabouts writes one per address too; the same holder as the IPPool's entry is one claim.
    { apiVersion: 'whereabouts.cni.cncf.io/v1alpha1', kind: 'OverlappingRangeIPReservation', metadata: { name: wbAddr(0), namespace: 'kube-system' }, spec: { containerid: 'ctr-wb-0', podref: 'default/wb-0', ifname: 'net1' } },
    { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderSubnet', metadata: { name: 'subnet-61' }, spec: { ipVersion: 4, subnet: '10.61.0.0/22', ips: ['10.61.0.2-10.61.3.250'], gateway: '10.61.0.1' }, status: { controlledIPPools: '{"sp-61":{"ips":["10.61.0.10-10.61.3.250"]}}', totalIPCount: 1017, allocatedIPCount: 1009 } },
    {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderIPPool',
      metadata: { name: 'sp-61', labels: { 'ipam.spidernet.io/ippool-cidr': '10-61-0-0-22' } },
      spec: { ipVersion: 4, subnet: '10.61.0.0/22', ips: ['10.61.0.10-10.61.3.250'], gateway: '10.61.0.1', default: false, disable: false },
      status: { allocatedIPs: encodeAllocatedIPs(held), allocatedIPCount: held.length, totalIPCount: 1009 },
    },
    {
      apiVersion: 'spiderpool.spidernet.io/v2beta1',
      kind: 'SpiderEndpoint',
      metadata: { name: 'sp-0', namespace: 'shop' },
      status: { current: { uid: 'uid-sp-0', node: 'node-1', ips: [{ interface: 'eth0', ipv4: `${spAddr(0)}/22`, ipv4Pool: 'sp-61', ipv4Gateway: '10.61.0.1', vlan: 0 }] }, ownerControllerType: 'StatefulSet', ownerControllerName: 'sp' },
    },
  ];
  return stringify({ apiVersion: 'v1', kind: 'List', items });
}

async function quietly<T>(fn: () => Promise<T>): Promise<{ value?: T; error?: unknown; out: string }> {
  const write = process.stdout.write.bind(process.stdout);
  let out = '';
  process.stdout.write = ((s: string) => ((out += s), true)) as typeof process.stdout.write;
  try {
    return { value: await fn(), out };
  } catch (error) {
    return { error, out };
  } finally {
    process.stdout.write = write;
  }
}

test.serial('adopt keeps every running pod\'s address; 1,000 more allocations hand none out twice', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'ipam-adopt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const g = { etcd: endpoints.join(','), prefix, dataDir: dir };
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, input());

  // apply would drop the allocations: refused, pointing at ipam adopt; nothing written.
  const items = (parse(input()) as { items: { kind: string }[] }).items;
  for (const kind of ['IPPool', 'SpiderIPPool']) {
    const only = join(dir, `${kind}.yaml`);
    writeFileSync(only, stringify(items.find((i) => i.kind === kind)));
    const refused = await quietly(() => apply(g, { file: only, dryRun: false, validate: 'warn' }));
    t.true(isInputError(refused.error), String(refused.error));
    t.regex(String((refused.error as Error).message), kind === 'IPPool' ? /^spec\.allocations: holds 50 allocation/ : /^status\.allocatedIPs: holds 50 allocation/);
    t.regex(String((refused.error as Error).message), /ipam adopt -f FILE/);
  }

  const f = await openAllocator(prefix);
  t.teardown(() => f.close());
  t.is(await f.store.headRevision(), 0, 'apply wrote nothing');

  const dry = await quietly(() => adopt(g, { file, dryRun: true }));
  t.is(dry.error, undefined, String(dry.error));
  t.regex(dry.out, /100 of 102 claim\(s\) would be adopted, 0 already held \(dry run\)/); // wb-0 and sp-0 are found twice
  t.regex(dry.out, new RegExp(`${wbAddr(0).replace(/\./g, '\\.')} default/wb-0/net1 \\(pool 10\\.60\\.0\\.0-22\\) adopted \\(dry run\\)`));
  t.is(await f.store.headRevision(), 0, 'a dry run writes nothing');

  const real = await quietly(() => adopt(g, { file, dryRun: false }));
  t.is(real.error, undefined, String(real.error));
  t.regex(real.out, /100 of 102 claim\(s\) adopted, 0 already held/);
  await f.allocator.sync();
  const m = f.allocator.model;
  for (let i = 0; i < WB; i++) t.is(m.byEndpoint.get(`default/wb-${i}/net1`)?.[0]?.address, wbAddr(i));
  for (let i = 0; i < SP; i++) t.is(m.byEndpoint.get(`shop/sp-${i}/eth0`)?.[0]?.address, spAddr(i));
  const sp0 = m.byEndpoint.get('shop/sp-0/eth0')![0]!;
  t.like(sp0.endpoint, { uid: 'uid-sp-0', node: 'node-1', owner: { kind: 'StatefulSet', name: 'sp' } }, 'the SpiderEndpoint enriched its pool entry');
  t.is(sp0.gateway, '10.61.0.1');

  // Running pods asking again get what they hold (CNI ADD of the same container is reused).
  const again = await f.allocator.allocate(request('wb-3', { pools: { ipv4: ['10.60.0.0-22'] } }, { containerID: 'ctr-wb-3', uid: '', nic: 'net1' }));
  t.true(again.reused);
  t.is(again.allocations[0]!.address, wbAddr(3));

  // A second run adopts nothing new.
  const second = await quietly(() => adopt(g, { file, dryRun: false }));
  t.regex(second.out, /0 of 102 claim\(s\) adopted, 100 already held/);

  // 1,000 more, 50 at a time, across both pools.
  const results = [];
  for (let b = 0; b < 20; b++) {
    results.push(...(await Promise.all(Array.from({ length: 50 }, (_, k) => {
      const n = b * 50 + k;
      return f.allocator.allocate(request(`new-${n}`, { pools: { ipv4: [n % 2 ? 'sp-61' : '10.60.0.0-22'] } }));
    }))));
  }
  const addresses = results.map((r) => r.allocations[0]!.address);
  t.is(new Set(addresses).size, 1000, 'no two new pods share an address');
  const adopted = new Set([...Array.from({ length: WB }, (_, i) => wbAddr(i)), ...Array.from({ length: SP }, (_, i) => spAddr(i))]);
  t.deepEqual(addresses.filter((a) => adopted.has(a)), [], 'no adopted address was handed out again');
  const events = [];
  for await (const e of f.store.read()) events.push(e);
  const check = checkAllocationLog(events);
  t.deepEqual({ duplicates: check.duplicates, badReleases: check.badReleases, live: check.live }, { duplicates: 0, badReleases: 0, live: 1100 }, check.details.join('\n'));
  t.is(events.filter((e) => e.event.type === 'IPAllocated' && e.event.data.reason === 'adopted').length, 100);
  t.is((await replay(f.store)).byId.size, 1100, 'a replay agrees');
});

test.serial('conflicts are reported and nothing is written; a held address is never taken over', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const dir = mkdtempSync(join(tmpdir(), 'ipam-adopt-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const g = { etcd: endpoints.join(','), prefix, dataDir: dir };
  const f = await openAllocator(prefix);
  t.teardown(() => f.close());
  // The log already gives 10.61.0.12 (sp-2's address in the input) to someone else.
  await f.allocator.defineSubnet('subnet-61', { ipVersion: 4, subnet: '10.61.0.0/22', ips: ['10.61.0.2-10.61.3.250'], gateway: '10.61.0.1' }, { at: AT });
  await f.allocator.definePool('sp-61', { ipVersion: 4, subnet: '10.61.0.0/22', ips: ['10.61.0.12'], gateway: '10.61.0.1' }, { at: AT });
  await f.allocator.allocate(request('squatter', { pools: { ipv4: ['sp-61'] } }));
  const before = await f.store.headRevision();
  const file = join(dir, 'dup.yaml');
  writeFileSync(file, input({ duplicate: true }));
  const stderr: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((s: string) => (stderr.push(s), true)) as typeof process.stderr.write;
  let r;
  try {
    r = await quietly(() => adopt(g, { file, dryRun: false }));
  } finally {
    process.stderr.write = write;
  }
  t.true(r.error instanceof AdoptConflictError, String(r.error));
  t.regex(stderr.join(''), /conflict: 10\.61\.0\.12 \(pool sp-61\): held in the log by default\/squatter\/eth0/);
  t.regex(stderr.join(''), /conflict: 10\.61\.0\.\d+ \(pool sp-61\): not an address pool sp-61 hands out/, 'the log\'s pool (one address) stands; the input\'s wider spec is not applied');
  t.is(await f.store.headRevision(), before, 'nothing written');
});

test.serial('GC: an adopted allocation without a pod uid (Whereabouts keeps none) belongs to the running pod of that name', (t) => {
  const rec = { allocationId: 'a', pool: 'p', ipVersion: 4 as const, address: '10.0.0.2', prefixLength: 24, value: 0x0a000002n, revision: 1, endpoint: { namespace: 'default', name: 'wb-0', uid: '', containerID: 'c', node: '', nic: 'net1' } };
  t.deepEqual(judge(rec, { uid: 'real-uid', phase: 'Running' }), { release: false, why: 'pod running' });
  t.like(judge(rec, undefined), { release: true, reason: 'pod-gone' });
  t.like(judge({ ...rec, endpoint: { ...rec.endpoint, uid: 'old' } }, { uid: 'real-uid', phase: 'Running' }), { release: true, reason: 'orphan' });
});
