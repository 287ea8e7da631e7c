import test from 'ava';
import fc from 'fast-check';
import type { AllocationOrder } from '../src/net/free-space.js';
import { FreeSet } from '../src/net/free-set.js';
import { IntervalIndex } from '../src/net/interval-index.js';
import { randomBelow, SparseFreeSet } from '../src/net/sparse-free-set.js';

const constRng = (r: number) => (): number => r;
const TWO64 = 1n << 64n;

// Model-based: random use/free/block/pick sequences against plain Sets, on small ranges and on a 2^64 range.
type Op =
  | { kind: 'use'; o: bigint }
  | { kind: 'free'; o: bigint }
  | { kind: 'block'; intervals: [bigint, bigint][] }
  | { kind: 'pick'; r: number; excluded: bigint[]; commit: boolean };

/** Offsets around interesting places of the range: its ends, 2^32, 2^53 (where doubles stop being exact). */
function offsetArb(n: bigint): fc.Arbitrary<bigint> {
  if (n <= 64n) return fc.bigInt({ min: 0n, max: n - 1n });
  const bases = [0n, (1n << 32n) - 8n, (1n << 53n) - 8n, n / 2n, n - 24n].filter((b) => b >= 0n && b + 24n <= n);
  return fc.tuple(fc.constantFrom(...bases), fc.bigInt({ min: 0n, max: 23n })).map(([b, d]) => b + d);
}

function scenario(sizes: fc.Arbitrary<bigint>) {
  return sizes.chain((n) => {
    const off = offsetArb(n);
    const interval = fc.tuple(off, fc.bigInt({ min: 0n, max: 6n })).map(([a, len]): [bigint, bigint] => [a, a + len < n ? a + len : n - 1n]);
    const op: fc.Arbitrary<Op> = fc.oneof(
      { weight: 4, arbitrary: off.map((o): Op => ({ kind: 'use', o })) },
      { weight: 4, arbitrary: off.map((o): Op => ({ kind: 'free', o })) },
      { weight: 1, arbitrary: fc.array(interval, { maxLength: 3 }).map((intervals): Op => ({ kind: 'block', intervals })) },
      {
        weight: 5,
        arbitrary: fc
          .record({ r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), excluded: fc.uniqueArray(off, { maxLength: 12 }), commit: fc.boolean() })
          .map((x): Op => ({ kind: 'pick', ...x })),
      },
    );
    return fc.tuple(fc.constant(n), fc.array(op, { maxLength: 150 }));
  });
}

interface Subject {
  pick(r: number, exclude: (o: bigint) => boolean): bigint;
  use(o: bigint): void;
  free(o: bigint): void;
  block(intervals: [bigint, bigint][]): void;
  isFree(o: bigint): boolean;
  usedCount: number;
  neverUsedCount?: bigint;
}

function sparse(n: bigint, order: AllocationOrder, maxQueued: number): Subject {
  const s = new SparseFreeSet(n, { order, maxReleasedQueued: maxQueued });
  return {
    pick: (r, ex) => {
      const o = s.pick(constRng(r), ex);
      return o === -1 ? -1n : o;
    },
    use: (o) => s.markUsed(o),
    free: (o) => s.markFree(o),
    block: (iv) => s.setBlocked(iv),
    isFree: (o) => s.isFree(o),
    get usedCount() {
      return s.usedCount;
    },
    get neverUsedCount() {
      return order === 'scattered' ? s.neverUsedCount : undefined;
    },
  };
}

/** The dense FreeSet knows no reservations: like the allocator, the exclude callback carries them. */
function dense(n: bigint, order: AllocationOrder): Subject {
  const s = new FreeSet(Number(n), order);
  let blocked: [bigint, bigint][] = [];
  return {
    pick: (r, ex) => BigInt(s.pick(constRng(r), (o) => ex(BigInt(o)) || blocked.some(([a, b]) => BigInt(o) >= a && BigInt(o) <= b))),
    use: (o) => s.markUsed(Number(o)),
    free: (o) => s.markFree(Number(o)),
    block: (iv) => (blocked = iv),
    isFree: (o) => s.isFree(Number(o)),
    get usedCount() {
      return s.usedCount;
    },
  };
}

function run(t: import('ava').ExecutionContext, n: bigint, ops: Op[], order: AllocationOrder, subject: Subject, maxQueued: number): void {
  const used = new Set<bigint>();
  let released: bigint[] = []; // free, used before, remembered; oldest release first
  let blocked: [bigint, bigint][] = [];
  const isBlocked = (o: bigint) => blocked.some(([a, b]) => o >= a && o <= b);
  const touched = (o: bigint) => used.has(o) || released.includes(o);
  const use = (o: bigint): void => {
    subject.use(o);
    released = released.filter((x) => x !== o);
    used.add(o);
  };
  for (const op of ops) {
    if (op.kind === 'use') use(op.o);
    else if (op.kind === 'free') {
      subject.free(op.o);
      if (used.delete(op.o) && order === 'scattered') {
        released.push(op.o);
        if (released.length > maxQueued) released.shift(); // forgotten: never used again, as far as the scan knows
      }
    } else if (op.kind === 'block') {
      subject.block(op.intervals);
      blocked = op.intervals;
    } else {
      const ex = new Set(op.excluded);
      const got = subject.pick(op.r, (o) => ex.has(o));
      const ok = (o: bigint) => !used.has(o) && !isBlocked(o) && !ex.has(o);
      if (order === 'lowest') {
        let want = -1n;
        for (let x = 0n; x < n; ) {
          const b = blocked.find(([a, z]) => x >= a && x <= z);
          if (b) x = b[1] + 1n;
          else if (!ok(x)) x++;
          else {
            want = x;
            break;
          }
        }
        t.is(got, want, 'lowest free, not blocked, not excluded');
      } else {
        // A never-used candidate exists unless the (small) range is covered; in a 2^64 range it always does.
        let freshOk = n > 4096n;
        for (let x = 0n; !freshOk && x < n; x++) freshOk = ok(x) && !touched(x);
        const oldestFew = released.filter(ok).slice(0, 16);
        if (freshOk) t.true(got >= 0n && ok(got) && !touched(got), `never-used pick ${got}`);
        else if (oldestFew.length > 0) t.is(got, oldestFew[Math.floor(op.r * oldestFew.length)]!);
        else t.is(got, -1n);
      }
      if (op.commit && got >= 0n) use(got);
    }
    t.is(subject.usedCount, used.size);
    if (subject.neverUsedCount !== undefined) {
      const mem = [...new Set([...used, ...released])];
      const blockedSize = blocked.length === 0 ? 0n : countUnion(blocked);
      t.is(subject.neverUsedCount, n - BigInt(mem.length) - blockedSize + BigInt(mem.filter(isBlocked).length));
    }
  }
  for (const o of [...used, ...released, 0n, n - 1n]) t.is(subject.isFree(o), !used.has(o));
}

function countUnion(iv: [bigint, bigint][]): bigint {
  const s = [...iv].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  let n = 0n;
  let end = -1n;
  for (const [a, b] of s) {
    const lo = a > end ? a : end + 1n;
    if (b >= lo) n += b - lo + 1n;
    if (b > end) end = b;
  }
  return n;
}

const small = fc.bigInt({ min: 1n, max: 40n });
const huge = fc.constantFrom(TWO64, TWO64 - 11n, 1n << 80n);

for (const order of ['scattered', 'lowest'] as const) {
  test(`given random sequences on small ranges, when the sparse set (${order}) runs them, then it agrees with a Set model`, (t) => {
    fc.assert(fc.property(scenario(small), ([n, ops]) => run(t, n, ops, order, sparse(n, order, 5), 5)), { numRuns: 250 });
  });
  test(`given random sequences on 2^64-sized ranges, when the sparse set (${order}) runs them, then it agrees with a Set model`, (t) => {
    fc.assert(fc.property(scenario(huge), ([n, ops]) => run(t, n, ops, order, sparse(n, order, 5), 5)), { numRuns: 250 });
  });
}

test('given random sequences on small ranges, when the dense FreeSet runs them in lowest order, then it agrees with a Set model', (t) => {
  fc.assert(fc.property(scenario(small), ([n, ops]) => run(t, n, ops, 'lowest', dense(n, 'lowest'), Infinity)), { numRuns: 250 });
});

test('given random sequences, when the dense FreeSet runs them in scattered order, then it agrees with the same model (it never forgets)', (t) => {
  fc.assert(fc.property(scenario(small), ([n, ops]) => run(t, n, ops, 'scattered', dense(n, 'scattered'), Infinity)), { numRuns: 250 });
});

test('given random adds and deletes, when the interval index runs them, then it holds what a Set holds, merged', (t) => {
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 2000n })), { maxLength: 3000 }), (ops) => {
      const ix = new IntervalIndex();
      const model = new Set<bigint>();
      for (const [add, x] of ops) {
        t.is(add ? ix.add(x) : ix.delete(x), add ? !model.has(x) : model.has(x));
        if (add) model.add(x);
        else model.delete(x);
      }
      const runs = [...ix.intervals()];
      const members = runs.flatMap(([a, b]) => Array.from({ length: Number(b - a) + 1 }, (_, i) => a + BigInt(i)));
      t.deepEqual(members, [...model].sort((a, b) => (a < b ? -1 : 1)));
      for (let i = 1; i < runs.length; i++) t.true(runs[i]![0] > runs[i - 1]![1] + 1n, 'merged: no touching intervals');
      t.is(ix.count, BigInt(model.size));
      t.is(ix.intervalCount, runs.length);
      for (let x = 0n; x <= 2001n; x += 97n) {
        let y = x;
        while (model.has(y)) y++;
        t.is(ix.nextAbsent(x), y);
        t.is(ix.has(x), model.has(x));
      }
      t.is(ix.countIn(100n, 1500n), BigInt([...model].filter((x) => x >= 100n && x <= 1500n).length));
    }),
    { numRuns: 60 },
  );
});

test('given a /64-sized set, when 100000 offsets are handed out in scattered order, then they are distinct, start at the random place and take a handful of intervals', (t) => {
  const s = new SparseFreeSet(TWO64);
  const rng = constRng(0.5);
  const seen = new Set<bigint>();
  let first = -1n;
  for (let i = 0; i < 100_000; i++) {
    const o = s.pick(rng) as bigint;
    if (i === 0) first = o;
    else t.is(o, first + BigInt(i), 'the scan is sequential from its start');
    seen.add(o);
    s.markUsed(o);
  }
  t.is(seen.size, 100_000);
  t.true(first >= TWO64 / 2n && first < TWO64 / 2n + (1n << 33n), `rng 0.5 starts the scan mid-range: ${first}`);
  t.true(s.intervalCount <= 2, `memory follows runs, not addresses: ${s.intervalCount} intervals`);
  // Releases go to the back of the line: the scan keeps handing out never-used offsets.
  s.markFree(first);
  t.is(s.pick(rng), first + 100_000n);
});

test('given a /64 in lowest order, when offsets are taken and released, then the lowest free (not blocked, not in flight) comes first', (t) => {
  const s = new SparseFreeSet(TWO64, { order: 'lowest' });
  s.setBlocked([[0n, 9n]]);
  for (let i = 0; i < 5; i++) s.markUsed(s.pick(Math.random) as bigint);
  t.deepEqual([10n, 11n, 12n, 13n, 14n].map((o) => s.isFree(o)), [false, false, false, false, false]);
  s.markFree(12n);
  t.is(s.pick(Math.random), 12n, 'a released address is the lowest candidate again at once');
  t.is(s.pick(Math.random, (o) => o === 12n), 15n, 'in flight elsewhere: skipped');
});

test('given released offsets beyond the queue bound, when more are released, then the oldest are forgotten and the queue stays bounded', (t) => {
  const s = new SparseFreeSet(TWO64, { maxReleasedQueued: 100 });
  for (let i = 0; i < 1000; i++) {
    const o = s.pick(constRng(0)) as bigint;
    s.markUsed(o);
  }
  for (let o = 0n; o < 1000n; o++) s.markFree(o);
  t.is(s.releasedQueuedCount, 100);
  t.is(s.usedCount, 0);
  t.is(s.neverUsedCount, TWO64 - 100n);
});

test('given rng fractions, when drawing below n, then the draw maps the fraction onto the range for any n', (t) => {
  t.is(randomBelow(constRng(0.5), 1000n), 500n);
  t.is(randomBelow(constRng(0), TWO64), 0n);
  const mid = randomBelow(constRng(0.5), TWO64);
  t.true(mid >= TWO64 / 2n && mid < TWO64 / 2n + (1n << 33n));
  t.true(randomBelow(constRng(0.999999999), 1n << 128n) < 1n << 128n);
  fc.assert(fc.property(fc.bigInt({ min: 1n, max: 1n << 130n }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (n, r) => randomBelow(constRng(r), n) < n));
});
