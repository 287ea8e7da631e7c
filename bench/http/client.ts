// The benchmark's Allocator over the daemon's HTTPS API: keep-alive connections, one POST per allocation.
import { Agent, request } from 'node:https';
import type { Allocator } from '../alloc/types.js';
import { podRef } from '../alloc/types.js';
import { BENCH_POOL } from '../alloc/engine.js';
import type { ServeProcess } from '../../src/local/serve-process.js';

/** Requester r talks to daemon r % daemons.length, over `connections` keep-alive sockets per daemon. */
export function httpAllocator(daemons: readonly ServeProcess[], tag: string, connections: number): Allocator & { agents: Agent[] } {
  const agents = daemons.map((d) => new Agent({ keepAlive: true, maxSockets: connections, ca: d.ca }));
  const targets = daemons.map((d) => new URL(d.url));
  const post = (i: number, body: string): Promise<{ status: number; text: string }> =>
    new Promise((ok, fail) => {
      const req = request(
        {
          host: targets[i]!.hostname,
          port: targets[i]!.port,
          method: 'POST',
          path: '/v1/allocations',
          agent: agents[i],
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${daemons[i]!.token}` },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => ok({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', fail);
      req.end(body);
    });
  return {
    agents,
    async allocate(requester, seq) {
      const pod = `${tag}-${podRef(requester, seq)}`;
      const body = JSON.stringify({
        endpoint: { namespace: 'bench', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${requester % 50}`, owner: { kind: 'ReplicaSet', name: 'bench-rs' } },
        pools: { ipv4: [BENCH_POOL] },
      });
      const r = await post(requester % daemons.length, body);
      if (r.status === 201 || r.status === 200) return { address: (JSON.parse(r.text) as { allocations: { address: string }[] }).allocations[0]!.address, conflicts: 0 };
      if (r.status === 409 && r.text.includes('PoolExhausted')) return 'exhausted';
      throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 200)}`);
    },
    async close() {
      for (const a of agents) a.destroy();
    },
  };
}
