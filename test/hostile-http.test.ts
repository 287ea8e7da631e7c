// Hostile clients at the connection level against a real daemon (loopback TCP from several 127/8 addresses, and
// its unix socket): idle-connection floods, a body dripped after a 401, slow uploads, aborted uploads. The CNI
// socket keeps answering during a TCP flood; idle connections are closed; each cause gets its own answer.
import test from 'ava';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { request as httpsRequest } from 'node:https';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, TOKEN, type DaemonFixture } from './helpers/daemon.js';
import { allocationLoad, sleep } from './helpers/hostile.js';

/**
 * A connection from `from` (an address on lo) to the daemon's TCP port that sends nothing: bare TCP (not even a TLS
 * handshake), or with `tls` a finished handshake (the test's self-signed certificate is not what is tested here).
 */
function idleFrom(port: number, from: string, o: { tls?: boolean } = {}): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const tcp = connect({ port, host: '127.0.0.1', localAddress: from });
    const s: Socket = o.tls ? tlsConnect({ socket: tcp, rejectUnauthorized: false }) : tcp;
    s.once(o.tls ? 'secureConnect' : 'connect', () => {
      s.removeAllListeners('error');
      s.on('error', () => undefined);
      resolve(s);
    });
    s.once('error', reject);
  });
}

const closed = (s: Socket) => s.destroyed || s.readyState === 'closed' || s.readableEnded;

async function withPool(f: DaemonFixture): Promise<void> {
  await f.daemon.allocator.definePool('legit', { ipVersion: 4, subnet: '10.93.0.0/20', ips: ['10.93.0.10-10.93.15.200'] }, { at: AT });
}

test.serial('attack 4: an idle-connection flood is held to per-peer and total limits and timed out; the CNI socket and other peers keep answering', async (t) => {
  const tcp = { maxConnections: 300, maxConnectionsPerPeer: 150, headersTimeoutMs: 2000 };
  const logged: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (logged.push(c.toString()), cb()) }));
  const f = await startDaemon({ extra: { connections: { tcp }, log } });
  t.teardown(() => f.close());
  await withPool(f);
  const flood: Socket[] = [];
  t.teardown(() => flood.forEach((s) => s.destroy()));
  // 400 idle connections from 127.0.0.2 (150 kept), then 200 from 127.0.0.3 (the total of 300 reached).
  for (let i = 0; i < 400; i++) flood.push(await idleFrom(f.port, '127.0.0.2'));
  for (let i = 0; i < 200; i++) flood.push(await idleFrom(f.port, '127.0.0.3'));
  await sleep(300);
  const open2 = flood.slice(0, 400).filter((s) => !closed(s)).length;
  t.true(open2 <= 150 + 10, `${open2} connections from 127.0.0.2 still open`); // a few may still sit in the accept queue
  t.true((await f.daemon.connections()).tcp <= 300, 'the daemon holds at most its total');
  // The CNI's way in is its own listener: allocations over the socket go on.
  const cni = await allocationLoad(f, { count: 60, concurrency: 6, tag: 'a4s', pool: 'legit', via: 'socket' });
  t.deepEqual(cni.errors, []);
  t.true(cni.p99Ms < 2000, `socket p99 ${cni.p99Ms.toFixed(0)} ms`);
  // Idle connections (no request ever sent) are closed after the headers timeout.
  const t0 = Date.now();
  while ((await f.daemon.connections()).tcp > 0 && Date.now() - t0 < 8000) await sleep(100);
  // Counted on the daemon's side: connections lost in a full accept queue look open to the client but hold nothing.
  t.is((await f.daemon.connections()).tcp, 0, `idle connections closed within ${Date.now() - t0} ms`);
  t.true(flood.filter((s) => !closed(s)).length < 20);
  const tcpLoad = await allocationLoad(f, { count: 30, concurrency: 3, tag: 'a4t', pool: 'legit' });
  t.deepEqual(tcpLoad.errors, []);
  // Refused connections are reported once per 10 s, not once per connection (waited for: a loaded machine is late).
  const reported = () => logged.some((l) => l.includes('connections refused: over the limit') && l.includes('"overPerPeer"'));
  for (const t1 = Date.now(); !reported() && Date.now() - t1 < 25_000; ) await sleep(250);
  t.true(reported(), 'the refusals were logged');
});

test.serial('a body dripped after a 401 does not hold the connection; a slow authenticated upload is 408; an aborted one is logged 499, not 503', async (t) => {
  const logged: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c: Buffer, _e, cb) => (logged.push(c.toString()), cb()) }));
  const f = await startDaemon({ extra: { log, requestTimeoutMs: 1500 } });
  t.teardown(() => f.close());
  await withPool(f);
  const before = await f.store.headRevision();

  const drip = await idleFrom(f.port, '127.0.0.1', { tls: true });
  let answer = '';
  drip.on('data', (d: Buffer) => (answer += d.toString()));
  drip.write('POST /v1/allocations HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer wrong-token-0123456789\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
  const t0 = Date.now();
  await new Promise<void>((ok) => drip.once('close', () => ok()));
  t.true(Date.now() - t0 < 2000, `closed after ${Date.now() - t0} ms`);
  t.regex(answer, /^HTTP\/1.1 401/);
  t.regex(answer, /connection: close/i);

  const slow = await idleFrom(f.port, '127.0.0.1', { tls: true });
  let slowAnswer = '';
  slow.on('data', (d: Buffer) => (slowAnswer += d.toString()));
  slow.write(`POST /v1/allocations HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"endpoint":`);
  const timer = setInterval(() => slow.write(' '), 300);
  await new Promise<void>((ok) => slow.once('close', () => ok()));
  clearInterval(timer);
  t.regex(slowAnswer, /^HTTP\/1.1 408/, slowAnswer);
  t.regex(slowAnswer, /"code":"RequestTimeout"/);
  t.notRegex(slowAnswer, /etcd/, 'not blamed on etcd');

  const aborted = await idleFrom(f.port, '127.0.0.1', { tls: true });
  aborted.write(`POST /v1/allocations HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{"endpoint":`);
  await sleep(200);
  aborted.destroy();
  await sleep(300);
  t.true(logged.some((l) => l.includes('"status":499') && l.includes('client closed the connection')), logged.join(''));
  t.false(logged.some((l) => l.includes('"status":503')), 'no 503 logged');
  t.is(await f.store.headRevision(), before, 'nothing written');
  const ok = await call(f, 'GET', '/v1/allocations?containerID=x');
  t.is(ok.status, 200);
});

/** One HTTPS request from `from` (an address on lo) on a connection of its own. */
function callFrom(f: DaemonFixture, from: string, method: string, path: string, o: { token?: string; body?: string } = {}): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      { host: '127.0.0.1', port: f.port, localAddress: from, ca: f.ca, agent: false, method, path, headers: { authorization: `Bearer ${o.token ?? TOKEN}`, 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

test.serial('per-peer admission: requests in flight over the limit and a peer whose requests keep being refused get 429 + Retry-After; connections over the rate are closed before TLS; other peers and the CNI socket are unaffected', async (t) => {
  // Refusals refill at one per 20 s: none comes back while the test runs.
  const peerLimits = { maxInFlight: 4, refusalsPerSecond: 0.05, refusalBurst: 10, connectionsPerSecond: 5, connectionBurst: 30 };
  const f = await startDaemon({ extra: { peerLimits, requestTimeoutMs: 8000 } });
  t.teardown(() => f.close());
  await withPool(f);
  const held: Socket[] = [];
  t.teardown(() => held.forEach((s) => s.destroy()));

  // In flight: 4 uploads from 127.0.0.2 that never finish hold its seats; the 5th request is 429, with Retry-After.
  for (let i = 0; i < 4; i++) {
    const s = await idleFrom(f.port, '127.0.0.2', { tls: true });
    s.write(`POST /v1/allocations HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{`);
    held.push(s);
  }
  await sleep(300);
  const fifth = await callFrom(f, '127.0.0.2', 'GET', '/v1/allocations?containerID=x');
  t.is(fifth.status, 429, fifth.text);
  t.is(fifth.headers['retry-after'], '1');
  t.regex(JSON.parse(fifth.text).error.message, /too many requests in flight from 127\.0\.0\.2 \(4\)/);
  const kube = await callFrom(f, '127.0.0.2', 'GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools');
  t.is(kube.status, 429);
  t.like(JSON.parse(kube.text), { kind: 'Status', reason: 'TooManyRequests', code: 429, details: { retryAfterSeconds: 1 } });
  // Another address and the socket are served meanwhile; watches (long-running) are not counted.
  t.is((await callFrom(f, '127.0.0.3', 'GET', '/v1/allocations?containerID=x')).status, 200);
  const socketLoad = await allocationLoad(f, { count: 20, concurrency: 4, tag: 'adm-s', pool: 'legit', via: 'socket' });
  t.deepEqual(socketLoad.errors, []);
  const w = await idleFrom(f.port, '127.0.0.2', { tls: true });
  held.push(w);
  let watchAnswer = '';
  w.on('data', (d: Buffer) => (watchAnswer += d.toString()));
  w.write(`GET /apis/spiderpool.spidernet.io/v2beta1/spiderippools?watch=true HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
  await sleep(500);
  t.regex(watchAnswer, /^HTTP\/1.1 200/, 'a watch is admitted with every seat taken');
  held.splice(0).forEach((s) => s.destroy());
  await sleep(300);
  t.is((await callFrom(f, '127.0.0.2', 'GET', '/v1/allocations?containerID=x')).status, 200, 'seats given back');

  // Refusals: 127.0.0.4 sends wrong tokens; after its burst of 10 refusals, everything it sends is 429 (not even
  // authenticated), a correct request too; other addresses are not affected. (Refill: test/peer-admission.)
  const wrong: number[] = [];
  for (let i = 0; i < 12; i++) wrong.push((await callFrom(f, '127.0.0.4', 'GET', '/v1/allocations?containerID=x', { token: 'wrong-token-0123456789' })).status);
  t.deepEqual(wrong, [...Array(10).fill(401), 429, 429]);
  const good = await callFrom(f, '127.0.0.4', 'GET', '/v1/allocations?containerID=x');
  t.is(good.status, 429);
  t.regex(JSON.parse(good.text).error.message, /too many refused requests from 127\.0\.0\.4/);
  t.true(Number(good.headers['retry-after']) >= 1);
  t.is((await callFrom(f, '127.0.0.5', 'GET', '/v1/allocations?containerID=x')).status, 200);
  // A 429 keeps a keep-alive connection open (a new one would cost a handshake): two GETs, two answers, one connection.
  const kept = await idleFrom(f.port, '127.0.0.4', { tls: true });
  held.push(kept);
  let both = '';
  kept.on('data', (d: Buffer) => (both += d.toString()));
  const get = `GET /v1/allocations?containerID=x HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;
  kept.write(get);
  await sleep(300);
  kept.write(get);
  await sleep(300);
  t.is(both.match(/HTTP\/1.1 429/g)?.length, 2, both);
  t.false(closed(kept), 'still open');

  // New connections: 127.0.0.6 opens 60 at once; past its burst of 30 they are closed before the handshake.
  const attempts = await Promise.all(Array.from({ length: 60 }, () => idleFrom(f.port, '127.0.0.6', { tls: true }).then((s) => (held.push(s), true), () => false)));
  const shaken = attempts.filter(Boolean).length;
  t.true(shaken >= 25 && shaken <= 35, `${shaken} of 60 connections got a TLS handshake`);
  t.is((await callFrom(f, '127.0.0.7', 'GET', '/v1/allocations?containerID=x')).status, 200);
});
