// The per-peer admission's arithmetic on a clock of its own: buckets refill at their rate up to their burst,
// Retry-After says when a token is back, seats are given back, watches take none, and idle peers are forgotten
// once the tracked-peer bound is reached.
import test from 'ava';
import { AdmissionVerdict, MAX_TRACKED_PEERS, PeerAdmission } from '../src/daemon/peer-admission.js';

const limits = { connectionsPerSecond: 2, connectionBurst: 3, maxInFlight: 2, refusalsPerSecond: 0.5, refusalBurst: 2, watchesPerSecond: 1, watchBurst: 3, abortsPerSecond: 1, abortBurst: 2 };

test('connections: a burst, then the rate', (t) => {
  let now = 0;
  const a = new PeerAdmission(limits, () => now);
  t.deepEqual([1, 2, 3, 4].map(() => a.connection('p')), [true, true, true, false]);
  t.true(a.connection('q'), 'another peer has its own bucket');
  now += 499;
  t.false(a.connection('p'));
  now += 2;
  t.true(a.connection('p'), 'one back after 1/rate');
  now += 10_000;
  t.deepEqual([1, 2, 3, 4].map(() => a.connection('p')), [true, true, true, false], 'refilled to the burst, not beyond');
  t.is(a.refused.connections, 3);
});

test('in flight: seats taken and given back; long-running requests take none', (t) => {
  const a = new PeerAdmission(limits, () => 0);
  t.is(a.request('p', false), undefined);
  t.is(a.request('p', false), undefined);
  t.is(a.request('p', true), undefined, 'a watch with every seat taken');
  a.done('p', true, 200);
  const r = a.request('p', false);
  t.is(r?.verdict, AdmissionVerdict.TooManyInFlight);
  t.is(r?.retryAfterSeconds, 1);
  t.is(a.request('q', false), undefined, 'another peer');
  a.done('p', false, 200);
  t.is(a.request('p', false), undefined);
});

test('refusals: a peer over its budget is refused whatever it sends, Retry-After until a token is back', (t) => {
  let now = 0;
  const a = new PeerAdmission(limits, () => now);
  for (const status of [200, 404, 409, 503]) {
    t.is(a.request('p', false), undefined);
    a.done('p', false, status); // not refusals: success, not found, conflicts, the server's own trouble
  }
  for (let i = 0; i < 2; i++) {
    t.is(a.request('p', false), undefined);
    a.done('p', false, 400);
  }
  const r = a.request('p', false);
  t.is(r?.verdict, AdmissionVerdict.TooManyRefused);
  t.is(r?.retryAfterSeconds, 2, 'one token at 0.5/s: 2 s');
  now += 1000;
  t.is(a.request('p', false)?.retryAfterSeconds, 1);
  now += 1000;
  t.is(a.request('p', false), undefined, 'served again');
});

test('new watches: a burst, then the rate, 429 with Retry-After; other requests and other peers unaffected', (t) => {
  let now = 0;
  const a = new PeerAdmission(limits, () => now);
  t.deepEqual([1, 2, 3].map(() => a.request('p', true)), [undefined, undefined, undefined]);
  const r = a.request('p', true);
  t.is(r?.verdict, AdmissionVerdict.TooManyWatches);
  t.is(r?.retryAfterSeconds, 1);
  t.regex(r!.message, /too many new watches from p \(over 1\/s\)/);
  t.is(a.request('p', false), undefined, 'a plain request from the same peer');
  t.is(a.request('q', true), undefined, 'a watch from another peer');
  now += 1000;
  t.is(a.request('p', true), undefined, 'one back after 1/rate');
  t.is(a.refused.watches, 1);
  t.is(a.request('p', true)?.verdict, AdmissionVerdict.TooManyWatches);
  t.true(a.connection('p'), 'one watch refused: within the abort burst (2)');
  t.is(a.request('p', true)?.verdict, AdmissionVerdict.TooManyWatches);
  t.false(a.connection('p'), 'the next one without waiting Retry-After: connections closed at accept');
});

test('aborts: a peer dropping connections before any answer has its new connections closed until its budget refills', (t) => {
  let now = 0;
  const a = new PeerAdmission(limits, () => now);
  t.true(a.connection('p'));
  a.aborted('p');
  t.true(a.connection('p'), 'one abort is within the burst');
  a.aborted('p');
  t.false(a.connection('p'), 'over the burst: closed at accept');
  t.true(a.connection('q'), 'another peer');
  t.is(a.refused.aborts, 1);
  now += 1000;
  t.true(a.connection('p'), 'served again once a token is back');
});

test(`tracked peers are bounded: at ${MAX_TRACKED_PEERS}, idle ones are forgotten first, then the oldest without a request in flight`, (t) => {
  let now = 0;
  const a = new PeerAdmission(limits, () => now);
  t.is(a.request('busy', false), undefined); // holds a seat: kept
  let most = 0;
  for (let i = 0; i < MAX_TRACKED_PEERS * 2; i++) {
    a.connection(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    most = Math.max(most, a.tracked);
  }
  t.true(most <= MAX_TRACKED_PEERS, `${most} tracked at most`);
  t.is(a.request('busy', false), undefined);
  t.is(a.request('busy', false)?.verdict, AdmissionVerdict.TooManyInFlight, 'the busy peer kept its count');
  now += 10_000; // all buckets full again: when the bound is reached next, every one of them is forgotten
  let added = 0;
  for (let size = a.tracked; a.tracked >= size && added <= MAX_TRACKED_PEERS; added++) {
    size = a.tracked;
    a.connection(`late-${added}`);
  }
  t.true(a.tracked <= added + 1, `${a.tracked} tracked after ${added} more`); // the late ones and the busy one
});
