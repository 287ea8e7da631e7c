// The pool-CAS baseline of `bench alloc` against a real etcd: it contends, stays correct, and stops on exhaustion.
import { randomBytes } from 'node:crypto';
import test from 'ava';
import { LocalEtcd } from '../src/local/etcd.js';
import { runAllocLoad } from '../bench/alloc/driver.js';
import { checkInvariants } from '../bench/alloc/invariants.js';
import { ipv4ToNumber, parseIpv4Pool, poolCasFactory } from '../bench/alloc/pool-cas.js';
import { podRef } from '../bench/alloc/types.js';

let local: LocalEtcd | undefined;
let endpointsP: Promise<string[]> | undefined;
const endpoints = () =>
  (endpointsP ??= (async () => {
    if (process.env.ETCD_ENDPOINTS) return process.env.ETCD_ENDPOINTS.split(',');
    local = await LocalEtcd.start();
    return local.endpoints;
  })());

test.after.always(async () => {
  await local?.stop();
});

const prefix = () => `/t-poolcas-${randomBytes(6).toString('hex')}/`;

test('checkInvariants catches a duplicate, a lost and an extra allocation', (t) => {
  const acks = [
    { address: '10.0.0.1', id: 'a' },
    { address: '10.0.0.2', id: 'b' },
    { address: '10.0.0.3', id: 'c' }, // lost: nobody holds .3
  ];
  const logged = [
    { address: '10.0.0.1', id: 'a' },
    { address: '10.0.0.2', id: 'b' },
    { address: '10.0.0.2', id: 'd' }, // duplicate of .2, and never acknowledged
  ];
  const r = checkInvariants(acks, logged);
  t.is(r.duplicates, 1);
  t.is(r.lost, 1);
  t.is(r.extra, 1);
  t.true(r.details.some((d) => d.startsWith('duplicate: 10.0.0.2')));
  t.true(r.details.some((d) => d.startsWith('lost: 10.0.0.3')));
  t.true(r.details.some((d) => d.startsWith('extra: 10.0.0.2 held by d')));
  t.deepEqual(checkInvariants(acks.slice(0, 2), logged.slice(0, 2)), { duplicates: 0, lost: 0, extra: 0, details: [] });
});

test('pool-cas: 16 requesters make 200 distinct allocations in a /24, contending, with nothing duplicated, lost or extra', async (t) => {
  const cidr = '10.20.30.0/24';
  const alloc = await poolCasFactory.open({ endpoints: await endpoints(), prefix: prefix(), poolCidr: cidr, size: 200 });
  try {
    const res = await runAllocLoad(alloc, { requesters: 16, count: 200, timeLimitMs: 60_000 });
    t.is(res.errors, 0, res.errorMessages.join('; '));
    t.is(res.stoppedBy, 'count');
    t.false(res.exhausted);
    t.is(res.allocations.length, 200);
    const addrs = res.allocations.map((a) => a.address);
    t.is(new Set(addrs).size, 200);
    const pool = parseIpv4Pool(cidr);
    for (const a of addrs) {
      const n = ipv4ToNumber(a);
      t.true(n >= pool.first && n <= pool.last, `${a} is a usable address of ${cidr}`);
      t.not(a, '10.20.30.0');
      t.not(a, '10.20.30.255');
    }
    t.true(res.conflicts > 0, 'the requesters really raced for the pool key');
    t.true(res.allocsPerSec > 0);
    t.true(res.timeline.length >= 2);
    const { doc } = await alloc.read();
    const report = checkInvariants(
      res.allocations.map((a) => ({ address: a.address, id: podRef(a.requester, a.seq) })),
      Object.entries(doc.allocated).map(([address, id]) => ({ address, id })),
    );
    t.deepEqual({ duplicates: report.duplicates, lost: report.lost, extra: report.extra }, { duplicates: 0, lost: 0, extra: 0 }, report.details.join('\n'));
    t.log(`pool-cas: ${res.allocsPerSec} allocs/s, ${res.conflicts} conflicts, p50 ${res.latencyMs.p50} ms, p99 ${res.latencyMs.p99} ms`);
  } finally {
    await alloc.close();
  }
});

test('pool-cas: a /29 (6 usable addresses) with 8 requesters asking for 20 stops exhausted after 6', async (t) => {
  const alloc = await poolCasFactory.open({ endpoints: await endpoints(), prefix: prefix(), poolCidr: '10.9.9.8/29', size: 20 });
  try {
    const res = await runAllocLoad(alloc, { requesters: 8, count: 20, timeLimitMs: 30_000 });
    t.is(res.errors, 0, res.errorMessages.join('; '));
    t.true(res.exhausted);
    t.is(res.stoppedBy, 'exhausted');
    t.is(res.allocations.length, 6);
    t.deepEqual(res.allocations.map((a) => a.address).sort(), ['10.9.9.9', '10.9.9.10', '10.9.9.11', '10.9.9.12', '10.9.9.13', '10.9.9.14'].sort());
  } finally {
    await alloc.close();
  }
});
