// etcd goes away under a running daemon: requests fail fast with a retryable error, /readyz says not ready, and the
// daemon comes back by itself when etcd returns (no restart of the daemon).
import test from 'ava';
import { definePool } from '../bench/alloc/engine.js';
import { startServe } from '../src/local/serve-process.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { sleep } from '../src/local/ports.js';
import { call, type Answer } from './helpers/daemon.js';
import { auditLog } from './helpers/log-audit.js';
import { freshPrefix } from './helpers/store.js';

const body = (name: string) => ({ endpoint: { namespace: 'down', name, uid: `uid-${name}`, containerID: `ctr-${name}` }, pools: { ipv4: ['bench'] } });

/** Polls until `ok(answer)` or the time is up; returns the seconds it took. */
async function until(what: string, probe: () => Promise<Answer>, ok: (a: Answer) => boolean, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const a = await probe().catch(() => undefined);
    if (a && ok(a)) return (performance.now() - t0) / 1000;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${a?.status} ${a?.text})`);
    await sleep(100);
  }
}

test('etcd stopped: requests fail fast with a retryable 503, /readyz is 503; etcd back: ready again and allocating', async (t) => {
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  await definePool(etcd.endpoints, prefix, '10.83.0.0/24');
  const d = await startServe({ endpoints: etcd.endpoints, prefix, node: 'down-0' });
  t.teardown(() => d.stop());
  const f = { port: Number(new URL(d.url).port), socket: d.socket, ca: d.ca };
  const opts = (name: string) => ({ token: d.token, body: body(name) });
  const first = await call(f, 'POST', '/v1/allocations', opts('before'));
  t.is(first.status, 201);

  await etcd.members[0]!.stop('SIGKILL');
  // Right after the crash, before the readiness probe has noticed: still a bounded, retryable answer.
  const latencies: number[] = [];
  for (const name of ['during-0', 'during-1', 'during-2']) {
    const t0 = performance.now();
    const r = await call(f, 'POST', '/v1/allocations', opts(name));
    latencies.push(performance.now() - t0);
    t.is(r.status, 503, r.text);
    t.true(r.json().error.retryable, r.text);
    t.regex(r.json().error.code, /^(EtcdUnavailable|Timeout|Unavailable)$/);
  }
  const notReadyAfter = await until('readyz 503', () => call(f, 'GET', '/readyz', { token: null }), (a) => a.status === 503, 5000);
  const readyz = await call(f, 'GET', '/readyz', { token: null });
  t.regex(readyz.text, /not ready: etcd unreachable/);
  // Once noticed, every request fails at once with EtcdUnavailable.
  for (const name of ['down-0', 'down-1', 'down-2', 'down-3']) {
    const t0 = performance.now();
    const r = await call(f, 'POST', '/v1/allocations', opts(name));
    latencies.push(performance.now() - t0);
    t.is(r.status, 503);
    t.is(r.json().error.code, 'EtcdUnavailable');
    t.true(r.json().error.retryable);
  }
  t.log(`request latencies while etcd is down (ms): ${latencies.map((x) => Math.round(x)).join(' ')}; /readyz 503 after ${notReadyAfter.toFixed(1)} s`);
  t.true(Math.max(...latencies) < 2000, `every request answered within 2 s (slowest ${Math.round(Math.max(...latencies))} ms)`);

  etcd.members[0]!.start();
  await etcd.waitHealthy();
  const readyAfter = await until('readyz 200', () => call(f, 'GET', '/readyz', { token: null }), (a) => a.status === 200, 20_000);
  const after = await call(f, 'POST', '/v1/allocations', opts('after'));
  t.log(`ready again ${readyAfter.toFixed(1)} s after etcd was healthy`);
  t.is(after.status, 201, after.text);
  t.not(after.json().allocations[0].address, first.json().allocations[0].address);
  // A retry of a request that failed while etcd was down now succeeds (the same containerID, one allocation).
  const retried = await call(f, 'POST', '/v1/allocations', opts('during-0'));
  t.true(retried.status === 201 || retried.status === 200, retried.text);

  const audit = await auditLog(etcd.endpoints, prefix, [
    { address: first.json().allocations[0].address, id: 'before' },
    { address: after.json().allocations[0].address, id: 'after' },
    { address: retried.json().allocations[0].address, id: 'during-0' },
  ]);
  t.is(audit.acks.lost, 0);
  t.is(audit.acks.extra, 0, `nothing from the failed requests was written: ${audit.acks.details.join('; ')}`);
  t.is(audit.duplicateEventIds + audit.allocatedTwice + audit.log.duplicates, 0);
});
