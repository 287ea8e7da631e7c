// The attacker of `bench abuse`, in a process of its own (so its CPU is not taken from the legitimate clients' event
// loop, and is measured apart): runs one attack against the daemon's TCP API, over TLS as a real client must (the
// API is HTTPS), until its stdin closes, then prints what the daemon answered and the CPU it used as one JSON line.
// Every attack is bounded in rate or in count.
import { Agent, request } from 'node:https';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect, type Socket } from 'node:net';

export interface AttackerConfig {
  readonly attack: AttackName;
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly token: string;
  /** PEM of the CA that signed the daemon's serving certificate. */
  readonly ca: string;
}

/** What the attacker reports when it stops. */
export interface AttackerReport {
  /** Answers by HTTP status; "reset" for connections cut before an answer, "tls" for handshakes that failed, "sent" for requests sent on raw connections (never read). */
  readonly answers: Record<string, number>;
  readonly cpuSeconds: number;
}

export const ATTACK_NAMES = ['patch-growth', 'watch-flood', 'aborted-watches', 'idle-connections', 'selectors'] as const;
export type AttackName = (typeof ATTACK_NAMES)[number];

const SP = '/apis/spiderpool.spidernet.io/v2beta1';

interface Ctx {
  readonly cfg: AttackerConfig;
  readonly host: string;
  readonly port: number;
  running(): boolean;
  count(answer: string | number): void;
}

/** One request; keep-alive (`agent`) so a request attack costs the daemon its request, not a handshake each. */
function send(c: Ctx, agent: Agent, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: c.host, port: c.port, ca: c.cfg.ca, agent, method, path, headers: { authorization: `Bearer ${c.cfg.token}`, 'content-type': 'application/json', ...headers } }, (res) => {
      c.count(res.statusCode ?? 0);
      res.resume();
      res.on('end', resolve);
      res.on('error', resolve);
    });
    req.on('error', () => {
      c.count('reset');
      resolve();
    });
    req.end(body);
  });
}

/** A TLS connection that sends `text` and never reads; resolves once the text is written (or the handshake failed). */
function raw(c: Ctx, text: string): Promise<TLSSocket | undefined> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: c.host, port: c.port, ca: c.cfg.ca });
    s.on('error', () => undefined);
    let connected = false;
    s.once('secureConnect', () => {
      connected = true;
      c.count('sent');
      s.write(text);
      s.pause();
      resolve(s);
    });
    s.once('close', () => {
      if (!connected) c.count('tls');
      resolve(undefined);
    });
  });
}

/** A bare TCP connection from `from` that never sends a byte (not even a TLS hello). */
function idle(c: Ctx, from: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ port: c.port, host: c.host, localAddress: from });
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

/** Runs `fn` at most `perSec` times a second while running: a bounded load, not a CPU race. */
async function paced(c: Ctx, perSec: number, fn: () => Promise<unknown>): Promise<void> {
  while (c.running()) {
    const t0 = performance.now();
    await fn();
    const left = 1000 / perSec - (performance.now() - t0);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
  }
}

const watchGet = (c: Ctx, path: string) => `GET ${path} HTTP/1.1\r\nHost: d\r\nAuthorization: Bearer ${c.cfg.token}\r\n\r\n`;
const until = async (c: Ctx) => {
  while (c.running()) await new Promise((r) => setTimeout(r, 100));
};

const ATTACKS: Record<AttackName, (c: Ctx) => Promise<void>> = {
  // 1: add 1 KB, then copy /metadata into itself 40 times, 50 a second.
  'patch-growth': async (c) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const ops = JSON.stringify([{ op: 'add', path: '/metadata/annotations', value: { pad: 'x'.repeat(1024) } }, ...Array.from({ length: 40 }, (_, i) => ({ op: 'copy', from: '/metadata', path: `/metadata/c${i}` }))]);
    await paced(c, 50, () => send(c, agent, 'PATCH', `${SP}/spiderippools/victim`, ops, { 'content-type': 'application/json-patch+json' }));
    agent.destroy();
  },
  // 2: 200 watches on SpiderEndpoints that never read (the load's own allocations feed them).
  'watch-flood': async (c) => {
    const held: (TLSSocket | undefined)[] = [];
    for (let i = 0; i < 200 && c.running(); i++) held.push(await raw(c, watchGet(c, `${SP}/spiderendpoints?watch=true`)));
    await until(c);
    held.forEach((s) => s?.destroy());
  },
  // 3: watches dropped during their catch-up wait, 20 at a time, 10 times a second (each a new TLS connection).
  'aborted-watches': async (c) => {
    await paced(c, 10, () => Promise.all(Array.from({ length: 20 }, async () => (await raw(c, watchGet(c, `${SP}/spiderippools?watch=true`)))?.destroy())));
  },
  // 4: idle connections that never even say hello, from 127.0.0.2, as many as 3,000.
  'idle-connections': async (c) => {
    const held: Socket[] = [];
    for (let i = 0; i < 3000 && c.running(); i++) held.push(await idle(c, '127.0.0.2'));
    await until(c);
    held.forEach((s) => s.destroy());
  },
  // 7: four loops of hostile ~12 KB fieldSelectors (spaces), 25 a second each.
  'selectors': async (c) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const q = `${SP}/spiderippools?fieldSelector=${encodeURIComponent(`metadata.name${' '.repeat(4000)}x`)}`;
    await Promise.all(Array.from({ length: 4 }, () => paced(c, 25, () => send(c, agent, 'GET', q))));
    agent.destroy();
  },
};

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env.IPAM_ABUSE_ATTACKER ?? '') as AttackerConfig;
  const url = new URL(cfg.url);
  let on = true;
  const answers: Record<string, number> = {};
  const c: Ctx = { cfg, host: url.hostname, port: Number(url.port), running: () => on, count: (a) => void (answers[a] = (answers[a] ?? 0) + 1) };
  process.stdin.resume();
  process.stdin.once('end', () => (on = false));
  process.stdin.once('close', () => (on = false));
  process.stdout.write('{"started":true}\n');
  await ATTACKS[cfg.attack](c);
  const u = process.cpuUsage();
  const report: AttackerReport = { answers, cpuSeconds: (u.user + u.system) / 1e6 };
  process.stdout.write(`${JSON.stringify(report)}\n`, () => process.exit(0));
}

if (process.env.IPAM_ABUSE_ATTACKER) void main();
