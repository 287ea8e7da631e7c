// The HTTP open loop's client on a thread of its own (open-loop-client.ts): its keep-alive connections, arrivals and
// clock in a small heap of their own, so its scavenges copy only its own requests, not the bench process's (module
// code, etcd clients, the saturation run's acks), and a collection of the bench's heap cannot pause an answer.
import { parentPort, workerData } from 'node:worker_threads';
import { runAllocLoad } from '../alloc/driver.js';
import type { AllocOutcome } from '../alloc/types.js';
import { runOpenLoop, settledWithin, type OpenLoopOptions } from '../lib/open-loop.js';
import { httpAllocator } from './client.js';
import type { ClientData, ClientReply, ClientRequest } from './open-loop-client.js';

const { daemon, connections, tag } = workerData as ClientData;
// httpAllocator wants a ServeProcess; it reads only the endpoint's url, token and ca.
const open = httpAllocator([daemon as Parameters<typeof httpAllocator>[0][number]], tag, connections);
const reply = (r: ClientReply) => parentPort!.postMessage(r);

/** After a step: its calls still running, answered when they settle (bounded), so the log can be checked against them. */
const LATE_SETTLE_MS = 30_000;

async function step(id: number, k: number, o: OpenLoopOptions): Promise<void> {
  const call = async (i: number) => {
    const out = await open.allocate(k, i);
    if (out === 'exhausted') throw new Error('pool exhausted');
    return out;
  };
  const { pending, ...result } = await runOpenLoop(call, o);
  reply({ id, kind: 'step', result: { ...result, pendingCount: pending.length } });
  reply({ id, kind: 'late', answers: await settledWithin<{ index: number; value: AllocOutcome }>(pending, LATE_SETTLE_MS) });
}

parentPort!.on('message', (m: ClientRequest) => {
  const failed = (e: unknown) => reply({ id: m.id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
  if (m.kind === 'warm') {
    // Every connection opened (TLS handshakes paid) before the first measured arrival.
    const requester = (r: number) => m.requesterBase + r;
    runAllocLoad({ allocate: (r, s) => open.allocate(requester(r), s), close: async () => undefined }, { requesters: connections, count: m.count, timeLimitMs: 60_000 }).then(
      (w) => reply({ id: m.id, kind: 'warm', allocations: w.allocations.map((x) => ({ ...x, requester: requester(x.requester) })) }),
      failed,
    );
  } else if (m.kind === 'one') {
    runAllocLoad({ allocate: (_r, s) => open.allocate(m.requester, s), close: async () => undefined }, { requesters: 1, count: m.count, timeLimitMs: 60_000 }).then(
      (w) => reply({ id: m.id, kind: 'one', p50Ms: w.latencyMs.p50, allocations: w.allocations.map((x) => ({ ...x, requester: m.requester })) }),
      failed,
    );
  } else if (m.kind === 'step') step(m.id, m.step, m.options).catch(failed);
  else if (m.kind === 'close') void open.close().then(() => reply({ id: m.id, kind: 'closed', staleRetries: open.staleRetries() }), failed);
});
