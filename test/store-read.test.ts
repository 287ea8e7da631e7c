import test from 'ava';
import { MalformedEventError } from '../events/codec.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { REORDER_WINDOW } from '../src/store/committer.js';
import { PageBuffers } from '../src/store/reader.js';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, sharedEtcd } from './helpers/store.js';

test('reads come back in global order (revision, then position), in small pages, with filters and bounds', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const acks = await Promise.all(
    Array.from({ length: 500 }, (_, i) => {
      const ip = `10.1.${i >> 8}.${i & 255}`;
      return f.store.append([allocated(f.store.newId(), ip, `p${i}`)], allocationCondition(ip, `p${i}`, r0)).then((r) => ({ ...r, ip }));
    }),
  );
  const expected = [...acks].sort((a, b) => a.revision - b.revision || a.position! - b.position!).map((a) => a.ip);
  const got: string[] = [];
  let prev = [0, -1];
  for await (const e of f.store.read({ pageSize: 3 })) {
    t.true(e.revision > prev[0]! || (e.revision === prev[0] && e.position > prev[1]!), 'strictly increasing');
    prev = [e.revision, e.position];
    got.push((e.event.data as { address: string }).address);
  }
  t.deepEqual(got, expected);
  const mid = acks.map((a) => a.revision).sort((a, b) => a - b)[250]!;
  const after: string[] = [];
  for await (const e of f.store.read({ after: mid })) after.push((e.event.data as { address: string }).address);
  t.deepEqual(after, expected.filter((_, i) => [...acks].sort((a, b) => a.revision - b.revision || a.position! - b.position!)[i]!.revision > mid));
  const until: number[] = [];
  for await (const e of f.store.read({ until: mid })) until.push(e.revision);
  t.true(until.every((r) => r <= mid) && until.length === expected.length - after.length);
  const tagged = [];
  for await (const e of f.store.read({ tags: ['ep:default/p7/eth0'] })) tagged.push(e);
  t.is(tagged.length, 1);
  const none = [];
  for await (const e of f.store.read({ types: ['PoolDefined'] })) none.push(e);
  t.is(none.length, 0);
  await f.close();
});

test('a writer with a stale revision hint still lands in global order, and one staler than the window is made to refresh', async (t) => {
  const f = await openStore();
  const { endpoints } = await sharedEtcd();
  const lateClient = openEtcd({ endpoints });
  const late = new EventStore(lateClient, { prefix: f.prefix });
  await late.open(); // its hint stays at this revision until it next hears from etcd
  const r0 = await f.store.currentRevision();
  for (let i = 0; i < 20; i++) await f.store.append([allocated(f.store.newId(), `10.2.0.${i}`, `a${i}`)], allocationCondition(`10.2.0.${i}`, `a${i}`, r0));
  const stale = await late.append([allocated(late.newId(), '10.2.1.1', 'late')]);
  const revs: number[] = [];
  for await (const e of f.store.read()) revs.push(e.revision);
  t.deepEqual(revs, [...revs].sort((a, b) => a - b));
  t.is(revs[revs.length - 1], stale.revision, 'the late record is last although its key sorts first');
  // Reading after a revision above the late record's hint still finds it (etcd filters that key window by revision).
  const tail: number[] = [];
  for await (const e of f.store.read({ after: stale.revision - 1 })) tail.push(e.revision);
  t.deepEqual(tail, [stale.revision]);

  // Push etcd's revision beyond the window with writes inside the prefix, then one commit moves head.
  const late2Client = openEtcd({ endpoints });
  const late2 = new EventStore(late2Client, { prefix: f.prefix });
  await late2.open();
  const noise = Buffer.from(`${f.prefix}noise`);
  for (let i = 0; i < REORDER_WINDOW + 10; i += 100) {
    await Promise.all(Array.from({ length: 100 }, () => f.client.kv.put({ key: noise, value: Buffer.from('x') })));
  }
  await f.store.currentRevision();
  await f.store.append([allocated(f.store.newId(), '10.2.2.1', 'fresh')]);
  const before = late2.stats.txnFailures;
  const res = await late2.append([allocated(late2.newId(), '10.2.2.2', 'late2')]);
  t.is(late2.stats.txnFailures, before + 1, 'the stale hint was refused once');
  const all: number[] = [];
  for await (const e of f.store.read()) all.push(e.revision);
  t.is(all[all.length - 1], res.revision);
  t.deepEqual(all, [...all].sort((a, b) => a - b));
  await late.close();
  await late2.close();
  lateClient.close();
  late2Client.close();
  await f.close();
});

test('a malformed record or unknown event type is reported with its key, never silently dropped', async (t) => {
  const f = await openStore();
  await f.store.append([allocated(f.store.newId(), '10.3.0.1', 'a')]);
  const head = await f.store.headRevision();
  const badKey = f.store.keys.record(head, 'zzzz', 1);
  await f.client.kv.put({ key: Buffer.from(badKey), value: Buffer.from('[{"id":"x","type":"IPStolen","v":1,"at":"","tags":["a"],"data":{}}]') });
  const junkKey = f.store.keys.record(head, 'zzzz', 2);
  await f.client.kv.put({ key: Buffer.from(junkKey), value: Buffer.from('not json') });
  const err = await t.throwsAsync(async () => {
    for await (const _ of f.store.read()) void _;
  });
  t.true(err instanceof MalformedEventError);
  t.true((err as MalformedEventError).key.startsWith(badKey), (err as MalformedEventError).key);
  t.regex(err!.message, /unknown event type "IPStolen"/);
  const reported: MalformedEventError[] = [];
  const good = [];
  for await (const e of f.store.read({ onMalformed: (m) => reported.push(m) })) good.push(e);
  t.is(good.length, 1);
  t.deepEqual(reported.map((r) => r.key), [`${badKey}#0`, junkKey]);
  await f.close();
});

test('parallel range reads over disjoint parts of the log hand out the same commits in order, whatever the pages in flight', async (t) => {
  const f = await openStore();
  const { endpoints } = await sharedEtcd();
  // Writers whose hints go stale by different amounts (each hears from etcd only when it commits), and a stretch of
  // revisions spent outside the log (a sparse part of the key range, which widens the segments).
  const clients = Array.from({ length: 4 }, () => openEtcd({ endpoints }));
  const writers = clients.map((c) => new EventStore(c, { prefix: f.prefix }));
  for (const w of writers) await w.open();
  const acks: { revision: number; position: number; id: string }[] = [];
  const noise = Buffer.from(`${f.prefix}noise`);
  for (let round = 0; round < 6; round++) {
    await Promise.all(
      writers.flatMap((w, k) =>
        Array.from({ length: 12 }, (_, i) => {
          const id = w.newId();
          const ip = `10.9.${round * 4 + k}.${i}`;
          return w.append([allocated(id, ip, `p${round}-${k}-${i}`), allocated(`${id}-6`, `fd00::${round * 64 + k * 16 + i}`, `p${round}-${k}-${i}`)]).then((r) => {
            acks.push({ revision: r.revision, position: r.position!, id });
          });
        }),
      ),
    );
    if (round === 2) for (let i = 0; i < 40; i++) await f.client.kv.put({ key: noise, value: Buffer.from('x') });
  }
  const expected = acks.sort((a, b) => a.revision - b.revision || a.position - b.position).flatMap((a) => [a.id, `${a.id}-6`]);
  for (const [pageSize, readsInFlight, eventsPerPage] of [[256, 1, 2048], [4, 1, 2048], [4, 3, 2048], [3, 8, 2048], [1, 16, 2048], [256, 4, 5], [8, 2, 1]] as const) {
    const got: string[] = [];
    let through = 0;
    for await (const page of f.store.readPages({ pageSize, readsInFlight, eventsPerPage })) {
      for (const e of page.events) {
        t.true(e.revision > through && e.revision <= page.through, `a page holds commits after the last page's through and up to its own (${pageSize}/${readsInFlight})`);
        got.push(e.event.id);
      }
      t.true(page.through >= through);
      through = page.through;
    }
    t.deepEqual(got, expected, `pages of ${pageSize}, ${readsInFlight} in flight`);
  }
  // From the middle (a resume after a commit revision): exactly the commits after it.
  const mid = acks[Math.floor(acks.length / 2)]!.revision;
  const tail: string[] = [];
  for await (const e of f.store.read({ after: mid, afterIsCommit: true, pageSize: 5, readsInFlight: 4 })) tail.push(e.event.id);
  t.deepEqual(tail, acks.filter((a) => a.revision > mid).flatMap((a) => [a.id, `${a.id}-6`]));
  for (const w of writers) await w.close();
  for (const c of clients) c.close();
  await f.close();
});

test('pages are sized to fit one gRPC message: a reader whose receive limit is small reads a log of large records whole', async (t) => {
  const f = await openStore();
  const { endpoints } = await sharedEtcd();
  // Records of 60 events (~12 KB): 256 of them (the default page) would be far over this reader's 256 KiB limit.
  for (let r = 0; r < 30; r++) {
    await f.store.append(Array.from({ length: 60 }, (_, i) => allocated(f.store.newId(), `10.8.${r}.${i}`, `pod-with-a-long-name-${'x'.repeat(40)}-${r}-${i}`)));
  }
  const { Etcd3 } = await import('etcd3');
  const small = new Etcd3({ hosts: endpoints, grpcOptions: { 'grpc.max_receive_message_length': 256 * 1024 } });
  const reader = new EventStore(small, { prefix: f.prefix });
  const ids: string[] = [];
  for await (const e of reader.read({ readsInFlight: 3, maxPageBytes: 64 * 1024 })) ids.push(e.event.id);
  const all: string[] = [];
  for await (const e of f.store.read()) all.push(e.event.id);
  t.is(all.length, 1800);
  t.deepEqual(ids, all);
  small.close();
  await f.close();
});

test('page buffers: a response is copied whole; its buffer is reused only once every record in it is done, and few are kept', (t) => {
  const kv = (k: string, v: string, rev: number) => ({ key: Buffer.from(k), modRevision: rev, value: Buffer.from(v) });
  const pages = new PageBuffers(1);
  const a = pages.copy({ revision: 9, more: true, kvs: [kv('k1', 'one', 3), kv('k2', 'two', 4)] });
  t.deepEqual(a.kvs.map((x) => [x.key.toString(), x.value.toString(), x.modRevision]), [['k1', 'one', 3], ['k2', 'two', 4]]);
  t.like(a, { revision: 9, more: true });
  const b = pages.copy({ revision: 9, more: false, kvs: [kv('k3', 'three', 5)] });
  t.not(b.kvs[0]!.value.buffer, a.kvs[0]!.value.buffer, 'a buffer still in use is not handed out again');
  pages.done([a.kvs[0]!]);
  const c = pages.copy({ revision: 9, more: false, kvs: [kv('k4', 'four', 6)] });
  t.not(c.kvs[0]!.value.buffer, a.kvs[0]!.value.buffer, 'one record of the first response is not done yet');
  t.is(a.kvs[1]!.value.toString(), 'two');
  pages.done([a.kvs[1]!]);
  pages.done(b.kvs); // a second free buffer: over the bound of 1, dropped
  const d = pages.copy({ revision: 9, more: false, kvs: [kv('k5', 'five', 7)] });
  t.is(d.kvs[0]!.value.buffer, a.kvs[0]!.value.buffer, 'reused once empty');
  t.is(d.kvs[0]!.value.toString(), 'five');
  const e = pages.copy({ revision: 9, more: false, kvs: [kv('k6', 'six', 8)] });
  t.not(e.kvs[0]!.value.buffer, b.kvs[0]!.value.buffer, 'only one free buffer was kept');
});
