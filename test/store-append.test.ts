import test from 'ava';
import { isAppendConditionFailed, AppendConditionFailed, AppendRejected, EtcdNoSpace, ETCD_NOSPACE_MESSAGE } from '../src/store/errors.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { Tag } from '../events/tags.js';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, freshPrefix } from './helpers/store.js';
import { appendWithLostAnswer } from './helpers/proxy.js';
import { LocalEtcd } from '../src/local/etcd.js';

async function all(store: EventStore) {
  const out = [];
  for await (const e of store.read()) out.push(e);
  return out;
}

test('given untouched tags, when appending with a condition, then it commits and touches every tag it carries', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const res = await f.store.append([allocated(f.store.newId(), '10.0.0.1', 'a')], allocationCondition('10.0.0.1', 'a', r0));
  t.false(res.duplicate);
  t.true(res.revision > r0);
  for (const tag of [Tag.ip('default', '10.0.0.1'), Tag.endpoint('default', 'a', 'eth0'), Tag.pool('p1')]) {
    const kv = (await f.client.kv.range({ key: Buffer.from(f.store.keys.tag(tag)) })).kvs[0];
    t.is(Number(kv?.mod_revision), res.revision, tag);
  }
  // poolcfg:p1 is checked but not written.
  t.is((await f.client.kv.range({ key: Buffer.from(f.store.keys.tag(Tag.poolConfig('p1'))) })).kvs.length, 0);
  await f.close();
});

test('given a tag written after R, when appending conditioned on it after R, then AppendConditionFailed names exactly that tag and nothing is written', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  await f.store.append([allocated(f.store.newId(), '10.0.0.1', 'a')], allocationCondition('10.0.0.1', 'a', r0));
  const before = (await all(f.store)).length;
  const err = await t.throwsAsync(f.store.append([allocated(f.store.newId(), '10.0.0.1', 'b')], allocationCondition('10.0.0.1', 'b', r0)));
  t.true(isAppendConditionFailed(err));
  t.deepEqual((err as AppendConditionFailed).tags, [Tag.ip('default', '10.0.0.1')]);
  t.is((await all(f.store)).length, before);
  await f.close();
});

test('given a tag written at or before R, when appending conditioned on it after R, then it commits', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const first = await f.store.append([allocated(f.store.newId(), '10.0.0.1', 'a')], allocationCondition('10.0.0.1', 'a', r0));
  // A decision taken on a view current to first.revision may touch the same address (e.g. release it).
  const second = await f.store.append([allocated(f.store.newId(), '10.0.0.2', 'a', { nic: 'eth1' })], {
    tags: [Tag.ip('default', '10.0.0.1'), Tag.endpoint('default', 'a', 'eth0')],
    after: first.revision,
  });
  t.true(second.revision > first.revision);
  await f.close();
});

test('given one conflicting member in a batch, when the batch is appended, then the others commit in one txn and only it fails', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  await f.store.append([allocated(f.store.newId(), '10.0.0.5', 'x')], allocationCondition('10.0.0.5', 'x', r0));
  const members = ['10.0.0.3', '10.0.0.4', '10.0.0.5', '10.0.0.6'].map((ip, i) => ({
    events: [allocated(f.store.newId(), ip, `m${i}`)],
    condition: allocationCondition(ip, `m${i}`, r0),
  }));
  const results = await f.store.appendBatch(members);
  t.deepEqual(results.map((r) => r.ok), [true, true, false, true]);
  const failed = results[2]!;
  t.true(!failed.ok && failed.error instanceof AppendConditionFailed);
  const revs = new Set(results.flatMap((r) => (r.ok ? [r.result.revision] : [])));
  t.is(revs.size, 1, 'the three innocent members share one commit');
  const log = await all(f.store);
  t.deepEqual(
    log.map((e) => (e.event.data as { address: string }).address),
    ['10.0.0.5', '10.0.0.3', '10.0.0.4', '10.0.0.6'],
  );
  await f.close();
});

test('given two members of one batch deciding about the same address, then exactly one commits and the other is told it conflicted', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const results = await f.store.appendBatch([
    { events: [allocated(f.store.newId(), '10.0.1.1', 'a')], condition: allocationCondition('10.0.1.1', 'a', r0) },
    { events: [allocated(f.store.newId(), '10.0.1.1', 'b')], condition: allocationCondition('10.0.1.1', 'b', r0) },
  ]);
  t.is(results.filter((r) => r.ok).length, 1);
  const lost = results.find((r) => !r.ok)!;
  t.true(!lost.ok && lost.error instanceof AppendConditionFailed);
  t.is((await all(f.store)).length, 1);
  await f.close();
});

test('given committed events, when the same ids are appended again, then the original revision is reported and nothing is duplicated', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const ev = allocated(f.store.newId(), '10.0.2.1', 'a');
  const first = await f.store.append([ev], allocationCondition('10.0.2.1', 'a', r0));
  const again = await f.store.append([ev], allocationCondition('10.0.2.1', 'a', r0));
  t.deepEqual({ revision: again.revision, duplicate: again.duplicate }, { revision: first.revision, duplicate: true });
  // Unconditional re-append is caught by the value guard on the event's first tag.
  const u = allocated(f.store.newId(), '10.0.2.2', 'u');
  const u1 = await f.store.append([u]);
  const u2 = await f.store.append([u]);
  t.deepEqual({ revision: u2.revision, duplicate: u2.duplicate }, { revision: u1.revision, duplicate: true });
  t.is((await all(f.store)).length, 2);
  await f.close();
});

test('given committed events whose tags were since overwritten, when re-appended with mayExist, then the log is searched and no false conflict is reported', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const ev = allocated(f.store.newId(), '10.0.3.1', 'a');
  const first = await f.store.append([ev], allocationCondition('10.0.3.1', 'a', r0));
  // Someone else touches both tags afterwards (e.g. a release then a new allocation).
  await f.store.append([allocated(f.store.newId(), '10.0.3.1', 'a', { nic: 'eth0' })]);
  const again = await f.store.append([ev], allocationCondition('10.0.3.1', 'a', r0), { mayExist: true });
  t.deepEqual({ revision: again.revision, duplicate: again.duplicate }, { revision: first.revision, duplicate: true });
  // Without mayExist it is an honest conflict (the caller did not say it is retrying).
  await t.throwsAsync(f.store.append([ev], allocationCondition('10.0.3.1', 'a', r0)), { instanceOf: AppendConditionFailed });
  await f.close();
});

test('given etcd answered a txn but the answer was lost, when etcd3 resends it, then the store reports the original commit, not a conflict', async (t) => {
  const lost = await appendWithLostAnswer({}, (store, r0) => store.append([allocated(store.newId(), '10.0.4.1', 'a')], allocationCondition('10.0.4.1', 'a', r0)));
  t.teardown(() => lost.close());
  t.true(lost.answerLost, 'an answer was really lost');
  t.true(lost.result.duplicate, 'the resend found its own first commit');
  const log = [];
  for await (const e of lost.store.read()) log.push(e);
  t.is(log.length, 1);
  t.is(log[0]!.revision, lost.result.revision);
});

test('bad input is rejected with the field named and nothing is written', async (t) => {
  const f = await openStore();
  await t.throwsAsync(f.store.append([]), { instanceOf: AppendRejected, message: /events: at least one/ });
  const ev = allocated(f.store.newId(), '10.0.5.1', 'a');
  await t.throwsAsync(f.store.append([{ ...ev, tags: [] }]), { message: /events\[0\]\.tags/ });
  await t.throwsAsync(f.store.append([{ ...ev, id: 'has space' }]), { message: /events\[0\]\.id/ });
  await t.throwsAsync(f.store.append([{ ...ev, data: { ...ev.data, address: 7 } } as never]), { message: /data\.address must be a string/ });
  await t.throwsAsync(f.store.append([ev, ev]), { message: /duplicate id/ });
  await t.throwsAsync(f.store.append([ev], { tags: [], after: -1 }), { message: /condition\.after/ });
  const keys = await f.client.getAll().prefix(f.prefix).keys();
  t.deepEqual(keys, []);
  await f.close();
});

test('txns respect the configured op limit: a batch larger than one txn is split, an oversized member is rejected', async (t) => {
  const f = await openStore({ limits: { maxOps: 16 } });
  const r0 = await f.store.currentRevision();
  const results = await f.store.appendBatch(
    Array.from({ length: 40 }, (_, i) => ({ events: [allocated(f.store.newId(), `10.0.6.${i}`, `p${i}`)], condition: allocationCondition(`10.0.6.${i}`, `p${i}`, r0) })),
  );
  t.true(results.every((r) => r.ok));
  t.true(f.store.stats.txns >= 40 / 7, `split into ${f.store.stats.txns} txns`);
  const big = Array.from({ length: 20 }, (_, i) => allocated(f.store.newId(), `10.0.7.${i}`, `q${i}`));
  await t.throwsAsync(f.store.append(big), { instanceOf: AppendRejected, message: /do not fit one txn/ });
  await f.close();
});

test('nothing is written outside the key prefix', async (t) => {
  // A private etcd, so other tests' keys cannot blur the picture.
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const client = openEtcd({ endpoints: etcd.endpoints });
  const prefix = freshPrefix();
  const store = new EventStore(client, { prefix });
  const r0 = await store.open();
  await store.appendBatch(Array.from({ length: 10 }, (_, i) => ({ events: [allocated(store.newId(), `10.0.8.${i}`, `p${i}`)], condition: allocationCondition(`10.0.8.${i}`, `p${i}`, r0) })));
  await store.append([allocated(store.newId(), '10.0.8.100', 'u')]);
  const sub = store.subscribe({ after: 0, onEvents: () => undefined });
  await sub.sync();
  const keys = await client.getAll().keys();
  t.true(keys.length > 20);
  t.deepEqual(keys.filter((k) => !k.startsWith(prefix)), []);
  await store.close();
  client.close();
});

// etcd's quota applier applies the txn that crosses --quota-backend-bytes and answers it NOSPACE all the same
// (etcdserver quotaApplierV3.Txn: apply, then `if err == nil && !ok { err = ErrNoSpace }`). The wire below does what
// etcd does for that one txn (applied, then NOSPACE) or for every later one (refused, nothing applied).
function noSpaceWire(store: EventStore, apply: boolean): void {
  const wire = (store as unknown as { committer: { wire: { txn: (t: unknown) => Promise<unknown> } } }).committer.wire;
  const real = wire.txn.bind(wire);
  let once = false;
  wire.txn = async (req) => {
    const writes = (req as { success: { put?: unknown }[] }).success.some((op) => op.put !== undefined);
    if (!writes || once) return real(req);
    once = true;
    if (apply) await real(req);
    throw new EtcdNoSpace(new Error(ETCD_NOSPACE_MESSAGE));
  };
}

test('given etcd applied the txn that crossed its quota and answered NOSPACE, then the append reports the commit, once', async (t) => {
  const f = await openStore();
  noSpaceWire(f.store, true);
  const r0 = await f.store.currentRevision();
  const res = await f.store.append([allocated(f.store.newId(), '10.0.9.1', 'a')], allocationCondition('10.0.9.1', 'a', r0));
  t.true(res.revision > r0);
  const log = [];
  for await (const e of f.store.read()) log.push(e);
  t.is(log.length, 1);
  t.is(log[0]!.revision, res.revision);
  await f.close();
});

test('given etcd refused a txn with NOSPACE without applying it, then the append fails with EtcdNoSpace and nothing is written', async (t) => {
  const f = await openStore();
  noSpaceWire(f.store, false);
  const r0 = await f.store.currentRevision();
  await t.throwsAsync(f.store.append([allocated(f.store.newId(), '10.0.9.2', 'a')], allocationCondition('10.0.9.2', 'a', r0)), { instanceOf: EtcdNoSpace });
  t.deepEqual(await f.client.getAll().prefix(`${f.prefix}log/`).keys(), []);
  await f.close();
});
