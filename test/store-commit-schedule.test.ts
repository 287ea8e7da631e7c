// The committer's scheduling: a member arriving on an idle committer is on the wire at once (not at the end of the
// turn), members arriving while one is queued still share the turn's txn, and the commit trace records each member's
// wait and txn time only while it is on.
import test from 'ava';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, type StoreFixture } from './helpers/store.js';

const member = async (f: StoreFixture, i: number, r0: number) => f.store.append([allocated(f.store.newId(), `10.3.0.${i + 1}`, `s${i}`)], allocationCondition(`10.3.0.${i + 1}`, `s${i}`, r0));

test('given an idle committer, when a member arrives, then its txn is sent before the turn ends; the ones after it share the next txn', async (t) => {
  const f = await openStore({ maxInflight: 1, lightLoadExtraInflight: 0 });
  const r0 = await f.store.currentRevision();
  const txns0 = f.store.stats.batchSizes.length;
  const first = member(f, 0, r0);
  t.is(f.store.stats.peakInflight, 1, 'sent within the append call');
  const rest = [1, 2, 3].map((i) => member(f, i, r0));
  await Promise.all([first, ...rest]);
  t.deepEqual(f.store.stats.batchSizes.slice(txns0), [1, 3]);
  await f.close();
});

test('given sendIdleAtOnce off, when a member arrives on an idle committer, then it waits for the end of the turn', async (t) => {
  const f = await openStore({ sendIdleAtOnce: false });
  const r0 = await f.store.currentRevision();
  const all = [0, 1].map((i) => member(f, i, r0));
  t.is(f.store.stats.peakInflight, 0);
  await Promise.all(all);
  t.is(f.store.stats.batchSizes.at(-1), 2, 'both in one txn');
  await f.close();
});

test('given a commit trace, when members commit, then each one has a wait and a txn time; once off, nothing more is recorded', async (t) => {
  const f = await openStore();
  const r0 = await f.store.currentRevision();
  const trace = f.store.traceCommits(true)!;
  await Promise.all([0, 1, 2].map((i) => member(f, 10 + i, r0)));
  t.is(trace.waitMs.length, 3);
  t.is(trace.txnMs.length, 3);
  t.true([...trace.waitMs, ...trace.txnMs].every((ms) => ms >= 0 && ms < 30_000));
  t.is(f.store.traceCommits(false), trace);
  await member(f, 20, r0);
  t.is(trace.waitMs.length, 3);
  t.is(f.store.traceCommits(false), undefined);
  await f.close();
});
