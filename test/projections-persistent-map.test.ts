// The persistent map behind pool documents: a Map's semantics, snapshots that later updates never change, and an
// iteration order that depends only on the entries.
import test from 'ava';
import fc from 'fast-check';
import { mapStats, PersistentMap } from '../projections/persistent-map.js';

const entries = <V>(m: { forEach(fn: (v: V, k: string) => void): void }): [string, V][] => {
  const out: [string, V][] = [];
  m.forEach((v, k) => out.push([k, v]));
  return out;
};

const opArb = fc.array(
  fc.oneof(
    fc.record({ set: fc.string({ maxLength: 3 }), value: fc.nat(5) }),
    fc.record({ del: fc.string({ maxLength: 3 }) }),
    fc.record({ snap: fc.constant(true) }),
  ),
  { maxLength: 300 },
);

test('property: behaves as a Map; snapshots keep their contents; order depends only on the entries', (t) => {
  fc.assert(
    fc.property(opArb, (ops) => {
      const m = new PersistentMap<number>();
      const ref = new Map<string, number>();
      const snaps: [ReturnType<PersistentMap<number>['snapshot']>, [string, number][]][] = [];
      for (const op of ops) {
        if ('set' in op) t.is(m.set(op.set, op.value), ref.get(op.set)), ref.set(op.set, op.value);
        else if ('del' in op) t.is(m.delete(op.del), ref.get(op.del)), ref.delete(op.del);
        else snaps.push([m.snapshot(), entries<number>(m)]);
        if (m.size !== ref.size) return false;
      }
      for (const [k, v] of ref) if (m.get(k) !== v) return false;
      for (const [s, was] of snaps) t.deepEqual(entries(s), was);
      const sorted = (xs: [string, number][]) => [...xs].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      t.deepEqual(sorted(entries(m)), sorted([...ref]));
      // Built fresh in another insertion order: the same iteration order.
      const fresh = new PersistentMap<number>();
      for (const [k, v] of [...ref].reverse()) fresh.set(k, v);
      t.deepEqual(entries(fresh), entries(m));
      return true;
    }),
    { numRuns: 300 },
  );
});

test('many keys, colliding hashes included: every key found, deletes shrink it back to empty', (t) => {
  const m = new PersistentMap<number>();
  const n = 50_000;
  for (let i = 0; i < n; i++) m.set(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, i);
  t.is(m.size, n);
  const snap = m.snapshot();
  for (let i = 0; i < n; i += 2) t.is(m.delete(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`), i);
  t.is(m.size, n / 2);
  t.is(snap.size, n);
  let found = 0;
  snap.forEach(() => found++);
  t.is(found, n);
  for (let i = 1; i < n; i += 2) m.delete(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  t.is(m.size, 0);
  t.deepEqual(entries(m), []);
});

test('after a snapshot, one update copies only the path to its key (O(log n)), not the map', (t) => {
  const m = new PersistentMap<number>();
  for (let i = 0; i < 30_000; i++) m.set(`a-${i}`, i);
  m.snapshot();
  const before = mapStats.copies;
  m.set('a-new', 1);
  m.delete('a-7');
  t.true(mapStats.copies - before <= 10, `copied ${mapStats.copies - before} nodes`);
  // A node is copied at most once per snapshot: updating the same keys again, with no snapshot between, copies nothing.
  for (let i = 0; i < 1000; i++) m.set(`a-${i}`, -i);
  const again = mapStats.copies;
  for (let i = 0; i < 1000; i++) m.set(`a-${i}`, i);
  t.is(mapStats.copies - again, 0);
});
