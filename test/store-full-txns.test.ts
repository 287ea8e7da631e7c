// The committer's full-txn rule: under load a txn with room left (a partial one) waits until no txn is in flight,
// instead of a free slot being filled at once, half empty; full txns still fly up to maxInflight at once.
import test from 'ava';
import { allocated, allocationCondition } from './helpers/events.js';
import { openStore, type StoreFixture } from './helpers/store.js';

/** Appends n members in one turn (each its own address and endpoint), all against the same view. */
async function burst(f: StoreFixture, n: number, base: number): Promise<number[]> {
  const r0 = await f.store.currentRevision();
  const all = Array.from({ length: n }, (_, i) => {
    const ip = `10.${4 + base}.${i >> 8}.${i & 255}`;
    return f.store.append([allocated(f.store.newId(), ip, `f${base}-${i}`)], allocationCondition(ip, `f${base}-${i}`, r0));
  });
  return (await Promise.all(all)).map((r) => r.revision);
}

test('given two full txns and a few members more queued, when they are sent, then the partial rest waits until nothing flies', async (t) => {
  // sendIdleAtOnce off: the burst's first member does not go alone before the others are queued.
  const f = await openStore({ maxInflight: 3, tagLayout: 'address', sendIdleAtOnce: false });
  const before = f.store.stats.batchSizes.length;
  // A full txn of this layout holds ~61 members (two compares and two puts each within 128 ops).
  const revs = await burst(f, 2 * 61 + 10, 0);
  const sizes = f.store.stats.batchSizes.slice(before);
  const full = sizes[0]!;
  t.true(full >= 55 && full <= 64, `a full txn: ${full}`);
  t.deepEqual(sizes, [full, full, 2 * 61 + 10 - 2 * full]);
  t.is(f.store.stats.peakInflight, 2, 'the partial third txn did not take the free third slot');
  t.is(new Set(revs).size, 3);
  t.is(f.store.stats.txnFailures, 0);
  await f.close();
});

test('given the old rule (partialBelowInflight = maxInflight), when the same burst is sent, then the partial rest takes the free slot at once', async (t) => {
  const f = await openStore({ maxInflight: 3, tagLayout: 'address', partialBelowInflight: 3, sendIdleAtOnce: false });
  await burst(f, 2 * 61 + 10, 1);
  t.is(f.store.stats.peakInflight, 3);
  t.is(f.store.stats.batchSizes.length, 3);
  await f.close();
});

test('given closed-loop requesters keeping more than a txn queued, when they append, then every member commits once and never more than maxInflight txns fly', async (t) => {
  const f = await openStore({ maxInflight: 3, tagLayout: 'address' });
  const requesters = 150;
  const each = 4;
  const before = f.store.stats.batchSizes.length;
  const seen = new Set<string>();
  await Promise.all(
    Array.from({ length: requesters }, async (_, r) => {
      for (let k = 0; k < each; k++) {
        const ip = `10.6.${r}.${k + 1}`;
        const r0 = await f.store.currentRevision();
        await f.store.append([allocated(f.store.newId(), ip, `c${r}-${k}`)], allocationCondition(ip, `c${r}-${k}`, r0));
        seen.add(ip);
      }
    }),
  );
  const sizes = f.store.stats.batchSizes.slice(before);
  t.is(seen.size, requesters * each);
  t.is(sizes.reduce((x, y) => x + y, 0), requesters * each);
  t.true(f.store.stats.peakInflight <= 3);
  await f.close();
});

test('in-flight counts that would never send are refused, naming the option and its environment variable', async (t) => {
  for (const [opts, name] of [
    [{ partialBelowInflight: 0 }, 'partialBelowInflight (IPAM_PARTIAL_INFLIGHT)'],
    [{ partialBelowInflight: Number('x') }, 'partialBelowInflight (IPAM_PARTIAL_INFLIGHT)'],
    [{ maxInflight: 0 }, 'maxInflight (IPAM_MAX_INFLIGHT)'],
    [{ lightLoadExtraInflight: -1 }, 'lightLoadExtraInflight (IPAM_LIGHT_EXTRA_INFLIGHT)'],
  ] as const) {
    await t.throwsAsync(openStore(opts), { instanceOf: RangeError, message: new RegExp(`^${name.replace(/[()]/g, '\\$&')} must be an integer >= \\d`) });
  }
});
