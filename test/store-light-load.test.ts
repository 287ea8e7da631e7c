// The committer's extra txns under light load: a member arriving while maxInflight txns fly goes out at once when
// few members are in flight, and waits for a slot when the extra is off or the load is heavy; every one commits.
import test from 'ava';
import { LIGHT_LOAD_MEMBERS } from '../src/store/committer.js';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, type StoreFixture } from './helpers/store.js';

const turn = () => new Promise<void>((r) => setImmediate(r));

/** Appends one member, then (once it is on the wire) another: the most txns seen in flight together. */
async function twoInARow(f: StoreFixture, i: number): Promise<number> {
  const r0 = await f.store.currentRevision();
  const a = f.store.append([allocated(f.store.newId(), `10.1.${i}.1`, `a${i}`)], allocationCondition(`10.1.${i}.1`, `a${i}`, r0));
  await turn(); // the committer's pump has sent the first txn
  const b = f.store.append([allocated(f.store.newId(), `10.1.${i}.2`, `b${i}`)], allocationCondition(`10.1.${i}.2`, `b${i}`, r0));
  const [ra, rb] = await Promise.all([a, b]);
  return ra.revision === rb.revision ? 0 : f.store.stats.peakInflight;
}

test('given one txn in flight of maxInflight 1, when another member arrives, then it flies beside it (light load) and both commit', async (t) => {
  const f = await openStore({ maxInflight: 1 });
  // A first txn answered within one event-loop turn would leave nothing in flight: try a few times (bounded).
  for (let i = 0; i < 20 && f.store.stats.peakInflight < 2; i++) await twoInARow(f, i);
  t.is(f.store.stats.peakInflight, 2);
  await f.close();
});

test('given the extra off, when members arrive one after another, then never more than maxInflight txns fly', async (t) => {
  const f = await openStore({ maxInflight: 1, lightLoadExtraInflight: 0 });
  for (let i = 0; i < 5; i++) await twoInARow(f, i);
  t.is(f.store.stats.peakInflight, 1);
  t.is(f.store.stats.txnFailures, 0);
  await f.close();
});

test('given a heavy queue, when it is committed, then only maxInflight txns fly (full ones) and every member commits', async (t) => {
  const f = await openStore({ maxInflight: 1 });
  const r0 = await f.store.currentRevision();
  const n = 4 * LIGHT_LOAD_MEMBERS;
  const all = Array.from({ length: n }, (_, i) => f.store.append([allocated(f.store.newId(), `10.2.0.${i + 1}`, `h${i}`)], allocationCondition(`10.2.0.${i + 1}`, `h${i}`, r0)));
  const res = await Promise.all(all);
  t.is(res.length, n);
  t.is(f.store.stats.peakInflight, 1);
  t.is(f.store.stats.batchSizes.reduce((x, y) => x + y, 0), n);
  await f.close();
});
