import test from 'ava';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AllocError } from '../src/alloc/errors.js';
import { AT, openAllocator, request } from './helpers/alloc.js';
import { sharedEtcd } from './helpers/store.js';

/** Starts the workers, waits until all are ready, releases them together, collects their stdout. */
async function race(args: string[][], env: NodeJS.ProcessEnv): Promise<string[]> {
  const kids = args.map((a) => spawn(process.execPath, a, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
  const outs = kids.map((k) => {
    let out = '';
    k.stdout.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise<string>((resolve, reject) => k.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`worker exited ${code}`)))));
  });
  await Promise.all(kids.map((k) => new Promise<void>((resolve) => k.stderr.on('data', (d: Buffer) => d.toString().includes('ready') && resolve()))));
  for (const k of kids) k.stdin.write('go\n');
  return Promise.all(outs);
}

const worker = fileURLToPath(new URL('./fixtures/alloc-worker.js', import.meta.url));

test('3 OS processes x 64 concurrent requests fill one /22 pool: every address at most once, one IPAllocated per success, clean exhaustion', async (t) => {
  const { endpoints } = await sharedEtcd();
  const f = await openAllocator();
  t.teardown(() => f.close());
  await f.allocator.definePool('p22', { ipVersion: 4, subnet: '10.20.0.0/22', ips: ['10.20.0.0-10.20.3.255'], gateway: '10.20.0.1' }, { at: AT });
  const usable = Number(f.allocator.model.pools.get('p22')!.offsets.total);
  t.is(usable, 1024 - 3, 'network, broadcast and gateway are never handed out');

  const outs = await race(
    ['a', 'b', 'c'].map((name) => [worker, f.prefix, name, '64']),
    { ...process.env, ETCD_ENDPOINTS: endpoints.join(',') },
  );
  const reports = outs.map((o) => JSON.parse(o) as { name: string; wins: { allocationId: string; address: string; pod: string }[]; errors: Record<string, number>; conflicts: number });
  const wins = reports.flatMap((r) => r.wins);
  t.is(wins.length, usable, 'the pool was filled exactly');
  t.is(new Set(wins.map((w) => w.address)).size, usable, 'no address handed out twice');
  for (const r of reports) {
    t.deepEqual(Object.keys(r.errors), ['PoolExhausted'], `${r.name} saw only clean exhaustion: ${JSON.stringify(r.errors)}`);
  }
  // Writes from several processes really interleaved (a process starved by a loaded machine may find the pool
  // already full: 1,021 addresses go in a fraction of a second).
  t.true(reports.filter((r) => r.wins.length > 0).length >= 2, 'at least two processes got addresses');
  t.log(`wins per process: ${reports.map((r) => `${r.name}=${r.wins.length} (conflicts ${r.conflicts})`).join(', ')}`);

  // The log agrees: exactly one IPAllocated per acknowledged allocation, none extra, no address twice.
  const logged = new Map<string, string>();
  const addresses = new Set<string>();
  for await (const e of f.store.read({ types: ['IPAllocated'] })) {
    const d = e.event.data as { allocationId: string; address: string };
    t.false(logged.has(d.allocationId));
    t.false(addresses.has(d.address), `${d.address} allocated twice in the log`);
    logged.set(d.allocationId, d.address);
    addresses.add(d.address);
  }
  t.is(logged.size, wins.length);
  for (const w of wins) t.is(logged.get(w.allocationId), w.address);

  await f.allocator.sync();
  const err = await t.throwsAsync(f.allocator.allocate(request('late', { pools: { ipv4: ['p22'] } })));
  t.true(err instanceof AllocError && err.code === 'PoolExhausted', err?.message);
  t.regex(err!.message, /pool p22 is exhausted \(1021\/1021 allocated\)/);
});
