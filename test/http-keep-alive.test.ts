// Keep-alive connections between a client and the daemon's HTTPS listener: the race where a client sends a request
// on an idle connection just as the daemon closes it ("socket hang up"), seen 8 times at 1,000/s in `bench http
// --open-loop`. The server runs on a worker thread; the test blocks its own thread past the server's keep-alive
// timeout, as a client busy at that moment would, so the race happens every time.
import test from 'ava';
import { Agent, request } from 'node:https';
import { Worker } from 'node:worker_threads';
import { daemonAgent, postJson, STALE_SOCKET_ATTEMPTS } from '../bench/http/client.js';
import { TCP_LIMITS, type ConnectionLimits } from '../src/daemon/listener.js';
import type { KeepAliveServerData } from './helpers/keep-alive-server.js';
import { testTls } from './helpers/tls.js';

interface Server {
  readonly url: string;
  readonly ca: string;
  stop(): Promise<void>;
}

async function startServer(limits: Partial<ConnectionLimits>): Promise<Server> {
  const tls = testTls();
  const w = new Worker(new URL('./helpers/keep-alive-server.js', import.meta.url), { workerData: { limits, tls } satisfies KeepAliveServerData });
  const port = await new Promise<number>((ok, fail) => w.once('message', ok).once('error', fail));
  return { url: `https://127.0.0.1:${port}`, ca: tls.ca, stop: () => new Promise((ok) => (w.once('exit', () => ok()), w.postMessage('stop'))) };
}

/** Blocks this thread (timers, socket events) for `ms`, as a client busy with other work would be. */
const blockThread = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

/** A plain POST on `agent`; whether it went out on a reused socket, and how it ended. */
function post(s: Server, agent: Agent): Promise<{ reused: boolean; status?: number; keepAlive?: string; error?: string }> {
  return new Promise((ok) => {
    const req = request(`${s.url}/v1/allocations`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': 2 } }, (res) => {
      res.resume();
      res.on('end', () => ok({ reused: req.reusedSocket, status: res.statusCode!, keepAlive: String(res.headers['keep-alive']) }));
    });
    req.on('error', (e) => ok({ reused: req.reusedSocket, error: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end('{}');
  });
}

// Advertised 2 s: Node's server closes an idle connection 1 s after it (3 s), a hinted agent at 2 - 1 = 1 s.
const SHORT = { keepAliveTimeoutMs: 2_000 };
const PAST_SERVER_CLOSE_MS = 3_400;

test.serial('the race, reproduced: a keep-alive agent with no idle bound of its own reuses a connection the server has closed ("socket hang up")', async (t) => {
  const s = await startServer(SHORT);
  const agent = new Agent({ keepAlive: true, ca: s.ca }); // what bench/http/client.ts used: it ignores the Keep-Alive hint
  try {
    t.like(await post(s, agent), { status: 200, reused: false, keepAlive: 'timeout=2' });
    blockThread(PAST_SERVER_CLOSE_MS); // the server closed the idle connection meanwhile; this thread has not seen it yet
    t.deepEqual(await post(s, agent), { reused: true, error: 'ECONNRESET' });
  } finally {
    agent.destroy();
    await s.stop();
  }
});

test.serial("the bench's client: its agent closes an idle connection before the server's advertised timeout, so the next request opens a new one", async (t) => {
  const s = await startServer(SHORT);
  const agent = daemonAgent(s, 4);
  try {
    t.like(await post(s, agent), { status: 200, reused: false });
    await new Promise((r) => setTimeout(r, 1_500)); // past the hint - 1 s, before the server's close
    t.is(Object.values(agent.freeSockets).flat().length, 0, 'the agent closed its idle socket itself');
    t.like(await post(s, agent), { status: 200, reused: false });
  } finally {
    agent.destroy();
    await s.stop();
  }
});

test.serial("the bench's client: a request that fails on a reused socket the server closed is sent again on a new connection (an allocation is idempotent)", async (t) => {
  const s = await startServer(SHORT);
  const agent = daemonAgent(s, 4);
  const d = { url: s.url, token: 'unused', ca: s.ca };
  let stale = 0;
  try {
    t.is((await postJson(d, agent, '/v1/allocations', '{}', () => stale++)).status, 200);
    blockThread(PAST_SERVER_CLOSE_MS); // its own idle timer could not run either: the stale socket is still pooled
    t.is((await postJson(d, agent, '/v1/allocations', '{}', () => stale++)).status, 200);
    t.is(stale, 1, 'one retry, on a new connection');
    t.true(STALE_SOCKET_ATTEMPTS > 1);
  } finally {
    agent.destroy();
    await s.stop();
  }
});

test.serial("the daemon's defaults: it advertises 90 s like the Kubernetes API server, so a hinted Node agent idles out at 89 s and Go's transport at 90 s, before the server's close at 91 s", async (t) => {
  t.is(TCP_LIMITS.keepAliveTimeoutMs, 90_000);
  const s = await startServer({});
  const agent = new Agent({ keepAlive: true, ca: s.ca, timeout: 120_000 });
  try {
    t.like(await post(s, agent), { status: 200, keepAlive: 'timeout=90' });
    const idle = Object.values(agent.freeSockets).flat();
    t.is(idle.length, 1);
    t.is(idle[0]!.timeout, 89_000, "Node's agent: the hint - 1 s");
  } finally {
    agent.destroy();
    await s.stop();
  }
});
