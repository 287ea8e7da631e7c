// One `bench model` run in a fresh process (run with --expose-gc): the allocator's read model alone, in-process, no
// etcd: `count` allocations picked from one pool (the engine's pick, the address formatted, the IPAllocated applied,
// as a following daemon applies it), then the heap it holds. Also the free structure alone, filled the same way.
// Uses only what the model had before the sparse structure too, so the same file measures an older build.
import { makeEvent } from '../../events/catalogue.js';
import { AllocatorModel } from '../../src/alloc/model.js';
import { formatAddress, parseCidr } from '../../src/net/address.js';

const [cidrArg, countArg] = process.argv.slice(2);
const count = Number(countArg);
if (!cidrArg || !Number.isInteger(count) || count < 1) throw new Error('usage: worker.js <cidr> <count>');
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/model/worker.js needs --expose-gc (it measures the heap held)');
const mb = (bytes: number) => bytes / (1024 * 1024);
const AT = '2026-01-01T00:00:00Z';

let seed = 42;
const rng = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const c = parseCidr(cidrArg, 'cidr');
const m = new AllocatorModel();
const spec = { ipVersion: c.family, subnet: c.text, ips: [`${formatAddress(c.family, c.first)}-${formatAddress(c.family, c.last)}`] };
m.apply(makeEvent('PoolDefined', { name: 'p', spec }, { id: 'pool-p', at: AT, tags: [] }), 1);
if (m.problems.length > 0) throw new Error(m.problems.join('; '));
const pool = m.pools.get('p')!;
gc();
const before = process.memoryUsage().heapUsed;
const t0 = performance.now();
for (let i = 0; i < count; i++) {
  const o = pool.free.pick(rng);
  if ((o as number) < 0) throw new Error(`pool ${c.text} exhausted after ${i}`);
  const address = formatAddress(c.family, pool.offsets.addressAt(o as number));
  const endpoint = { namespace: 'bench', name: `pod-${i}`, uid: `uid-${i}`, containerID: `ctr-${i}`, node: `node-${i % 100}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: `rs-${i >> 4}` } };
  m.apply(makeEvent('IPAllocated', { allocationId: `a-${i}`, pool: 'p', ipVersion: c.family, address, prefixLength: c.prefix, endpoint }, { id: `a-${i}`, at: AT, tags: [] }), i + 2);
}
const seconds = (performance.now() - t0) / 1000;
gc();
const heldMB = mb(process.memoryUsage().heapUsed - before);
if (m.byId.size !== count || pool.allocated !== count) throw new Error(`expected ${count} live allocations, the model holds ${m.byId.size} (${pool.allocated} in the pool)`);
process.stdout.write(JSON.stringify({ pool: c.text, count, allocsPerSec: count / seconds, heldMB, bytesPerAllocation: (heldMB * 1024 * 1024) / count }) + '\n');
