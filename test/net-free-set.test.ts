import test from 'ava';
import fc from 'fast-check';
import { FreeSet } from '../src/net/free-set.js';

const constRng = (r: number) => (): number => r;
const oldest = constRng(0); // with a released-only pool, rng 0 picks the oldest candidate

/** Takes what pick offers, as an allocator would after committing. */
function take(s: FreeSet, rng: () => number = oldest, exclude?: (o: number) => boolean): number {
  const o = s.pick(rng, exclude);
  if (o >= 0) s.markUsed(o);
  return o;
}

test('given a fresh set, when picking repeatedly, then offsets come sequentially from the random start, wrapping', (t) => {
  const s = new FreeSet(10);
  const got = Array.from({ length: 10 }, () => take(s, constRng(0.5)));
  t.deepEqual(got, [5, 6, 7, 8, 9, 0, 1, 2, 3, 4]);
  t.is(s.pick(oldest), -1);
  t.is(s.freeCount, 0);
  t.is(s.usedCount, 10);
});

test('given a pick that is not committed, when picking again, then the same offset is offered', (t) => {
  const s = new FreeSet(8);
  const a = s.pick(constRng(0.3));
  t.is(s.pick(constRng(0.9)), a);
});

test('given offsets used by someone else ahead of the cursor, when picking, then they are skipped', (t) => {
  const s = new FreeSet(6);
  s.markUsed(2);
  s.markUsed(3);
  t.deepEqual([take(s, constRng(0.34)), take(s), take(s), take(s)], [4, 5, 0, 1]);
  t.is(s.pick(oldest), -1);
});

test('given released and never-used offsets, when picking, then never-used ones come first', (t) => {
  const s = new FreeSet(5);
  s.markUsed(0);
  s.markFree(0);
  const got = [take(s), take(s), take(s), take(s)];
  t.false(got.includes(0));
  t.is(take(s), 0);
});

test('given releases, when picking, then the oldest release is offered and a re-release goes to the back', (t) => {
  const s = new FreeSet(3);
  for (let o = 0; o < 3; o++) s.markUsed(o);
  s.markFree(1);
  s.markFree(0);
  s.markFree(2);
  t.is(take(s), 1);
  s.markFree(1); // released again: now behind 0 and 2
  t.deepEqual([take(s), take(s), take(s)], [0, 2, 1]);
});

test('given a released offset retaken by another process, when picking, then its stale queue entry is skipped', (t) => {
  const s = new FreeSet(3);
  for (let o = 0; o < 3; o++) s.markUsed(o);
  s.markFree(0);
  s.markUsed(0); // someone else took it
  t.is(s.pick(oldest), -1);
  s.markFree(2);
  s.markFree(0); // released again, after 2
  t.is(take(s), 2);
  t.is(take(s), 0);
  t.is(s.pick(oldest), -1);
});

test('given only released offsets, when picking with rng, then the choice is among the 16 oldest', (t) => {
  const s = new FreeSet(40);
  for (let o = 0; o < 40; o++) s.markUsed(o);
  for (let o = 39; o >= 0; o--) s.markFree(o); // release order 39, 38, ..., 0
  for (let i = 0; i < 200; i++) {
    const o = s.pick(Math.random);
    t.true(o >= 24 && o <= 39, `picked ${o}`);
  }
  t.is(s.pick(constRng(0.999999)), 24);
});

test('given in-flight offsets, when picking with exclude, then they are never offered', (t) => {
  const s = new FreeSet(4);
  const inFlight = new Set<number>();
  const excl = (o: number): boolean => inFlight.has(o);
  for (let i = 0; i < 4; i++) {
    const o = s.pick(constRng(0), excl);
    t.false(inFlight.has(o));
    inFlight.add(o);
  }
  t.deepEqual([...inFlight], [0, 1, 2, 3]);
  t.is(s.pick(oldest, excl), -1); // everything free is in flight
  inFlight.delete(1); // abandoned without commit: still never used, offered again
  t.is(s.pick(oldest, excl), 1);
  s.markUsed(1);
  s.markFree(1);
  inFlight.delete(2);
  t.is(s.pick(oldest, excl), 2); // never-used 2 beats released 1
  inFlight.add(2);
  t.is(s.pick(oldest, excl), 1);
  inFlight.add(1);
  t.is(s.pick(oldest, excl), -1);
});

test('given one offset churned past its 256 release generations, when picking, then release order still holds', (t) => {
  for (const churns of [255, 256, 512, 1000]) {
    // Enough other live releases that the queue is not compacted meanwhile, so 0's first entry may still be queued.
    const n = 600;
    const s = new FreeSet(n);
    for (let o = 0; o < n; o++) s.markUsed(o);
    s.markFree(1);
    s.markFree(0);
    for (let o = 2; o < n - 1; o++) s.markFree(o);
    for (let i = 0; i < churns; i++) {
      s.markUsed(0);
      s.markFree(0);
    }
    s.markFree(n - 1);
    const expected = [1, ...Array.from({ length: n - 3 }, (_, i) => i + 2), 0, n - 1, -1];
    t.deepEqual(Array.from({ length: n + 1 }, () => take(s)), expected, `${churns} churns`);
  }
});

test('given a large pool fully released in random order, when drained, then picks follow release order', (t) => {
  const n = 5000;
  const s = new FreeSet(n);
  for (let o = 0; o < n; o++) s.markUsed(o);
  const order = fc.sample(fc.shuffledSubarray([...Array(n).keys()], { minLength: n }), { numRuns: 1, seed: 42 })[0]!;
  for (const o of order) s.markFree(o);
  const got: number[] = [];
  for (let o = take(s); o >= 0; o = take(s)) got.push(o);
  t.deepEqual(got, order);
});

test('given out-of-range offsets or sizes, when used, then a RangeError is thrown', (t) => {
  const s = new FreeSet(4);
  for (const bad of [-1, 4, 1.5, Number.NaN]) {
    t.throws(() => s.markUsed(bad), { instanceOf: RangeError });
    t.throws(() => s.isFree(bad), { instanceOf: RangeError });
  }
  t.throws(() => new FreeSet((1 << 24) + 1), { instanceOf: RangeError });
  t.is(new FreeSet(0).pick(oldest), -1);
});

// Model-based: random markUsed/markFree/pick sequences against a plain-array model.
type Op =
  | { kind: 'use'; o: number }
  | { kind: 'free'; o: number }
  | { kind: 'churn'; o: number; times: number }
  | { kind: 'pick'; r: number; excluded: number[]; commit: boolean };

const scenario = fc.integer({ min: 1, max: 40 }).chain((n) => {
  const off = fc.integer({ min: 0, max: n - 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 4, arbitrary: off.map((o): Op => ({ kind: 'use', o })) },
    { weight: 4, arbitrary: off.map((o): Op => ({ kind: 'free', o })) },
    { weight: 1, arbitrary: fc.record({ o: off, times: fc.integer({ min: 1, max: 300 }) }).map((x): Op => ({ kind: 'churn', ...x })) },
    {
      weight: 5,
      arbitrary: fc
        .record({ r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), excluded: fc.uniqueArray(off, { maxLength: n }), commit: fc.boolean() })
        .map((x): Op => ({ kind: 'pick', ...x })),
    },
  );
  return fc.tuple(fc.constant(n), fc.array(op, { maxLength: 200 }));
});

test('given random operation sequences, when run against a simple model, then picks and counts agree', (t) => {
  fc.assert(
    fc.property(scenario, ([n, ops]) => {
      const s = new FreeSet(n);
      const used = new Array<boolean>(n).fill(false);
      const everUsed = new Array<boolean>(n).fill(false);
      let released: number[] = []; // free, used before; oldest release first
      const use = (o: number): void => {
        s.markUsed(o);
        if (!used[o]) released = released.filter((x) => x !== o);
        used[o] = true;
        everUsed[o] = true;
      };
      const free = (o: number): void => {
        s.markFree(o);
        if (used[o]) released.push(o);
        used[o] = false;
      };
      for (const op of ops) {
        if (op.kind === 'use') use(op.o);
        else if (op.kind === 'free') free(op.o);
        else if (op.kind === 'churn') {
          for (let i = 0; i < op.times; i++) {
            use(op.o);
            free(op.o);
          }
        } else {
          const ex = new Set(op.excluded);
          let calls = 0;
          const got = s.pick(
            () => op.r,
            (o) => (calls++, ex.has(o)),
          );
          const freshOk = used.some((u, o) => !u && !everUsed[o] && !ex.has(o));
          const oldestFew = released.filter((o) => !ex.has(o)).slice(0, 16);
          if (freshOk) {
            t.true(got >= 0 && !used[got] && !everUsed[got] && !ex.has(got), `fresh pick ${got}`);
          } else if (oldestFew.length > 0) {
            t.is(got, oldestFew[Math.floor(op.r * oldestFew.length)]!);
          } else {
            t.is(got, -1);
          }
          t.true(calls <= 2 * n + 16, `exclude called ${calls} times`);
          if (op.commit && got >= 0) use(got);
        }
        t.is(s.usedCount, used.filter(Boolean).length);
        t.is(s.freeCount, n - s.usedCount);
        t.is(s.neverUsedCount, everUsed.filter((e) => !e).length);
      }
      for (let o = 0; o < n; o++) t.is(s.isFree(o), !used[o]);
    }),
    { numRuns: 300 },
  );
});

test('given a cursor that collided, when it jumps, then it restarts elsewhere and still hands out every never-used offset exactly once', (t) => {
  const fs = new FreeSet(1000);
  let seed = 7;
  const rng = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const got = new Set<number>();
  for (let i = 0; i < 1000; i++) {
    if (i % 37 === 0) fs.jump(rng);
    const o = fs.pick(rng);
    t.false(got.has(o));
    got.add(o);
    fs.markUsed(o);
  }
  t.is(got.size, 1000);
  t.is(fs.pick(rng), -1);
});

test('given a sequential scan, when it jumps, then the next pick comes from the new random place, not the next offset', (t) => {
  const fs = new FreeSet(1000);
  const zero = () => 0;
  for (let i = 0; i < 10; i++) {
    const o = fs.pick(zero);
    t.is(o, i, 'the scan is sequential from its start');
    fs.markUsed(o);
  }
  t.is(fs.pick(zero), 10, 'without a jump the scan goes on');
  fs.jump(() => 0.5);
  t.is(fs.pick(zero), 500, 'after a jump it restarts at the drawn offset');
});

test("given the 'lowest' order, when picking after random uses and releases, then the pick is the lowest free offset not excluded, within the spans", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 300 }),
      fc.array(fc.tuple(fc.boolean(), fc.nat()), { maxLength: 400 }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 3 }),
      (n, ops, rawSpans) => {
        const s = new FreeSet(n);
        const used = new Set<number>();
        for (const [use, x] of ops) {
          const o = x % n;
          if (use) {
            s.markUsed(o);
            used.add(o);
          } else {
            s.markFree(o);
            used.delete(o);
          }
        }
        const excluded = (o: number) => o % 7 === 3;
        const spans = rawSpans.map(([a, b]) => [Math.min(a % n, b % n), Math.max(a % n, b % n)] as const).sort((a, b) => a[0] - b[0]);
        const disjoint = spans.filter((sp, i) => i === 0 || sp[0] > spans[i - 1]![1]);
        let want = -1;
        for (let o = 0; o < n && want < 0; o++) if (!used.has(o) && !excluded(o)) want = o;
        if (s.pickLowest(excluded) !== want) return false;
        let wantIn = -1;
        for (const [lo, hi] of disjoint) for (let o = lo; o <= hi && wantIn < 0; o++) if (!used.has(o) && !excluded(o)) wantIn = o;
        return s.pickLowest(excluded, disjoint) === wantIn;
      },
    ),
    { numRuns: 300 },
  );
  t.pass();
});
