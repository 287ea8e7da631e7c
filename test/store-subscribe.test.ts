import test from 'ava';
import type { StoredEvent } from '../events/envelope.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { allocated } from './helpers/events.js';
import { freshPrefix, openStore } from './helpers/store.js';

function collector() {
  const seen: StoredEvent[] = [];
  return { seen, onEvents: (evs: StoredEvent[]) => void seen.push(...evs) };
}

test('a subscription delivers history then live events, each once and in order, and waitFor tracks it', async (t) => {
  const f = await openStore();
  for (let i = 0; i < 30; i++) await f.store.append([allocated(f.store.newId(), `10.4.0.${i}`, `h${i}`)]);
  const c = collector();
  const sub = f.store.subscribe({ after: 0, onEvents: c.onEvents });
  const acks = await Promise.all(Array.from({ length: 200 }, (_, i) => f.store.append([allocated(f.store.newId(), `10.4.1.${i}`, `l${i}`)])));
  await sub.waitFor(Math.max(...acks.map((a) => a.revision)));
  t.is(c.seen.length, 230);
  t.is(new Set(c.seen.map((e) => e.event.id)).size, 230);
  t.deepEqual(c.seen.map((e) => e.revision), [...c.seen.map((e) => e.revision)].sort((a, b) => a - b));
  await sub.close();
  await f.close();
});

test("the writing process's own subscription takes its committed events as appended, equal to another reader's decoded copy", async (t) => {
  // An etcd of its own: a compaction by a neighbouring test would restart the watch, and a re-read decodes as any reader.
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const f = await openStore({}, etcd.endpoints);
  const c = collector();
  const sub = f.store.subscribe({ after: await f.store.currentRevision(), onEvents: c.onEvents });
  await sub.sync();
  const appended = Array.from({ length: 40 }, (_, i) => allocated(f.store.newId(), `10.4.2.${i}`, `own${i}`));
  const acks = await Promise.all(appended.map((e) => f.store.append([e])));
  await sub.waitFor(Math.max(...acks.map((a) => a.revision)));
  // Another process (a store of its own on the same prefix) decodes the same records from etcd.
  const other = new EventStore(f.client, { prefix: f.prefix });
  const decoded: StoredEvent[] = [];
  for await (const e of other.read()) decoded.push(e);
  t.deepEqual(c.seen, decoded);
  // Not decoded again: the subscriber got the very objects that were appended.
  const byId = new Map(appended.map((e) => [e.id, e]));
  t.true(c.seen.every((e) => e.event === byId.get(e.event.id)));
  await sub.close();
  await f.close();
});

test('a subscription whose watch etcd cancels (compaction overtaking it while it catches up) re-reads and goes on', async (t) => {
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const f = await openStore({}, etcd.endpoints);
  const other = await openStore({ prefix: f.prefix }, etcd.endpoints);
  const c = collector();
  const errors: unknown[] = [];
  const sub = f.store.subscribe({ after: 0, onEvents: c.onEvents, onError: (e) => errors.push(e) });
  await sub.sync();
  const mine = Promise.all(Array.from({ length: 40 }, (_, i) => f.store.append([allocated(f.store.newId(), `10.4.3.${i}`, `c${i}`)])));
  for (let i = 0; i < 3; i++) await other.store.append([allocated(other.store.newId(), `10.4.4.${i}`, `o${i}`)]);
  // Before the fix, a watch cancelled this way was "cancelled" again on the way out, waiting forever for etcd.
  await f.client.kv.compact({ revision: String(await f.store.currentRevision()) });
  const acks = await mine;
  await sub.waitFor(Math.max(...acks.map((a) => a.revision)));
  await sub.sync();
  t.is(c.seen.length, 43);
  t.is(new Set(c.seen.map((e) => e.event.id)).size, 43);
  t.log(`watch cancelled by etcd: ${errors.some((e) => String(e).includes('canceled'))}`);
  await sub.close();
  await other.close();
  await f.close();
});

test('a subscription resumes after an etcd restart and after compaction without gaps or repeats', async (t) => {
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const client = openEtcd({ endpoints: etcd.endpoints, callTimeoutMs: 2000 });
  const store = new EventStore(client, { prefix: freshPrefix(), appendTimeoutMs: 30_000 });
  await store.open();
  const c = collector();
  const errors: unknown[] = [];
  const sub = store.subscribe({ after: 0, onEvents: c.onEvents, onError: (e) => errors.push(e) });
  const ids: string[] = [];
  const write = async (n: number, tag: string) => {
    for (let i = 0; i < n; i++) {
      const e = allocated(store.newId(), `10.5.${tag}.${i}`, `${tag}-${i}`);
      await store.append([e]);
      ids.push(e.id);
    }
  };
  await write(50, '1');
  await etcd.members[0]!.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 300));
  etcd.members[0]!.start();
  await etcd.waitHealthy();
  await write(50, '2');
  // Compact away the history the watch would need, then cut the watch by restarting etcd again.
  const rev = await store.currentRevision();
  await client.kv.compact({ revision: rev, physical: true });
  await etcd.members[0]!.stop('SIGTERM');
  etcd.members[0]!.start();
  await etcd.waitHealthy();
  await write(50, '3');
  await sub.sync();
  t.deepEqual(c.seen.map((e) => e.event.id), ids);
  t.true(errors.length > 0, 'the subscription did see trouble');
  await sub.close();
  await store.close();
  client.close();
});

test('a subscription starting from a compacted revision re-reads cleanly instead of leaving a gap', async (t) => {
  const f = await openStore();
  const first = await f.store.append([allocated(f.store.newId(), '10.6.0.1', 'a')]);
  for (let i = 2; i < 12; i++) await f.store.append([allocated(f.store.newId(), `10.6.0.${i}`, `p${i}`)]);
  await f.client.kv.compact({ revision: await f.store.currentRevision() });
  const c = collector();
  const sub = f.store.subscribe({ after: first.revision, onEvents: c.onEvents });
  await sub.sync();
  t.is(c.seen.length, 10);
  await sub.close();
  await f.close();
});
