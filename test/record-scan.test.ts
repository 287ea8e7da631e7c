// The record decoder's fast path (events/record-scan.ts) reads a format-2 record exactly as JSON.parse does, and
// hands everything it does not take (escapes, non-ASCII, layout-0 events, whitespace, broken records) to JSON.parse.
// Its recent-strings cache gives back equal strings only, shared across records, and stays within its slots.
import test from 'ava';
import fc from 'fast-check';
import { makeEvent, Tag } from '../events/index.js';
import { decodeRecordValue, encodeRecord, RecordFormatError } from '../events/record-codec.js';
import { chunkInts, chunkStrings, MAX_CACHED_LENGTH, MAX_KEPT_INTS, recentStrings, scanFormat2, STRING_CACHE_SLOTS } from '../events/record-scan.js';
import { allocated } from './helpers/events.js';

const AT = '2026-12-01T10:00:00.000Z';
const chunksOf = (v: Buffer) => (JSON.parse(v.toString()) as { m: unknown[] }).m;

test('property: the fast path reads every record it takes as JSON.parse does, and takes every ASCII one the engine writes', (t) => {
  for (const unit of ['grapheme-ascii', 'binary'] as const) {
    const s = fc.string({ maxLength: 10, unit });
    fc.assert(
      fc.property(fc.array(fc.tuple(s, s, s, fc.nat(128), fc.boolean()), { minLength: 0, maxLength: 6 }), (xs) => {
        const events = xs.map(([name, pool, address, prefixLength, release], i) =>
          release
            ? makeEvent('IPReleased', { allocationId: `a${i}`, pool, address, reason: 'cni-del', endpoint: { namespace: 'ns', name, nic: 'eth0', containerID: 'c' } }, { id: `r${i}`, at: AT, tags: [Tag.ip('default', address)] })
            : makeEvent('IPAllocated', { allocationId: `a${i}`, pool, ipVersion: 4, address, prefixLength, endpoint: { namespace: 'ns', name, uid: 'u', containerID: 'c', node: 'n', nic: 'eth0' } }, { id: `a${i}`, at: AT, tags: [Tag.ip('default', address)] }),
        );
        const v = encodeRecord(events);
        const scanned = scanFormat2(v);
        const plain = xs.every(([a, b, c]) => /^[\x20-\x7e]*$/.test(a + b + c) && !/["\\]/.test(a + b + c));
        if (plain && scanned === undefined) return false;
        if (scanned !== undefined && JSON.stringify(Array.from({ length: scanned.count }, (_, c) => [chunkStrings(scanned, c), chunkInts(scanned, c)])) !== JSON.stringify(chunksOf(v))) return false;
        // whichever path decoded it, the events are the same as JSON.parse's path gives (whitespace forces that one)
        const viaJson = decodeRecordValue(Buffer.from(v.toString().replace('{"f":2,', '{ "f":2,')));
        return JSON.stringify(decodeRecordValue(v)) === JSON.stringify(viaJson) && JSON.stringify(viaJson.events) === JSON.stringify(events);
      }),
      { numRuns: 200 },
    );
  }
  t.pass();
});

test('the fast path declines what it does not take; broken records fail as JSON.parse makes them fail', (t) => {
  const good = encodeRecord([allocated('a1', '10.0.0.1', 'p')]);
  t.truthy(scanFormat2(good));
  const withGeneric = encodeRecord([makeEvent('PoolRemoved', { name: 'x' }, { id: 'x', at: AT, tags: [Tag.poolConfig('x')] })]);
  t.is(scanFormat2(withGeneric), undefined, 'layout-0 events');
  t.is(decodeRecordValue(withGeneric).events.length, 1);
  for (const bad of ['{"f":2,"m":[[["a"],[01]]]}', '{"f":2,"m":[[["a"],[1.5]]]}', '{"f":2,"m":[[["a"],[1234567890123456789]]]}', '{"f":2,"m":[[["a\\u0041"],[]]]}', '{"f":2,"m":[[["a"],[1]]]', '{"f":2,"m":[[["a"],[1]]]}x']) {
    t.is(scanFormat2(Buffer.from(bad)), undefined, bad);
  }
  t.throws(() => decodeRecordValue(Buffer.from('{"f":2,"m":[[["a"],[01]]]}')), { instanceOf: SyntaxError });
  t.throws(() => decodeRecordValue(Buffer.from('{"f":2,"m":[[["a"],[1234567890123456789]]]}')), { instanceOf: RecordFormatError, message: /chunk ints must be integers/ });
  t.throws(() => decodeRecordValue(Buffer.from('{"f":2,"m":[[["a"],[7]]]}')), { instanceOf: RecordFormatError, message: /unknown event layout 7/ });
  t.throws(() => decodeRecordValue(Buffer.from('{"f":2,"m":[[["a"],[1,9]]]}')), { instanceOf: RecordFormatError, message: /string 9 out of range/ });
});

test('recent strings: shared across records, every one equal to its bytes, bounded by the slots however many pass', (t) => {
  const rec = (names: string[]) => Buffer.from(JSON.stringify({ f: 2, m: [[names, []]] }));
  // the same short string in two records is one string; a long one is made each time
  const long = 'x'.repeat(MAX_CACHED_LENGTH + 1);
  const a = chunkStrings(scanFormat2(rec(['eth0', long]))!, 0);
  const b = chunkStrings(scanFormat2(rec(['eth0', long]))!, 0);
  t.is(a[0], 'eth0');
  t.true(Object.is(a[0], b[0]));
  t.is(b[1], long);
  // many more distinct strings than slots, lengths 1..MAX_CACHED_LENGTH, each seen twice: every answer is its bytes
  const names = Array.from({ length: 4 * STRING_CACHE_SLOTS }, (_, i) => `${i.toString(36)}-`.padEnd(1 + (i % MAX_CACHED_LENGTH), 'ab'));
  for (let i = 0; i < names.length; i += 64) {
    const part = names.slice(i, i + 64);
    for (let pass = 0; pass < 2; pass++) t.deepEqual(chunkStrings(scanFormat2(rec(part))!, 0), part);
  }
  t.true(recentStrings.size <= STRING_CACHE_SLOTS, `${recentStrings.size} strings held`);
  t.true(recentStrings.size > STRING_CACHE_SLOTS / 2, 'the slots are used');
});

test('scanned ints: a record with more ints than the scan keeps reads whole, and the records after it too', (t) => {
  const pods = Math.ceil(MAX_KEPT_INTS / 20) + 1; // > MAX_KEPT_INTS ints in one record (each allocation ~22)
  const big = Array.from({ length: pods }, (_, i) => allocated(`a${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 'p'));
  const small = [allocated('b1', '10.9.9.9', 'q')];
  const v = encodeRecord(big);
  const scanned = scanFormat2(v)!;
  t.true(scanned.bounds[3]! > MAX_KEPT_INTS);
  t.deepEqual(JSON.parse(JSON.stringify(decodeRecordValue(v).events)), JSON.parse(JSON.stringify(big)));
  t.deepEqual(JSON.parse(JSON.stringify(decodeRecordValue(encodeRecord(small)).events)), JSON.parse(JSON.stringify(small)));
  t.true(scanFormat2(encodeRecord(small))!.ints.length <= MAX_KEPT_INTS, 'the grown array is not kept');
});
