// The projections' flat hash map (projections/string-map.ts) answers every get/set/delete as a Map does, whatever
// the sequence (colliding homes, deletes that shift entries back, growth and shrinking), and its table follows its
// entries: churn at a steady size does not grow it (a Map's does), deleting most entries shrinks it.
import test from 'ava';
import fc from 'fast-check';
import { StringMap } from '../projections/string-map.js';

const sorted = (m: Iterable<[string, number]>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

test('property: every operation answers as a Map does, and the entries are the same after each', (t) => {
  // few distinct keys, so sets overwrite and deletes hit; short ones, so homes collide in a small table
  const key = fc.oneof(fc.constantFrom('', 'a', 'b', 'ab', 'ba'), fc.string({ maxLength: 3 }), fc.nat(300).map((n) => `k${n}`));
  const op = fc.oneof(
    fc.tuple(fc.constant('set' as const), key, fc.nat()),
    fc.tuple(fc.constant('delete' as const), key, fc.constant(0)),
    fc.tuple(fc.constant('get' as const), key, fc.constant(0)),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
      const mine = new StringMap<number>();
      const map = new Map<string, number>();
      for (const [what, k, v] of ops) {
        if (what === 'set') {
          if (mine.set(k, v) !== map.get(k)) return false;
          map.set(k, v);
        } else if (what === 'delete') {
          if (mine.delete(k) !== map.get(k)) return false;
          map.delete(k);
        } else if (mine.get(k) !== map.get(k) || mine.has(k) !== map.has(k)) return false;
        if (mine.size !== map.size) return false;
      }
      const seen: [string, number][] = [];
      mine.forEach((v, k) => seen.push([k, v]));
      return JSON.stringify(sorted(seen)) === JSON.stringify(sorted(map)) && JSON.stringify(sorted(mine.entries())) === JSON.stringify(sorted(map));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('churn at a steady size keeps the table; deleting most entries shrinks it', (t) => {
  const m = new StringMap<number>();
  for (let i = 0; i < 20_000; i++) m.set(`a4-${i}`, i);
  const slots = m.slots;
  t.true(slots >= 20_000 * (4 / 3) && slots <= 2 * 20_000 * (4 / 3), `${slots} slots for 20,000 entries`);
  // 100,000 releases and allocations, the oldest released first: the size stays 20,000
  for (let i = 20_000; i < 120_000; i++) {
    t.is(m.delete(`a4-${i - 20_000}`), i - 20_000);
    m.set(`a4-${i}`, i);
  }
  t.is(m.size, 20_000);
  t.is(m.slots, slots, 'no growth from churn');
  for (let i = 100_000; i < 120_000; i++) t.is(m.get(`a4-${i}`), i);
  for (let i = 100_000; i < 119_990; i++) m.delete(`a4-${i}`);
  t.is(m.size, 10);
  t.true(m.slots <= 128, `${m.slots} slots for 10 entries`);
  for (let i = 119_990; i < 120_000; i++) t.is(m.get(`a4-${i}`), i);
  t.is(m.get('a4-0'), undefined);
});

test('the hash basis is per process: the same keys inserted in the same order land in another table order in another process', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const moduleUrl = new URL('../projections/string-map.js', import.meta.url).href;
  // 64 keys in 128 slots: two processes with one fixed hash would agree on the order every time
  const script = `import(${JSON.stringify(moduleUrl)}).then(({ StringMap }) => { const m = new StringMap(); for (let i = 0; i < 64; i++) m.set('ns/pod-' + i, i); const o = []; m.forEach((v) => o.push(v)); console.log(o.join(',')); })`;
  const orderIn = () => execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)) }).toString().trim();
  const orders = new Set([orderIn(), orderIn(), orderIn()]);
  t.true(orders.size > 1, 'three processes put 64 keys in the same table order');
});
