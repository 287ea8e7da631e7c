import test from 'ava';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Tag } from '../events/tags.js';
import { openStore, sharedEtcd } from './helpers/store.js';

const run = promisify(execFile);
const worker = fileURLToPath(new URL('./fixtures/append-worker.js', import.meta.url));

test('given 3 OS processes appending conditionally on the same 300 addresses, then each address is won exactly once and the log agrees', async (t) => {
  const { endpoints } = await sharedEtcd();
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const count = 300;
  const outs = await Promise.all(
    ['w0', 'w1', 'w2'].map((name) =>
      run(process.execPath, [worker, f.prefix, name, String(count), String(r0)], { env: { ...process.env, ETCD_ENDPOINTS: endpoints.join(',') } }),
    ),
  );
  const reports = outs.map((o) => JSON.parse(o.stdout) as { name: string; wins: { address: string; revision: number }[]; conflicts: number });
  const wins = reports.flatMap((r) => r.wins.map((w) => ({ ...w, name: r.name })));
  t.is(wins.length, count, 'every address won by someone');
  t.is(new Set(wins.map((w) => w.address)).size, count, 'no address won twice');
  t.is(reports.reduce((n, r) => n + r.conflicts, 0), 2 * count, 'every other attempt was told it conflicted');
  // The log holds exactly the acknowledged wins.
  const byAddress = new Map<string, number>();
  for await (const e of f.store.read({ types: ['IPAllocated'] })) {
    const tag = e.event.tags.find((x) => x.startsWith('ip:'))!;
    byAddress.set(tag, (byAddress.get(tag) ?? 0) + 1);
  }
  t.is(byAddress.size, count);
  t.true([...byAddress.values()].every((n) => n === 1));
  for (const w of wins) t.true(byAddress.has(Tag.ip('default', w.address)));
  await f.close();
});
