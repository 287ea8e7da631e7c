import test from 'ava';
import fc from 'fast-check';
import { parseAddress } from '../src/net/address.js';
import { InputError } from '../src/net/errors.js';
import { DENSE_MAX } from '../src/net/free-space.js';
import { OffsetMap } from '../src/net/offset-map.js';
import { IntervalSet, parseIpList, parseIpOrCidrList, type Interval } from '../src/net/ranges.js';

const MAX = 63n;
const interval = fc
  .tuple(fc.bigInt({ min: 0n, max: MAX }), fc.bigInt({ min: 0n, max: 8n }))
  .map(([lo, len]): Interval => [lo, lo + len > MAX ? MAX : lo + len]);
const intervals = fc.array(interval, { maxLength: 8 });
const setArb = intervals.map((iv) => IntervalSet.fromIntervals(iv));

/** The naive model: every member listed. */
function model(iv: readonly Interval[]): Set<bigint> {
  const s = new Set<bigint>();
  for (const [lo, hi] of iv) for (let v = lo; v <= hi; v++) s.add(v);
  return s;
}
const sorted = (s: Iterable<bigint>): bigint[] => [...s].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

test('given arbitrary intervals, when normalized, then they are sorted, merged and hold the same members', (t) => {
  fc.assert(
    fc.property(intervals, (iv) => {
      const s = IntervalSet.fromIntervals(iv);
      const m = model(iv);
      for (let i = 0; i < s.intervals.length; i++) {
        const [lo, hi] = s.intervals[i]!;
        t.true(lo <= hi);
        if (i > 0) t.true(lo > s.intervals[i - 1]![1] + 1n); // neither overlapping nor adjacent
      }
      t.deepEqual([...s.values()], sorted(m));
      t.is(s.size(), BigInt(m.size));
      for (let v = -1n; v <= MAX + 1n; v++) t.is(s.contains(v), m.has(v));
    }),
  );
});

test('given two sets, when combined, then union/intersect/subtract/overlaps/isSubsetOf/equals match the model', (t) => {
  fc.assert(
    fc.property(intervals, intervals, (ia, ib) => {
      const a = IntervalSet.fromIntervals(ia);
      const b = IntervalSet.fromIntervals(ib);
      const ma = model(ia);
      const mb = model(ib);
      const union = new Set([...ma, ...mb]);
      const inter = [...ma].filter((v) => mb.has(v));
      const diff = [...ma].filter((v) => !mb.has(v));
      t.deepEqual([...a.union(b).values()], sorted(union));
      t.deepEqual([...a.intersect(b).values()], sorted(inter));
      t.deepEqual([...a.subtract(b).values()], sorted(diff));
      t.is(a.overlaps(b), inter.length > 0);
      t.is(a.isSubsetOf(b), diff.length === 0);
      t.is(a.equals(b), ma.size === mb.size && diff.length === 0);
      // The results are normalized too, so structural equality is set equality.
      t.true(a.union(b).equals(IntervalSet.fromIntervals([...ia, ...ib])));
    }),
    { numRuns: 500 },
  );
});

test('given an inverted interval, when building a set, then a RangeError is thrown', (t) => {
  t.throws(() => IntervalSet.fromIntervals([[5n, 4n]]), { instanceOf: RangeError });
  t.true(IntervalSet.empty.isEmpty);
  t.is(IntervalSet.empty.size(), 0n);
});

test('given a Spiderpool ips list, when parsed, then singles and ranges merge and print back', (t) => {
  const s = parseIpList(['10.6.0.10-10.6.0.200', '10.6.0.5', '10.6.0.201', '10.6.0.150-10.6.0.160'], 4, 'spec.ips');
  t.is(s.size(), 193n);
  t.deepEqual(s.toStrings(4), ['10.6.0.5', '10.6.0.10-10.6.0.201']);
  const v6 = parseIpList(['fd00::a-fd00::ff', 'fd00::1'], 6, 'spec.ips');
  t.deepEqual(v6.toStrings(6), ['fd00::1', 'fd00::a-fd00::ff']);
});

test('given any set, when printed with toStrings and parsed back, then it is equal', (t) => {
  const base4 = parseAddress('10.0.0.250', 'f').value;
  const base6 = parseAddress('fd00::ffff:fff0', 'f').value;
  fc.assert(
    fc.property(setArb, (s) => {
      const s4 = IntervalSet.fromIntervals(s.intervals.map(([a, b]): Interval => [a + base4, b + base4]));
      t.true(parseIpList(s4.toStrings(4), 4, 'f').equals(s4));
      const s6 = IntervalSet.fromIntervals(s.intervals.map(([a, b]): Interval => [a + base6, b + base6]));
      t.true(parseIpList(s6.toStrings(6), 6, 'f').equals(s6));
    }),
  );
});

test('given bad entries, when an ips list is parsed, then the error names the field with its index', (t) => {
  const cases: [string[], 4 | 6, string][] = [
    [['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.9-10.0.0.2'], 4, 'spec.ips[3]: range start 10.0.0.9 is after end 10.0.0.2'],
    [['10.0.0.1', 'fd00::1'], 4, 'spec.ips[1]: fd00::1 is IPv6 but ipVersion is 4'],
    [['fd00::1-10.0.0.2'], 6, 'spec.ips[0]: 10.0.0.2 is IPv4 but ipVersion is 6'],
    [['10.0.0.1-10.0.0.2-10.0.0.3'], 4, 'spec.ips[0]: "10.0.0.1-10.0.0.2-10.0.0.3" is neither an address nor a range "start-end"'],
    [['10.0.0.1-'], 4, 'spec.ips[0]: address is empty'],
    [['10.0.0.1 - 10.0.0.3'], 4, 'spec.ips[0]: "10.0.0.1 " is not a valid IP address (it contains whitespace)'],
    [['10.0.0.0/30'], 4, 'spec.ips[0]: "10.0.0.0/30" is not a single IP address (it has a CIDR suffix)'],
    [['010.0.0.1'], 4, 'spec.ips[0]: "010.0.0.1" is not a valid IP address (IPv4 octets must not have leading zeros)'],
  ];
  for (const [list, family, message] of cases) {
    t.throws(() => parseIpList(list, family, 'spec.ips'), { instanceOf: InputError, message });
  }
});

test('given a Whereabouts exclude list with CIDRs, when parsed, then CIDRs, ranges and singles combine', (t) => {
  const s = parseIpOrCidrList(['10.0.0.0/30', '10.0.0.8-10.0.0.9', '10.0.0.20', '10.0.0.33/31'], 4, 'spec.exclude');
  t.deepEqual(s.toStrings(4), ['10.0.0.0-10.0.0.3', '10.0.0.8-10.0.0.9', '10.0.0.20', '10.0.0.32-10.0.0.33']);
  t.deepEqual(parseIpOrCidrList(['fd00::/126'], 6, 'x').toStrings(6), ['fd00::-fd00::3']);
  t.throws(() => parseIpOrCidrList(['10.0.0.0/8', 'fd00::/64'], 4, 'spec.exclude'), {
    instanceOf: InputError,
    message: 'spec.exclude[1]: fd00:: is IPv6 but ipVersion is 4',
  });
  t.throws(() => parseIpOrCidrList(['10.0.0.0/33'], 4, 'spec.exclude'), { message: /^spec\.exclude\[0\]: .*out of range/ });
});

test('given a pool, when offsets are mapped to addresses and back, then it is a dense ascending bijection', (t) => {
  fc.assert(
    fc.property(setArb, (s) => {
      const m = new OffsetMap(s);
      const members = [...s.values()];
      t.is(m.total, BigInt(members.length));
      t.true(m.dense);
      members.forEach((v, i) => {
        t.is(m.addressAt(i), v);
        t.is(m.offsetOf(v), i);
      });
      for (let v = -1n; v <= MAX + 1n; v++) if (!s.contains(v)) t.is(m.offsetOf(v), -1);
      t.throws(() => m.addressAt(members.length), { instanceOf: RangeError });
      t.throws(() => m.addressAt(-1), { instanceOf: RangeError });
    }),
  );
});

test('given pools up to DENSE_MAX and beyond, when an OffsetMap is built, then offsets are numbers up to the limit and exact bigints past it', (t) => {
  const limit = BigInt(DENSE_MAX);
  const ok = new OffsetMap(IntervalSet.fromIntervals([[0n, limit - 1n]]));
  t.true(ok.dense);
  t.is(ok.addressAt(DENSE_MAX - 1), limit - 1n);
  t.is(ok.offsetOf(limit - 1n), DENSE_MAX - 1);
  t.false(new OffsetMap(IntervalSet.fromIntervals([[0n, limit]])).dense);
  // A /64 in two intervals with a hole: offsets past 2^53 stay exact.
  const base = 0xfd00_0000_0000_0000_0000_0000_0000_0000n;
  const huge = new OffsetMap(IntervalSet.fromIntervals([[base + 1n, base + 10n], [base + 20n, base + (1n << 64n) - 1n]]));
  t.false(huge.dense);
  t.is(huge.total, (1n << 64n) - 10n);
  t.is(huge.offsetOf(base + 1n), 0n);
  t.is(huge.offsetOf(base + 10n), 9n);
  t.is(huge.offsetOf(base + 15n), -1);
  t.is(huge.offsetOf(base + 20n), 10n);
  const last = base + (1n << 64n) - 1n;
  t.is(huge.offsetOf(last), huge.total - 1n);
  t.is(huge.addressAt(huge.total - 1n), last);
  t.is(huge.addressAt((1n << 60n) + 3n), base + 20n + (1n << 60n) + 3n - 10n);
  t.throws(() => huge.addressAt(huge.total), { instanceOf: RangeError });
  t.throws(() => huge.addressAt(3), { instanceOf: RangeError }, 'a number offset in a bigint pool is a bug, not a lookup');
});
