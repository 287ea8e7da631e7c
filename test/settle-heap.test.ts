// The daemon's collection after its catch-up (src/daemon/settle-heap.ts): it collects what is unreachable without
// Node's --expose-gc, leaves no gc() on the global, and refuses an unknown IPAM_SETTLE_HEAP by name.
import test from 'ava';
import { settleHeap, settleHeapMode } from '../src/daemon/settle-heap.js';

const turn = () => new Promise((r) => setImmediate(r));

for (const mode of ['compact', 'gc'] as const) {
  test(`settleHeap ${mode}: an unreachable object is collected, no gc() is left on the global`, async (t) => {
    t.is((globalThis as { gc?: unknown }).gc, undefined, 'ava runs this without --expose-gc');
    const ref = new WeakRef({ payload: new Array(1000).fill('x') });
    await turn(); // a WeakRef's target is kept until the end of the job that made it
    const ms = settleHeap(mode);
    t.true(ms >= 0);
    t.is(ref.deref(), undefined);
    t.is((globalThis as { gc?: unknown }).gc, undefined);
    // Still reachable objects survive (and, compacted, keep their contents).
    const kept = { list: Array.from({ length: 10_000 }, (_, i) => `s${i}`) };
    const keptRef = new WeakRef(kept);
    await turn();
    settleHeap(mode);
    t.is(keptRef.deref(), kept);
    t.is(kept.list[9_999], 's9999');
  });
}

test('settleHeap none does nothing; the mode comes from IPAM_SETTLE_HEAP, unknown ones are refused by name', (t) => {
  t.is(settleHeap('none'), 0);
  t.is(settleHeapMode(undefined), 'compact');
  t.is(settleHeapMode(''), 'compact');
  t.is(settleHeapMode('gc'), 'gc');
  t.is(settleHeapMode('none'), 'none');
  t.throws(() => settleHeapMode('fast'), { message: /IPAM_SETTLE_HEAP="fast": expected one of compact, gc, none/ });
});
