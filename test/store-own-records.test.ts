import test from 'ava';
import type { StoredEvent } from '../events/envelope.js';
import type { DomainEvent } from '../events/catalogue.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { EventStore } from '../src/store/event-store.js';
import { isAppendConditionFailed } from '../src/store/errors.js';
import { OwnRecords } from '../src/store/own-records.js';
import { allocated } from './helpers/events.js';
import { openStore } from './helpers/store.js';

test('own records: taken once by key, forgotten when their txn failed, bounded', (t) => {
  const own = new OwnRecords(4);
  const ev = [allocated('000000000001-aaaaaaaaaa-0', '10.9.0.1', 'a')];
  own.sending('/p/log/k0', ev);
  own.sending('/p/log/k1', ev);
  own.failed('/p/log/k1');
  t.is(own.take(Buffer.from('/p/log/k1'), false), undefined);
  t.is(own.take(Buffer.from('/p/log/k0'), true), ev); // shared: another subscription may still want it
  t.is(own.take(Buffer.from('/p/log/k0'), false), ev);
  t.is(own.take(Buffer.from('/p/log/k0'), false), undefined);
  for (let i = 0; i < 10; i++) own.sending(`/p/log/n${i}`, ev);
  t.is(own.size, 4);
  t.is(own.take(Buffer.from('/p/log/n5'), false), undefined); // dropped by the bound: decoded as any reader would
  t.is(own.take(Buffer.from('/p/log/n9'), false), ev);
});

test('under 1,024 concurrent appends, some failing on conflicts, the own subscription gets every committed event as the appended object, equal to a decoded read', async (t) => {
  // An etcd of its own: a compaction by a neighbouring test would restart the watch, and a re-read decodes as any reader.
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const f = await openStore({}, etcd.endpoints);
  const rival = new EventStore(f.client, { prefix: f.prefix });
  await rival.open();
  const seen: StoredEvent[] = [];
  const sub = f.store.subscribe({ after: await f.store.currentRevision(), onEvents: (evs) => void seen.push(...evs) });
  await sub.sync();
  const after = await f.store.currentRevision();
  // The rival takes every 8th address first: our appends conditioned on those fail, their txns' records never appear.
  await Promise.all(Array.from({ length: 128 }, (_, i) => rival.append([allocated(rival.newId(), `10.5.${i >> 5}.${(i * 8) % 256}`, `r${i}`)])));
  const appended: DomainEvent[] = [];
  const results = await Promise.all(
    Array.from({ length: 1024 }, (_, i) => {
      const e = allocated(f.store.newId(), `10.5.${i >> 8}.${i % 256}`, `own${i}`);
      appended.push(e);
      return f.store.append([e], { tags: [e.tags.find((x) => x.startsWith('ip:'))!], after }).then(
        (r) => r.revision,
        (err: unknown) => {
          if (!isAppendConditionFailed(err)) throw err;
          return undefined;
        },
      );
    }),
  );
  const committed = results.filter((r): r is number => r !== undefined);
  t.true(committed.length > 0 && committed.length < 1024, `${committed.length} committed`);
  await sub.waitFor(Math.max(...committed));
  const decoded: StoredEvent[] = [];
  for await (const e of new EventStore(f.client, { prefix: f.prefix }).read({ after })) decoded.push(e);
  t.deepEqual(seen, decoded);
  // Not decoded again: every event of ours is the very object appended (the watch often shows a record before the
  // txn's answer is processed; the record key was registered when the txn was built).
  const byId = new Map(appended.map((e) => [e.id, e]));
  const ours = seen.filter((e) => byId.has(e.event.id));
  t.is(ours.length, committed.length);
  t.true(ours.every((e) => e.event === byId.get(e.event.id)));
  await sub.close();
  await f.close();
});

test('a store registers own records only while one of its subscriptions is open (a CLI-like store holds none)', async (t) => {
  const f = await openStore();
  t.teardown(() => f.close());
  const append = (i: number) => f.store.append([allocated(f.store.newId(), `10.6.0.${i}`, `p${i}`)]);
  for (let i = 1; i <= 3; i++) await append(i);
  t.is(f.store.ownRecordsHeld, 0, 'no subscription: nothing registered');
  // Two subscriptions: each takes a shared record without removing it, so the records stay held while they are open.
  const after = await f.store.currentRevision();
  const subs = [0, 1].map(() => f.store.subscribe({ after, onEvents: () => undefined }));
  await Promise.all(subs.map((s) => s.sync()));
  for (let i = 4; i <= 6; i++) await append(i);
  t.is(f.store.ownRecordsHeld, 3, 'registered while subscriptions are open');
  await Promise.all(subs.map((s) => s.close()));
  await new Promise((r) => setImmediate(r));
  t.is(f.store.ownRecordsHeld, 0, 'forgotten once the last subscription closed');
  await append(7);
  t.is(f.store.ownRecordsHeld, 0);
});
