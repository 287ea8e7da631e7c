// Spiderpool's webhook rules (src/upstream/spiderpool) inside the allocator's config decisions: given the log, when a
// SpiderIPPool / SpiderSubnet / SpiderReservedIP is written, then the stored spec has upstream's defaults, or the
// write is refused at upstream's field and nothing is written.
import test from 'ava';
import { tmpdir } from 'node:os';
import { apply } from '../src/cli/commands/apply.js';
import { startDaemon } from './helpers/daemon.js';
import { spiderpoolAdmission } from '../src/upstream/spiderpool/admission.js';
import { isFieldError } from '../src/upstream/field-error.js';
import { AT, openAllocator, request } from './helpers/alloc.js';

const o = { at: AT, admission: spiderpoolAdmission };
const ROOT = 'test/fixtures/upstream/spidernet-io/spiderpool';

async function refused(t: import('ava').ExecutionContext, p: Promise<unknown>, field: string, message: RegExp, type?: string) {
  const e = await t.throwsAsync(p);
  t.true(isFieldError(e), String(e));
  if (!isFieldError(e)) return;
  t.is(e.field, field, e.message);
  t.regex(e.message, message);
  if (type) t.is(e.type as string, type);
}

test('ipVersion is inferred from spec.subnet (pools, subnets) and spec.ips[0] (reserved IPs)', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.defineSubnet('s6', { subnet: 'fd00:6::/64', ips: ['fd00:6::10-fd00:6::20'] }, o);
  await f.allocator.definePool('p4', { subnet: '10.6.0.0/24', ips: ['10.6.0.10-10.6.0.20'] }, o);
  await f.allocator.reserve('r6', undefined, ['fd00:6::15'], o);
  t.is(f.allocator.model.subnets.get('s6')!.spec.ipVersion, 6);
  t.is(f.allocator.model.pools.get('p4')!.compiled.spec.ipVersion, 4);
  t.is(f.allocator.model.reservations.get('r6')!.ipVersion, 6);
  await refused(t, f.allocator.definePool('nov', { subnet: 'nonsense', ips: ['10.6.0.1'] }, o), 'spec.ipVersion', /is not generated correctly, 'spec.subnet' may be invalid/);
  await refused(t, f.allocator.definePool('nosub', { ips: ['10.6.0.1'] }, o), 'spec.subnet', /Required value/, 'FieldValueRequired');
});

test('a pool in a SpiderSubnet inherits its gateway and routes unless it sets them (InheritSubnetProperties)', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.defineSubnet('s', { subnet: '10.7.0.0/16', ips: ['10.7.0.2-10.7.0.200'], gateway: '10.7.0.1', routes: [{ dst: '10.8.0.0/16', gw: '10.7.0.254' }] }, o);
  await f.allocator.definePool('inherits', { subnet: '10.7.0.0/16', ips: ['10.7.0.10-10.7.0.20'] }, o);
  const spec = f.allocator.model.pools.get('inherits')!.compiled.spec;
  t.is(spec.gateway, '10.7.0.1');
  t.deepEqual(spec.routes, [{ dst: '10.8.0.0/16', gw: '10.7.0.254' }]);
  await f.allocator.definePool('own', { subnet: '10.7.0.0/16', ips: ['10.7.0.30-10.7.0.40'], gateway: '10.7.0.254', routes: [] }, o);
  t.is(f.allocator.model.pools.get('own')!.compiled.spec.gateway, '10.7.0.254', 'its own gateway wins');
  t.is(f.allocator.model.pools.get('own')!.compiled.spec.routes, undefined, 'routes: [] is set (not inherited), and empty');
  // A pod from the inheriting pool gets the subnet's gateway and routes.
  const a = await f.allocator.allocate(request('web-0', { pools: { ipv4: ['inherits'] } }));
  t.is(a.allocations[0]!.gateway, '10.7.0.1');
  t.deepEqual(a.allocations[0]!.routes, [{ dst: '10.8.0.0/16', gw: '10.7.0.254' }]);
  // Outside the subnet's ips: refused at spec.ips (validateSubnetTotalIPsContainsIPPoolTotalIPs).
  await refused(t, f.allocator.definePool('outside', { subnet: '10.7.0.0/16', ips: ['10.7.1.1'] }, o), 'spec.ips', /Forbidden: add some IP ranges \[10\.7\.1\.1\] that are not contained in controller Subnet s/, 'FieldValueForbidden');
});

test('refusals Spiderpool makes that the engine alone would accept, each naming upstream\'s field', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  const types = async () => {
    const out: string[] = [];
    for await (const e of f.store.read()) out.push(e.event.type);
    return out;
  };
  await f.allocator.definePool('a', { subnet: '10.9.0.0/16', ips: ['10.9.0.10-10.9.0.20'] }, o);
  const before = await types();
  // A different subnet that overlaps a's subnet (validateIPPoolCIDR), though no address is shared.
  await refused(t, f.allocator.definePool('b', { subnet: '10.9.128.0/24', ips: ['10.9.128.1'] }, o), 'spec.subnet', /overlap with IPPool a which 'spec.subnet' is 10\.9\.0\.0\/16/);
  // The gateway among the addresses handed out (validateIPPoolGateway).
  await refused(t, f.allocator.definePool('c', { subnet: '10.10.0.0/24', ips: ['10.10.0.1-10.10.0.9'], gateway: '10.10.0.1' }, o), 'spec.ips[0]', /conflicts with 'spec.gateway' 10\.10\.0\.1/);
  // An empty podAffinity (validateIPPoolPodAffinity).
  await refused(t, f.allocator.definePool('d', { subnet: '10.11.0.0/24', ips: ['10.11.0.1'], podAffinity: {} }, o), 'spec.podAffinity', /empty podAffinity is invalid for SpiderIPPool/);
  // A change of spec.subnet or spec.ipVersion (validateIPPoolShouldNotBeChanged).
  await refused(t, f.allocator.changePool('a', { subnet: '10.9.0.0/24', ips: ['10.9.0.10-10.9.0.20'] }, o), 'spec.subnet', /Forbidden: is not changeable/);
  await refused(t, f.allocator.changePool('a', { ipVersion: 6, subnet: '10.9.0.0/16', ips: ['10.9.0.10'] }, o), 'spec.ipVersion', /Forbidden: is not changeable/);
  // Shrinking below an allocated address (validateIPPoolIPInUse).
  const held = await f.allocator.allocate(request('db-0', { pools: { ipv4: ['a'] } }));
  const addr = held.allocations[0]!.address;
  const others = addr === '10.9.0.10' ? '10.9.0.11-10.9.0.20' : '10.9.0.10';
  await refused(t, f.allocator.changePool('a', { subnet: '10.9.0.0/16', ips: [others] }, o), 'spec.ips', new RegExp(`remove an IP address ${addr.replace(/\./g, '\\.')} that is being used by Pod default/db-0`));
  // Subnets: CIDR overlap with another subnet, and a pool of a different overlapping subnet (validateOrphanIPPool).
  await f.allocator.defineSubnet('s1', { subnet: '10.20.0.0/16', ips: ['10.20.0.1'] }, o);
  await refused(t, f.allocator.defineSubnet('s2', { subnet: '10.20.5.0/24', ips: ['10.20.5.1'] }, o), 'spec.subnet', /overlap with Subnet s1 which 'spec.subnet' is 10\.20\.0\.0\/16/);
  await refused(t, f.allocator.defineSubnet('s3', { subnet: '10.9.0.0/24', ips: ['10.9.0.1'] }, o), 'spec.subnet', /overlap with SpiderIPPool 'a' resource 'spec.subnet' 10\.9\.0\.0\/16/);
  await refused(t, f.allocator.changeSubnet('s1', { subnet: '10.21.0.0/16', ips: ['10.21.0.1'] }, o), 'spec.subnet', /is not changeable/);
  await refused(t, f.allocator.reserve('r', 4, ['fd00::1'], o), 'spec.ips[0]', /invalid IPv4 IP range: fd00::1/);
  t.deepEqual(await types(), [...before, 'IPAllocated', 'SubnetDefined'], 'only the allocation and the subnet s1 were written');
});

test('without the admission (the CNI path, benches) the engine keeps its own rules', async (t) => {
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('gw-in-ips', { ipVersion: 4, subnet: '10.30.0.0/24', ips: ['10.30.0.1-10.30.0.9'], gateway: '10.30.0.1' }, { at: AT });
  t.false(f.allocator.model.pools.get('gw-in-ips')!.compiled.usable.contains(0x0a1e0001n), 'the gateway is never handed out');
});

test('ipam apply through the daemon: upstream\'s pool without ipVersion is created, then unchanged on re-apply', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  const file = `${ROOT}/docs/example/basic/custom-ipv4-ippool.yaml`; // no spec.ipVersion
  const g = { prefix: f.prefix, socket: f.socket, dataDir: tmpdir() };
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string) => (lines.push(s.trim()), true)) as typeof process.stdout.write;
  try {
    await apply(g, { file, dryRun: false, validate: 'strict' });
    await apply(g, { file, dryRun: false, validate: 'strict' });
  } finally {
    process.stdout.write = write;
  }
  t.deepEqual(lines, ['spiderippool.spiderpool.spidernet.io/custom-ipv4-ippool created', 'spiderippool.spiderpool.spidernet.io/custom-ipv4-ippool unchanged']);
  t.is(f.daemon.allocator.model.pools.get('custom-ipv4-ippool')!.compiled.spec.ipVersion, 4);
});
