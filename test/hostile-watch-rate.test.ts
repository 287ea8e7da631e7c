// Per-peer watch admission against a real daemon (loopback TCP from two addresses and its unix socket, real etcd):
// new watches over the peer's rate are answered 429 with Retry-After and a Kubernetes Status, and a peer that keeps
// dropping its connections before any answer has its new connections closed before the TLS handshake; another peer
// and the CNI socket are unaffected by either.
import test from 'ava';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect } from 'node:net';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, TOKEN, type DaemonFixture } from './helpers/daemon.js';
import { allocationLoad, rawConnection, rawGet, sleep } from './helpers/hostile.js';

const SP = '/apis/spiderpool.spidernet.io/v2beta1';

async function withPool(f: DaemonFixture): Promise<void> {
  await f.daemon.allocator.definePool('legit', { ipVersion: 4, subnet: '10.94.0.0/20', ips: ['10.94.0.10-10.94.15.200'] }, { at: AT });
}

/** A TLS connection from `from` (an address on lo): the socket once its handshake is done, undefined if it was closed first. */
function tlsFrom(port: number, from: string): Promise<TLSSocket | undefined> {
  return new Promise((resolve) => {
    const s = tlsConnect({ socket: connect({ port, host: '127.0.0.1', localAddress: from }), rejectUnauthorized: false });
    s.on('error', () => undefined);
    s.once('secureConnect', () => resolve(s));
    s.once('close', () => resolve(undefined));
  });
}

/** The status line's code of the first answer on `s`. */
function firstStatus(s: TLSSocket, ms = 5000): Promise<number> {
  return new Promise((resolve) => {
    let text = '';
    const timer = setTimeout(() => resolve(0), ms);
    s.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
  });
}

test.serial('new watches over the per-peer rate are 429 with Retry-After and a Status; plain requests, another peer and the CNI socket are unaffected', async (t) => {
  const f = await startDaemon({ extra: { peerLimits: { watchesPerSecond: 0.2, watchBurst: 5 } } });
  t.teardown(() => f.close());
  await withPool(f);
  const path = `${SP}/spidersubnets?watch=true`;
  const held = await Promise.all(Array.from({ length: 5 }, () => rawConnection({ port: f.port }, rawGet(path, true))));
  t.teardown(() => held.forEach((s) => s.destroy()));
  const over = await call(f, 'GET', path);
  t.is(over.status, 429, over.text);
  t.true(Number(over.headers['retry-after']) >= 1, `Retry-After: ${over.headers['retry-after']}`);
  const status = over.json();
  t.is(status.kind, 'Status');
  t.is(status.reason, 'TooManyRequests');
  t.is(status.details?.retryAfterSeconds, Number(over.headers['retry-after']));
  t.regex(status.message, /too many new watches from 127\.0\.0\.1 \(over 0\.2\/s\)/);
  t.is(f.daemon.kubeApi!.watches.open, 5, 'the refused watch holds no slot');
  t.is((await call(f, 'GET', `${SP}/spidersubnets`)).status, 200, 'a list from the same peer');
  // Another peer has its own budget.
  const other = await tlsFrom(f.port, '127.0.0.2');
  t.truthy(other);
  t.teardown(() => other?.destroy());
  const answered = firstStatus(other!);
  other!.write(rawGet(path, true));
  t.is(await answered, 200, 'a watch from 127.0.0.2');
  const cni = await allocationLoad(f, { count: 20, concurrency: 4, tag: 'wr', pool: 'legit', via: 'socket' });
  t.deepEqual(cni.errors, []);
  // Watches from the socket (the node's own tools) are not limited per peer.
  const local = await Promise.all(Array.from({ length: 8 }, () => rawConnection({ socket: f.socket }, rawGet(path, false))));
  t.teardown(() => local.forEach((s) => s.destroy()));
  const w0 = Date.now();
  while (f.daemon.kubeApi!.watches.open < 14 && Date.now() - w0 < 5000) await sleep(20);
  t.is(f.daemon.kubeApi!.watches.open, 14);
});

test.serial('a peer that keeps dropping its watches before any answer has its new connections closed before the handshake; another peer and the CNI socket are unaffected', async (t) => {
  const f = await startDaemon({ extra: { peerLimits: { abortsPerSecond: 0.2, abortBurst: 5 } } });
  t.teardown(() => f.close());
  await withPool(f);
  // Bounded: a watch the daemon answered before it saw the close is not an abort, so how many tries it takes varies.
  for (let i = 0; i < 60; i++) {
    const s = await tlsFrom(f.port, '127.0.0.2');
    if (!s) break; // already refused
    s.write(`GET ${SP}/spiderippools?watch=true HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
    s.destroy();
    await sleep(30);
  }
  await sleep(200);
  t.is(await tlsFrom(f.port, '127.0.0.2'), undefined, 'closed before its handshake');
  t.is((await call(f, 'GET', `${SP}/spiderippools`)).status, 200, 'another peer (127.0.0.1)');
  const cni = await allocationLoad(f, { count: 20, concurrency: 4, tag: 'ab', pool: 'legit', via: 'socket' });
  t.deepEqual(cni.errors, []);
  t.true(f.daemon.admission.refused.aborts >= 1);
  t.is(f.daemon.kubeApi!.watches.open, 0, 'no watch slot left');
});
