// The local etcd compacts its history by itself, and the engine never needs what it compacted: a subscription and an
// allocator keep going, every event once, while etcd compacts under them. And it runs with its Go GC settings.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { Allocator } from '../src/alloc/allocator.js';
import { LOCAL_ETCD_GO_ENV, LocalEtcd } from '../src/local/etcd.js';
import { openEtcd } from '../src/store/connect.js';
import { sleep } from '../src/local/ports.js';
import { openStore } from './helpers/store.js';

const AT = '2026-01-01T00:00:00Z';

test('auto-compaction is on, and allocations, releases and a subscription go on across compactions', async (t) => {
  // The shipped flags (periodic mode) with a 1 s retention instead of 1 min, so compactions happen during the test.
  const etcd = await LocalEtcd.start({ extraArgs: ['--auto-compaction-retention=1s'] });
  t.teardown(() => etcd.stop());
  const f = await openStore({}, etcd.endpoints);
  t.teardown(() => f.close());
  const a = new Allocator(f.store);
  await a.start();
  await a.definePool('p', { ipVersion: 4, subnet: '10.87.0.0/24', ips: ['10.87.0.1-10.87.0.254'] }, { at: AT });
  const seen: number[] = [];
  const sub = f.store.subscribe({ after: 0, onEvents: (events) => void seen.push(...events.map((e) => e.revision)) });
  const firstRev = await f.store.currentRevision();

  let compacted = false;
  const deadline = Date.now() + 20_000;
  let i = 0;
  while (Date.now() < deadline && (!compacted || i < 40)) {
    const r = await a.allocate({ endpoint: { namespace: 'c', name: `p${i}`, uid: `u${i}`, containerID: `c${i}`, nic: 'eth0', node: 'n' }, pools: { ipv4: ['p'] }, at: AT });
    t.is(r.allocations.length, 1);
    if (i >= 5) await a.releaseContainer(`c${i - 5}`, undefined, AT);
    i++;
    if (!compacted) {
      compacted = await f.client.kv.range({ key: Buffer.from(f.prefix), revision: String(firstRev) }).then(
        () => false,
        (e: Error) => /compacted/.test(e.message),
      );
    }
    await sleep(50);
  }
  t.true(compacted, 'etcd compacted its history by itself');
  await sub.sync();
  // Every commit delivered once, in order, although etcd dropped the history the watch started from.
  const commits: number[] = [];
  for await (const e of f.store.read()) commits.push(e.revision);
  t.deepEqual(seen, commits);
  t.is(a.model.pools.get("p")?.allocated ?? -1, 5);
  await sub.close();
  await a.stop();
});

test("the local etcd runs with its Go GC settings (LOCAL_ETCD_GO_ENV): it collects far less often per put than with Go's defaults", async (t) => {
  const cycles = async (env: Record<string, string>) => {
    const saved = { GOGC: process.env.GOGC, GOMEMLIMIT: process.env.GOMEMLIMIT };
    Object.assign(process.env, env);
    let etcd: LocalEtcd;
    try {
      etcd = await LocalEtcd.start({});
    } finally {
      for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    try {
      const environ = readFileSync(`/proc/${etcd.members[0]!.pid}/environ`, 'utf8').split('\0');
      const gcs = async () => Number(/^go_gc_duration_seconds_count (\S+)$/m.exec(await (await fetch(`${etcd.endpoints[0]}/metrics`)).text())?.[1]);
      const client = openEtcd({ endpoints: etcd.endpoints });
      try {
        const value = Buffer.alloc(200, 'x');
        await client.put('/warm').value(value);
        const before = await gcs();
        for (let i = 0; i < 4000; i += 20) await Promise.all(Array.from({ length: 20 }, (_, k) => client.put(`/k/${(i + k) % 1000}`).value(value)));
        return { environ, cycles: (await gcs()) - before };
      } finally {
        client.close();
      }
    } finally {
      await etcd.stop();
    }
  };
  const shipped = await cycles({});
  t.true(shipped.environ.includes(`GOGC=${LOCAL_ETCD_GO_ENV.GOGC}`), 'etcd got the setting');
  const goDefaults = await cycles({ GOGC: '100', GOMEMLIMIT: 'off' });
  t.true(goDefaults.environ.includes('GOGC=100'), "the environment's own value wins");
  t.log(`GC cycles: ${shipped.cycles} vs ${goDefaults.cycles}`);
  t.true(shipped.cycles * 2 <= goDefaults.cycles, `GC cycles for 4,000 puts: ${shipped.cycles} shipped vs ${goDefaults.cycles} with Go's defaults`);
});
