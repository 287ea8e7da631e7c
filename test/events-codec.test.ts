import test from 'ava';
import { createCodec, defaultCodec, MalformedEventError } from '../events/codec.js';
import { makeEvent, EVENT_TYPES, EVENT_VERSIONS } from '../events/catalogue.js';
import { allocated } from './helpers/events.js';
import { compilePool } from '../src/alloc/spec.js';

test('a valid event decodes to itself', (t) => {
  const e = allocated('id-1', '10.0.0.1', 'a');
  t.is(defaultCodec.decode(e, 'k'), e);
});

test('every catalogue type has a version and a schema that accepts what makeEvent builds', (t) => {
  t.true(EVENT_TYPES.length >= 12);
  for (const type of EVENT_TYPES) t.true(EVENT_VERSIONS[type] >= 1);
  const e = makeEvent('PoolDefined', { name: 'p', spec: { ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.10-10.0.0.20'] } }, { id: 'x', at: 'now', tags: ['pool:p'] });
  t.notThrows(() => defaultCodec.decode(e, 'k'));
});

test('unknown types, bad envelopes and bad data are reported with the key and the reason', (t) => {
  const e = allocated('id-1', '10.0.0.1', 'a');
  const cases: [unknown, RegExp][] = [
    [{ ...e, type: 'IPStolen' }, /unknown event type "IPStolen"/],
    [{ ...e, id: '' }, /id must be a non-empty string/],
    [{ ...e, tags: 'x' }, /tags must be an array of strings/],
    [{ ...e, v: 99 }, /newer than this build/],
    [{ ...e, data: { ...e.data, endpoint: { ...(e.data as { endpoint: object }).endpoint, nic: 3 } } }, /data\.endpoint\.nic must be a string/],
    [{ ...e, data: { ...e.data, reason: 'x' } , type: 'IPReleased' }, /data\.reason must be one of/],
    ['nope', /event must be an object/],
  ];
  for (const [raw, re] of cases) {
    const err = t.throws(() => defaultCodec.decode(raw, '/ipam/log/abc#2'), { instanceOf: MalformedEventError });
    t.regex(err!.message, re);
    t.is((err as MalformedEventError).key, '/ipam/log/abc#2');
  }
});

test('an old version is upcast through the hook, and a missing upcaster is an error, not a guess', (t) => {
  // IPAllocated v0 (hypothetical) had no prefixLength; v1 derives it.
  const codec = createCodec({ IPAllocated: { 0: (d) => ({ ...(d as object), prefixLength: 32 }) } });
  const current = allocated('id-1', '10.0.0.1', 'a');
  const { prefixLength: _, ...oldData } = current.data as unknown as Record<string, unknown>;
  const old = { ...current, v: 0, data: oldData };
  const up = codec.decode(old, 'k');
  t.is(up.v, 1);
  t.is((up.data as { prefixLength: number }).prefixLength, 32);
  t.throws(() => defaultCodec.decode(old, 'k'), { message: /no upcaster for IPAllocated v0/ });
});

test('PoolDefined v1 with and without spec.order / spec.sharedAddresses: optional fields, old events read as scattered', (t) => {
  const spec = { ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.254'] };
  const at = { id: 'x', at: 'now', tags: ['pool:p'] };
  t.notThrows(() => defaultCodec.decode(makeEvent('PoolDefined', { name: 'p', spec: { ...spec, ipVersion: 4 as const, order: 'lowest', sharedAddresses: true } }, at), 'k'));
  t.notThrows(() => defaultCodec.decode(makeEvent('PoolDefined', { name: 'p', spec: { ...spec, ipVersion: 4 as const } }, at), 'k'));
  const bad = { ...makeEvent('PoolDefined', { name: 'p', spec: { ...spec, ipVersion: 4 as const } }, at), data: { name: 'p', spec: { ...spec, order: 'random' } } };
  t.throws(() => defaultCodec.decode(bad, 'k'), { instanceOf: MalformedEventError, message: /data\.spec\.order must be one of/ });
  t.is(compilePool('p', spec).pool.order, 'scattered');
  t.is(compilePool('p', { ...spec, order: 'lowest' }).pool.order, 'lowest');
});
