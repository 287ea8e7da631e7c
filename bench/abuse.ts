// `bench abuse`: each attack of the hostile-client suite for a fixed time beside a steady allocation load (clients on
// the daemon's unix socket, as the CNI plugin is), against the real `ipam serve` process; per attack, the legitimate
// rate and p99 as a ratio to the same load run just before it without the attack. Every attack loop is bounded.
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { definePool, BENCH_POOL } from './alloc/engine.js';
import { openTarget } from './lib/target.js';
import { quantile, round } from './lib/stats.js';
import { startServe, type ServeProcess } from '../src/local/serve-process.js';

export interface AbuseOptions {
  readonly seconds: number;
  readonly clients: number;
  readonly etcd?: string;
}

export interface AttackResult {
  readonly name: string;
  readonly unattackedPerSec: number;
  readonly attackedPerSec: number;
  readonly ratioToUnattacked: number;
  readonly unattackedP99Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly crashed: boolean;
}

/** A floor every attack must stay above (the issue's): legitimate rate under attack / without. */
export const ABUSE_FLOOR = 0.7;

interface Http {
  status: number;
  body: string;
}

function http(d: ServeProcess, via: 'socket' | 'tcp', method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Http> {
  const url = new URL(d.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { method, path, headers: { 'content-type': 'application/json', ...(via === 'tcp' ? { authorization: `Bearer ${d.token}` } : {}), ...headers }, ...(via === 'socket' ? { socketPath: d.socket } : { host: url.hostname, port: url.port }) },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Closed-loop allocate + release over the socket for `ms`: allocations/s and p99 of the allocations. */
async function legitLoad(d: ServeProcess, o: { ms: number; clients: number; tag: string }): Promise<{ perSec: number; p99Ms: number; errors: number }> {
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + o.ms;
  const worker = async (w: number) => {
    for (let i = 0; performance.now() < end; i++) {
      const pod = `${o.tag}-${w}-${i}`;
      const t0 = performance.now();
      try {
        const a = await http(d, 'socket', 'POST', '/v1/allocations', JSON.stringify({ endpoint: { namespace: 'legit', name: pod, uid: `u-${pod}`, containerID: `c-${pod}` }, pools: { ipv4: [BENCH_POOL] } }));
        if (a.status === 201) lat.push(performance.now() - t0);
        else errors++;
        await http(d, 'socket', 'POST', '/v1/releases', JSON.stringify({ containerID: `c-${pod}` }));
      } catch {
        errors++;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: o.clients }, (_, w) => worker(w)));
  return { perSec: lat.length / ((performance.now() - t0) / 1000), p99Ms: quantile(lat, 0.99), errors };
}

const SP = '/apis/spiderpool.spidernet.io/v2beta1';

function raw(d: ServeProcess, text: string, from = '127.0.0.1'): Promise<Socket> {
  const url = new URL(d.url);
  return new Promise((resolve) => {
    const s = connect({ port: Number(url.port), host: '127.0.0.1', localAddress: from });
    s.on('error', () => undefined);
    s.once('connect', () => {
      if (text) s.write(text);
      s.pause();
      resolve(s);
    });
    s.once('close', () => resolve(s));
  });
}

/** An attack: runs until `stop()` resolves its loop; everything it opened is closed after. */
type Attack = (d: ServeProcess, running: () => boolean) => Promise<void>;

/** Runs `fn` at most `perSec` times a second while `running()`: an attack is a bounded load, not a CPU race. */
async function paced(running: () => boolean, perSec: number, fn: () => Promise<unknown>): Promise<void> {
  while (running()) {
    const t0 = performance.now();
    await fn().catch(() => undefined);
    const left = 1000 / perSec - (performance.now() - t0);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
}

const watchGet = (d: ServeProcess, path: string) => `GET ${path} HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${d.token}\r\n\r\n`;

const ATTACKS: Record<string, Attack> = {
  // 1: add 1 KB, then copy /metadata into itself 40 times, in a loop.
  'patch-growth': async (d, running) => {
    const ops = JSON.stringify([{ op: 'add', path: '/metadata/annotations', value: { pad: 'x'.repeat(1024) } }, ...Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/metadata', path: `/metadata/c${i}` }))]);
    await paced(running, 50, () => http(d, 'tcp', 'PATCH', `${SP}/spiderippools/victim`, ops, { 'content-type': 'application/json-patch+json' }));
  },
  // 2: 200 watches that never read, on SpiderEndpoints (the load's own allocations feed them).
  'watch-flood': async (d, running) => {
    const held: Socket[] = [];
    for (let i = 0; i < 200 && running(); i++) held.push(await raw(d, watchGet(d, `${SP}/spiderendpoints?watch=true`)));
    while (running()) await new Promise((r) => setTimeout(r, 100));
    held.forEach((s) => s.destroy());
  },
  // 3: watches aborted during their catch-up wait, 20 at a time, 200 a second.
  'aborted-watches': async (d, running) => {
    await paced(running, 10, () => Promise.all(Array.from({ length: 20 }, async () => (await raw(d, watchGet(d, `${SP}/spiderippools?watch=true`))).destroy())));
  },
  // 4: idle unauthenticated connections from 127.0.0.2, as many as 3,000.
  'idle-connections': async (d, running) => {
    const held: Socket[] = [];
    for (let i = 0; i < 3000 && running(); i++) held.push(await raw(d, '', '127.0.0.2'));
    while (running()) await new Promise((r) => setTimeout(r, 100));
    held.forEach((s) => s.destroy());
  },
  // 7: four loops of hostile ~12 KB fieldSelectors, 25 a second each.
  'selectors': async (d, running) => {
    const q = `${SP}/spiderippools?fieldSelector=${encodeURIComponent(`metadata.name${' '.repeat(4000)}x`)}`;
    await Promise.all(Array.from({ length: 4 }, () => paced(running, 25, () => http(d, 'tcp', 'GET', q))));
  },
};

export async function runAbuse(o: AbuseOptions): Promise<{ attacks: AttackResult[]; floor: number; seconds: number; clients: number }> {
  const target = await openTarget(o.etcd ? { etcd: o.etcd } : {});
  const prefix = `/bench-abuse-${Date.now()}/`;
  const results: AttackResult[] = [];
  try {
    await definePool(target.endpoints, prefix, '10.64.0.0/16');
    const d = await startServe({ endpoints: target.endpoints, prefix, node: 'abuse' });
    try {
      const victim = JSON.stringify({ apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'victim' }, spec: { ipVersion: 4, subnet: '10.65.0.0/24', ips: ['10.65.0.10-10.65.0.20'] } });
      await http(d, 'tcp', 'POST', `${SP}/spiderippools`, victim);
      await legitLoad(d, { ms: 1000, clients: o.clients, tag: 'warm' });
      for (const [name, attack] of Object.entries(ATTACKS)) {
        const ms = o.seconds * 1000;
        const base = await legitLoad(d, { ms, clients: o.clients, tag: `${name}-base` });
        let on = true;
        const attacking = attack(d, () => on && d.child.exitCode === null);
        const hit = await legitLoad(d, { ms, clients: o.clients, tag: `${name}-hit` });
        on = false;
        await attacking;
        await new Promise((r) => setTimeout(r, 500)); // the attack's connections close before the next baseline
        const crashed = d.child.exitCode !== null || d.child.signalCode !== null;
        results.push({
          name,
          unattackedPerSec: round(base.perSec),
          attackedPerSec: round(hit.perSec),
          ratioToUnattacked: round(hit.perSec / base.perSec, 2),
          unattackedP99Ms: round(base.p99Ms, 1),
          p99Ms: round(hit.p99Ms, 1),
          errors: hit.errors,
          crashed,
        });
        if (crashed) break;
      }
    } finally {
      await d.stop();
    }
  } finally {
    await target.close();
  }
  return { attacks: results, floor: ABUSE_FLOOR, seconds: o.seconds, clients: o.clients };
}
