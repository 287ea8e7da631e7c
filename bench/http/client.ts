// The benchmark's Allocator over the daemon's HTTPS API: keep-alive connections, one POST per allocation.
import { Agent, request, type RequestOptions } from 'node:https';
import type { Allocator } from '../alloc/types.js';
import { podRef } from '../alloc/types.js';
import { BENCH_POOL } from '../alloc/engine.js';
import type { ServeProcess } from '../../src/local/serve-process.js';

/**
 * The client's own bound on an idle keep-alive socket. Node's agent applies the server's `Keep-Alive: timeout=N`
 * hint only when the agent has a timeout of its own (it then closes at min(this, N - 1 s)); without one it keeps
 * idle sockets forever and reuses one just as the daemon closes it ("socket hang up").
 */
export const CLIENT_IDLE_MS = 60_000;

/** Attempts of one request when each fails on a reused keep-alive socket the server had closed (then a new one). */
export const STALE_SOCKET_ATTEMPTS = 4;

export interface DaemonEndpoint {
  readonly url: string;
  readonly token: string;
  readonly ca: string;
}

export interface Answer {
  readonly status: number;
  readonly text: string;
  /** The daemon's own time (its `server-timing: app;dur=` header), ms; absent when it sent none. */
  readonly serverMs?: number;
}

/** The `app;dur=` entry of a Server-Timing header, ms. */
export function serverMsOf(header: string | undefined): number | undefined {
  const m = header === undefined ? null : /(?:^|,)\s*app;dur=([\d.]+)/.exec(header);
  return m ? Number(m[1]) : undefined;
}

/** A keep-alive agent for one daemon that honours its Keep-Alive hint (CLIENT_IDLE_MS). */
export const daemonAgent = (d: Pick<DaemonEndpoint, 'ca'>, connections: number) => new Agent({ keepAlive: true, maxSockets: connections, ca: d.ca, timeout: CLIENT_IDLE_MS });

/** A request that failed on a socket reused from the pool, before any answer: the server closed it idle (RFC 9112 9.3.1). */
function staleSocket(req: { reusedSocket: boolean }, e: unknown): boolean {
  const code = (e as { code?: string }).code;
  return req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
}

/**
 * POST `body` (JSON) to `path`. An allocation is idempotent (the same containerID answers the same addresses,
 * `reused: true`), so a request that failed on a stale reused socket is sent again, as Node's documentation
 * (request.reusedSocket) and Go's transport do; `onStale` counts those. Any other failure rejects.
 */
export function postJson(d: DaemonEndpoint, agent: Agent, path: string, body: string, onStale?: () => void): Promise<Answer> {
  return poster(d, agent)(path, body, onStale);
}

/** postJson for one daemon, with what every request shares (address, token header) worked out once. */
export function poster(d: DaemonEndpoint, agent: Agent): (path: string, body: string, onStale?: () => void) => Promise<Answer> {
  const target = new URL(d.url);
  const authorization = `Bearer ${d.token}`;
  const options = (path: string, body: string): RequestOptions => ({
    host: target.hostname,
    port: target.port,
    method: 'POST',
    path,
    agent,
    headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization },
  });
  return (path, body, onStale) => send(options(path, body), body, onStale);
}

/** GET `path` with the daemon's token on `agent` (the bench's probes: /healthz round trips, /metrics scrapes). */
export function getText(d: DaemonEndpoint, agent: Agent, path: string): Promise<Answer> {
  const target = new URL(d.url);
  return new Promise((ok, fail) => {
    const req = request({ host: target.hostname, port: target.port, path, agent, headers: { authorization: `Bearer ${d.token}` } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', fail);
    req.end();
  });
}

function send(options: RequestOptions, body: string, onStale: (() => void) | undefined): Promise<Answer> {
  const once = (): Promise<Answer> =>
    new Promise((ok, fail) => {
      const req = request(
        options,
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => {
            const h = res.headers['server-timing'];
            const serverMs = serverMsOf(Array.isArray(h) ? h.join(',') : h);
            ok(serverMs === undefined ? { status: res.statusCode ?? 0, text } : { status: res.statusCode ?? 0, text, serverMs });
          });
        },
      );
      req.on('error', (e) => fail(staleSocket(req, e) ? Object.assign(e, { stale: true }) : e));
      req.end(body);
    });
  return (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once();
      } catch (e) {
        if (!(e as { stale?: boolean }).stale || attempt >= STALE_SOCKET_ATTEMPTS) throw e;
        onStale?.();
      }
    }
  })();
}

/** Requester r talks to daemon r % daemons.length, over `connections` keep-alive sockets per daemon. */
export function httpAllocator(daemons: readonly ServeProcess[], tag: string, connections: number): Allocator & { agents: Agent[]; staleRetries(): number } {
  const agents = daemons.map((d) => daemonAgent(d, connections));
  const posts = daemons.map((d, i) => poster(d, agents[i]!));
  let stale = 0;
  const onStale = () => void stale++;
  return {
    agents,
    staleRetries: () => stale,
    async allocate(requester, seq) {
      const pod = `${tag}-${podRef(requester, seq)}`;
      const body = JSON.stringify({
        endpoint: { namespace: 'bench', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${requester % 50}`, owner: { kind: 'ReplicaSet', name: 'bench-rs' } },
        pools: { ipv4: [BENCH_POOL] },
      });
      const i = requester % daemons.length;
      const r = await posts[i]!('/v1/allocations', body, onStale);
      if (r.status === 201 || r.status === 200) {
        const address = (JSON.parse(r.text) as { allocations: { address: string }[] }).allocations[0]!.address;
        return r.serverMs === undefined ? { address, conflicts: 0 } : { address, conflicts: 0, serverMs: r.serverMs };
      }
      if (r.status === 409 && r.text.includes('PoolExhausted')) return 'exhausted';
      throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
    },
    async close() {
      for (const a of agents) a.destroy();
    },
  };
}
