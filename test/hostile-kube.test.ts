// Hostile clients of the Kubernetes-style API against a real daemon (loopback TCP and its unix socket, real etcd):
// a JSON patch that doubles the object 40 times, watches that never read, watches aborted during their catch-up
// wait. The daemon stays up, legitimate allocations keep answering, memory stays bounded, nothing is written.
import test from 'ava';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, type DaemonFixture } from './helpers/daemon.js';
import type { Socket } from 'node:net';
import { allocationLoad, drainUntilClosed, liveTimers, rawConnection, rawGet, rssMb, sleep } from './helpers/hostile.js';

const SP = '/apis/spiderpool.spidernet.io/v2beta1';

async function withPool(f: DaemonFixture): Promise<void> {
  await f.daemon.allocator.definePool('legit', { ipVersion: 4, subnet: '10.91.0.0/20', ips: ['10.91.0.10-10.91.15.200'] }, { at: AT });
}

test.serial('attack 1: a JSON patch copying /metadata into itself 40 times is refused (413) at once; nothing written; the daemon answers', async (t) => {
  const f = await startDaemon();
  t.teardown(() => f.close());
  await withPool(f);
  const created = await call(f, 'POST', `${SP}/spiderippools`, {
    body: { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'victim' }, spec: { ipVersion: 4, subnet: '10.92.0.0/24', ips: ['10.92.0.10-10.92.0.20'] } },
  });
  t.is(created.status, 201, created.text);
  const before = await f.store.headRevision();
  const rss0 = rssMb();
  const ops = [{ op: 'add', path: '/metadata/annotations', value: { pad: 'x'.repeat(1024) } }, ...Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/metadata', path: `/metadata/c${i}` }))];
  const t0 = performance.now();
  const r = await call(f, 'PATCH', `${SP}/spiderippools/victim`, { raw: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
  const ms = performance.now() - t0;
  t.is(r.status, 413, r.text);
  t.is(r.json().reason, 'RequestEntityTooLarge');
  t.regex(r.json().message, /operation \d+ would make the object larger than 1048576 bytes/);
  t.true(ms < 2000, `refused in ${ms.toFixed(0)} ms`);
  t.true(rssMb() - rss0 < 100, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`);
  // The same growth by copying a large subtree back and forth (work, not size): refused as well.
  const churn = [{ op: 'add', path: '/metadata/annotations', value: { pad: 'y'.repeat(400_000) } }, ...Array.from({ length: 100 }, () => ({ op: 'move', from: '/metadata/annotations', path: '/metadata/annotations' }))];
  const w = await call(f, 'PATCH', `${SP}/spiderippools/victim`, { raw: JSON.stringify(churn), headers: { 'content-type': 'application/json-patch+json' } });
  t.is(w.status, 413, w.text);
  t.regex(w.json().message, /more than \d+ bytes in total/);
  t.is(await f.store.headRevision(), before, 'nothing written');
  // A patch that stays within the bounds still works.
  const ok = await call(f, 'PATCH', `${SP}/spiderippools/victim`, { raw: JSON.stringify([{ op: 'replace', path: '/spec/ips', value: ['10.92.0.10-10.92.0.30'] }]), headers: { 'content-type': 'application/json-patch+json' } });
  t.is(ok.status, 200, ok.text);
  const load = await allocationLoad(f, { count: 20, concurrency: 4, tag: 'a1', pool: 'legit' });
  t.deepEqual(load.errors, []);
});

test.serial('attack 2: watches are bounded in number (429) and in unread bytes all together (410 ERROR to the furthest behind); allocations go on', async (t) => {
  const limits = { maxWatches: 24, maxWatchesPerClient: 16, maxWatchBacklogBytes: 8 << 20, maxTotalWatchBacklogBytes: 3 << 20 };
  const f = await startDaemon({ extra: { kubeLimits: limits } });
  t.teardown(() => f.close());
  await withPool(f);
  const watches = f.daemon.kubeApi!.watches;
  // Counts: idle watches (nothing to send) from 127.0.0.1 and from the socket.
  const idle = `${SP}/spidersubnets?watch=true`;
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));
  for (let i = 0; i < 16; i++) held.push(await rawConnection({ port: f.port }, rawGet(idle, true)));
  for (let i = 0; i < 8; i++) held.push(await rawConnection({ socket: f.socket }, rawGet(idle, false)));
  await until(() => watches.open === 24);
  const overClient = await call(f, 'GET', idle);
  t.is(overClient.status, 429, 'a 17th watch from 127.0.0.1');
  t.regex(overClient.json().message, /too many watches open from/);
  const overAll = await call(f, 'GET', idle, { via: 'socket' });
  t.is(overAll.status, 429, 'a 25th watch on the server');
  t.regex(overAll.json().message, /too many watches open on this server/);
  held.splice(0).forEach((s) => s.destroy());
  await until(() => watches.open === 0);

  // Memory: 2,000 SpiderEndpoints, so every watch from no resourceVersion starts with ~1.6 MB of ADDED events.
  for (let b = 0; b < 20; b++) {
    await Promise.all(
      Array.from({ length: 100 }, (_, j) => {
        const i = b * 100 + j;
        return f.daemon.allocator.allocate({ endpoint: { namespace: 'bulk', name: `p-${i}`, uid: `u-${i}`, containerID: `c-${i}`, node: 'node-1', nic: 'eth0' }, at: AT, pools: { ipv4: ['legit'] } });
      }),
    );
  }
  const rss0 = rssMb();
  const path = `${SP}/spiderendpoints?watch=true`;
  let most = 0;
  for (let i = 0; i < 20; i++) {
    held.push(await rawConnection(i % 2 ? { port: f.port } : { socket: f.socket }, rawGet(path, i % 2 === 1)));
    await sleep(50);
    most = Math.max(most, watches.totalBacklog);
  }
  const load = await allocationLoad(f, { count: 100, concurrency: 8, tag: 'a2', pool: 'legit' });
  most = Math.max(most, watches.totalBacklog);
  // The budget, plus the final ERROR events queued behind the backlogs of watches being ended.
  t.true(most <= limits.maxTotalWatchBacklogBytes + 20 * 1024, `unread bytes held at most: ${most}`);
  t.deepEqual(load.errors, []);
  t.true(load.p99Ms < 3000, `p99 ${load.p99Ms.toFixed(0)} ms`);
  t.true(rssMb() - rss0 < 250, `RSS grew ${(rssMb() - rss0).toFixed(0)} MB`);
  // Each dropped stream's last event is an ERROR with a 410 Status, then the response ends (the last chunk).
  const ends = await Promise.all(held.map((s) => drainUntilClosed(s, 1500)));
  const expired = ends.filter((e) => /"type":"ERROR","object":\{"kind":"Status".*"reason":"Expired","code":410\}\}\n\r\n0\r\n\r\n$/.test(e.tail));
  t.true(expired.length >= 15, `${expired.length} of 20 non-readers were ended with a 410 ERROR event`);
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}

test.serial('attack 3: watches aborted during their catch-up wait leave no timer or slot behind; stop() ends live watches', async (t) => {
  // 300 aborted watches in a few seconds from one address: over the per-peer connection, watch and abort rates (tested
  // in hostile-watch-rate), which would keep most of them from reaching the watch code tested here.
  const f = await startDaemon({ extra: { peerLimits: { connectionsPerSecond: Infinity, connectionBurst: Infinity, watchesPerSecond: Infinity, watchBurst: Infinity, abortsPerSecond: Infinity, abortBurst: Infinity } } });
  let closed = false;
  t.teardown(() => (closed ? undefined : f.close()));
  await withPool(f);
  const watches = f.daemon.kubeApi!.watches;
  const timers0 = liveTimers();
  for (let round = 0; round < 10; round++) {
    await Promise.all(
      Array.from({ length: 30 }, async () => {
        const s = await rawConnection({ port: f.port }, rawGet(`${SP}/spiderippools?watch=true`, true));
        s.destroy(); // gone before the catch-up (a read of etcd's head) returns
      }),
    );
  }
  const w0 = Date.now();
  while (watches.open > 0 && Date.now() - w0 < 10_000) await sleep(50); // a FIN lost in a full accept queue is resent
  t.is(watches.open, 0, 'no watch slot left');
  t.true(liveTimers() - timers0 <= 3, `timers: ${timers0} before, ${liveTimers()} after`);
  const load = await allocationLoad(f, { count: 30, concurrency: 4, tag: 'a3', pool: 'legit' });
  t.deepEqual(load.errors, []);
  // Live watches (with their hour-long deadlines) do not keep a stopping daemon alive.
  const live = await Promise.all(Array.from({ length: 5 }, () => rawConnection({ port: f.port }, rawGet(`${SP}/spiderippools?watch=true&allowWatchBookmarks=true`, true))));
  await sleep(300);
  t.is(watches.open, 5);
  const t0 = performance.now();
  await f.close();
  closed = true;
  t.true(performance.now() - t0 < 5000);
  t.is(watches.open, 0);
  t.true(liveTimers() - timers0 <= 3, 'the watches\' timers are gone');
  live.forEach((s) => s.destroy());
});

test.serial('attack 7: selectors are parsed in linear time and bounded (400); query strings over the header limit are 431; warnings are capped', async (t) => {
  // 45 refused requests in a row: each one's own answer is tested here, not the per-peer refusal budget (hostile-http).
  const f = await startDaemon({ extra: { peerLimits: { refusalsPerSecond: Infinity, refusalBurst: Infinity } } });
  t.teardown(() => f.close());
  await withPool(f);
  const spaces = ' '.repeat(4000);
  const t0 = performance.now();
  for (let i = 0; i < 20; i++) {
    const r = await call(f, 'GET', `${SP}/spiderippools?fieldSelector=${encodeURIComponent(`metadata.name${spaces}x`)}`);
    t.is(r.status, 400);
    const l = await call(f, 'GET', `${SP}/spiderippools?labelSelector=${encodeURIComponent(`a${spaces.slice(2000)}b${spaces.slice(2000)}c`)}`);
    t.is(l.status, 400);
  }
  const ms = (performance.now() - t0) / 40;
  t.true(ms < 100, `${ms.toFixed(1)} ms per hostile selector`);
  const long = await call(f, 'GET', `${SP}/spiderippools?fieldSelector=${encodeURIComponent(`metadata.name=${'x'.repeat(5000)}`)}`);
  t.is(long.status, 400);
  t.regex(long.json().message, /fieldSelector is 5014 characters long; at most 4096/);
  const ok = await call(f, 'GET', `${SP}/spiderippools?fieldSelector=${encodeURIComponent('metadata.name = legit')}`);
  t.is(ok.status, 200, ok.text);
  t.deepEqual(ok.json().items.map((o: { metadata: { name: string } }) => o.metadata.name), ['legit']);
  const huge = await call(f, 'GET', `${SP}/spiderippools?labelSelector=${'a'.repeat(20_000)}`);
  t.is(huge.status, 431);

  // Strict decoding of a body with 5,000 unknown fields: a bounded answer; Warn mode: a bounded set of headers.
  const junk = Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`unknownField${i}`, i]));
  const body = { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'loud' }, spec: { ipVersion: 4, subnet: '10.94.0.0/24', ips: ['10.94.0.10'], ...junk } };
  const strict = await call(f, 'POST', `${SP}/spiderippools?fieldValidation=Strict`, { body });
  t.is(strict.status, 400);
  t.true(strict.text.length < 16_000, `${strict.text.length} bytes of answer`);
  t.regex(strict.json().message, /and 4950 more$/);
  const warned = await call(f, 'POST', `${SP}/spiderippools?fieldValidation=Warn&dryRun=All`, { body });
  t.is(warned.status, 201, warned.text);
  const warnings = String(warned.headers.warning).split(/,(?=\s*299 )/);
  t.is(warnings.length, 21);
  t.regex(warnings[20]!, /4980 more warnings not shown/);
});
