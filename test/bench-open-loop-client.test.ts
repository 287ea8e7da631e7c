// The HTTP open loop's client on its own thread (bench/http/open-loop-client.ts) against a stand-in HTTPS API: the
// warm-up opens every connection, a step's answers come back with their latency and the daemon's Server-Timing, and
// a call still running when the step ends is answered later through `pending`, as on the bench's own thread.
import test from 'ava';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { startOpenLoopClient } from '../bench/http/open-loop-client.js';
import { settledWithin } from '../bench/lib/open-loop.js';
import { testTls } from './helpers/tls.js';

test('the open-loop client thread: warm-up over every connection, a step measured, late answers settled after it', async (t) => {
  const tls = testTls();
  const peers = new Set<number>();
  let n = 0;
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    peers.add(req.socket.remotePort!);
    const slow = req.url === '/v1/allocations' && (n++ === 50); // one answer held past the step's grace
    req.resume();
    req.on('end', () => {
      const answer = () => {
        const body = JSON.stringify({ allocations: [{ address: `10.0.0.${n % 250}` }], reused: false, revision: n });
        res.writeHead(201, { 'content-type': 'application/json', 'server-timing': 'app;dur=0.25', 'content-length': Buffer.byteLength(body) }).end(body);
      };
      if (slow) setTimeout(answer, 400);
      else answer();
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  t.teardown(() => new Promise<void>((ok) => server.close(() => ok())));
  const client = await startOpenLoopClient({ daemon: { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 't', ca: tls.ca }, connections: 4, tag: 'o' });
  const warm = await client.warm(1_000_000, 16);
  t.is(warm.length, 16);
  t.true(warm.every((x) => x.requester >= 1_000_000 && x.requester < 1_000_004), 'requesters counted from the base');
  t.is(peers.size, 4, 'every connection opened by the warm-up');
  const one = await client.oneRequester(2_000_000, 10);
  t.is(one.allocations.length, 10);
  t.true(one.allocations.every((x) => x.requester === 2_000_000) && one.p50Ms > 0, 'one requester, closed loop, its p50');

  const r = await client.step(3, { ratePerSec: 200, durationMs: 300, seed: 5, maxOutstanding: 100, graceMs: 50 });
  t.is(r.errors, 0);
  t.is(r.timedOut, 1, 'the held answer outlived the grace');
  t.is(r.completed, r.arrivals - 1);
  t.true(r.answers.every((a) => a.value.serverMs === 0.25 && a.ms >= 0 && /^10\.0\.0\./.test(a.value.address)));
  t.is(r.pending.length, 1);
  const late = await settledWithin(r.pending, 5000);
  t.is(late.length, 1, "the held call's answer arrives after the step");
  t.false(r.answers.some((a) => a.index === late[0]!.index));
  t.is(await client.close(), 0, 'no request sent again');
});
