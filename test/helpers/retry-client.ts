// A load client that behaves like a careful CNI plugin: it retries network failures and retryable errors (503
// {retryable: true}) with the same containerID, moving to the next daemon, until an answer or a deadline.
import { Agent, request } from 'node:https';
import type { Allocator } from '../../bench/alloc/types.js';
import { podRef } from '../../bench/alloc/types.js';
import { BENCH_POOL } from '../../bench/alloc/engine.js';
import { sleep } from '../../src/local/ports.js';

export interface DaemonTarget {
  readonly url: string;
  readonly token: string;
  /** CA of the daemon's serving certificate (its TCP API is HTTPS). */
  readonly ca: string;
}

export interface RetryStats {
  /** Attempts that failed and were retried. */
  retries: number;
  /** Why, by kind: 'ECONNREFUSED', 'HTTP 503 EtcdUnavailable', ... */
  reasons: Map<string, number>;
  /** Answers that said an earlier attempt (from a lost answer, maybe on another daemon) already allocated. */
  reused: number;
}

export interface RetryingAllocator extends Allocator {
  readonly stats: RetryStats;
}

type Answer = { status: number; text: string };

/** The pod name of (requester, seq) under `tag`; its containerID is `ctr-<pod>`. */
export const podName = (tag: string, requester: number, seq: number) => `${tag}-${podRef(requester, seq)}`;

/**
 * Requester r starts on daemon r % n and moves on after each failure. `targets` is read at every attempt, so a
 * caller can swap a restarted daemon in. Gives up (throws) after `giveUpMs` for one allocation.
 */
export function retryingAllocator(targets: () => readonly DaemonTarget[], o: { tag: string; giveUpMs?: number; attemptTimeoutMs?: number }): RetryingAllocator {
  const agents = new Map<string, Agent>();
  const agentFor = (t: DaemonTarget) => {
    let a = agents.get(t.url);
    if (!a) agents.set(t.url, (a = new Agent({ keepAlive: true, maxSockets: 64, ca: t.ca })));
    return a;
  };
  const stats: RetryStats = { retries: 0, reasons: new Map(), reused: 0 };
  const note = (why: string) => {
    stats.retries++;
    stats.reasons.set(why, (stats.reasons.get(why) ?? 0) + 1);
  };
  const post = (t: DaemonTarget, body: string): Promise<Answer> =>
    new Promise((ok, fail) => {
      const u = new URL(t.url);
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          method: 'POST',
          path: '/v1/allocations',
          agent: agentFor(t),
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${t.token}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
          res.on('error', fail);
        },
      );
      req.setTimeout(o.attemptTimeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error('attempt timed out'), { code: 'TIMEOUT' })));
      req.on('error', fail);
      req.end(body);
    });
  return {
    stats,
    async allocate(requester, seq) {
      const pod = podName(o.tag, requester, seq);
      const body = JSON.stringify({
        endpoint: { namespace: 'chaos', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${requester % 16}`, owner: { kind: 'ReplicaSet', name: 'chaos-rs' } },
        pools: { ipv4: [BENCH_POOL] },
      });
      const until = performance.now() + (o.giveUpMs ?? 30_000);
      for (let attempt = 0; ; attempt++) {
        const ts = targets();
        const t = ts[(requester + attempt) % ts.length]!;
        let why: string;
        try {
          const r = await post(t, body);
          if (r.status === 200 || r.status === 201) {
            const a = JSON.parse(r.text) as { allocations: { address: string }[]; reused: boolean };
            if (a.reused) stats.reused++;
            return { address: a.allocations[0]!.address, conflicts: attempt };
          }
          if (r.status === 409 && r.text.includes('PoolExhausted')) return 'exhausted';
          const e = (JSON.parse(r.text) as { error?: { code?: string; retryable?: boolean } }).error;
          if (!e?.retryable) throw new Error(`HTTP ${r.status} (not retryable): ${r.text.slice(0, 300)}`);
          why = `HTTP ${r.status} ${e.code}`;
        } catch (e) {
          const code = (e as { code?: string }).code;
          if (!code) throw e; // a clean, non-retryable answer
          why = code;
        }
        note(why);
        if (performance.now() > until) throw new Error(`gave up on ${pod} after ${attempt + 1} attempts (last: ${why})`);
        await sleep(Math.min(50 * (attempt + 1), 500));
      }
    },
    async close() {
      for (const a of agents.values()) a.destroy();
    },
  };
}
