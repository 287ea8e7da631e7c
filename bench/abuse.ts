// `bench abuse`: each attack of the hostile-client suite for a fixed time beside a steady allocation load (clients on
// the daemon's unix socket, as the CNI plugin is), against the real `ipam serve` process; per attack, the legitimate
// rate and p99 as a ratio to the same load run just before it without the attack, medians over rounds. The attacker
// is a process of its own speaking TLS to the TCP API (abuse-attacker.ts); the CPU each process used is reported,
// so an attacker that costs the machine more than it costs the daemon is seen as such. Every attack loop is bounded.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { definePool, BENCH_POOL } from './alloc/engine.js';
import { ATTACK_NAMES, type AttackName, type AttackerConfig, type AttackerReport } from './abuse-attacker.js';
import { cpuSeconds } from './lib/proc-cpu.js';
import { openTarget } from './lib/target.js';
import { median, quantile, round } from './lib/stats.js';
import { startServe, type ServeProcess } from '../src/local/serve-process.js';

const ATTACKER = join(dirname(fileURLToPath(import.meta.url)), 'abuse-attacker.js');

export interface AbuseOptions {
  readonly seconds: number;
  readonly clients: number;
  /** Rounds of (without, with) per attack; figures are medians over rounds. */
  readonly rounds: number;
  readonly etcd?: string;
  /**
   * The attacker's nice level (0: none). An attacker on the host eats CPU whatever the daemon does; niced, it takes
   * what the daemon, etcd and the clients leave, so the ratio measures what the attack costs the daemon.
   */
  readonly attackerNice: number;
  /** Only these attacks (default all). */
  readonly only?: readonly AttackName[];
}

/** CPU cores a process used on average during a run (CPU seconds / wall seconds). */
export interface CpuCores {
  readonly daemon: number;
  readonly etcd: number;
  /** The bench process itself: the legitimate clients. */
  readonly clients: number;
  readonly attacker: number;
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
  /** Each round's ratio (the figure above is their median). */
  readonly roundRatios: readonly number[];
  /** Median over rounds of the CPU each process used, without and with the attack. */
  readonly cpuWithout: CpuCores;
  readonly cpuWith: CpuCores;
  /**
   * The daemon's CPU spent on the attack (median over rounds): its cores under attack less what the legitimate
   * allocations it served then cost at the unattacked CPU per allocation. What cheaper refusals bring down.
   */
  readonly daemonCoresOnAttack: number;
  /** Attack requests or connections the daemon saw a second (median over rounds), counted by the attacker. */
  readonly attackPerSec: number;
  /** What the daemon answered the attacker (all rounds): HTTP status, "reset" or "tls" (connection cut). */
  readonly answers: Record<string, number>;
}

/** A floor every attack must stay above (the issue's): legitimate rate under attack / without. */
export const ABUSE_FLOOR = 0.7;

interface Http {
  status: number;
  body: string;
}

/** A request over the daemon's unix socket (the legitimate clients' and the set-up's way in). */
function http(d: ServeProcess, method: string, path: string, body?: string): Promise<Http> {
  return new Promise((resolve, reject) => {
    const req = request(
      { method, path, headers: { 'content-type': 'application/json' }, socketPath: d.socket },
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
        const a = await http(d, 'POST', '/v1/allocations', JSON.stringify({ endpoint: { namespace: 'legit', name: pod, uid: `u-${pod}`, containerID: `c-${pod}` }, pools: { ipv4: [BENCH_POOL] } }));
        if (a.status === 201) lat.push(performance.now() - t0);
        else errors++;
        await http(d, 'POST', '/v1/releases', JSON.stringify({ containerID: `c-${pod}` }));
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

/** A running attacker process: `stop()` ends its loop and resolves with its report. */
interface Attacker {
  readonly pid: number;
  stop(): Promise<AttackerReport>;
}

async function startAttacker(d: ServeProcess, attack: AttackName, niceness: number): Promise<Attacker> {
  const cfg: AttackerConfig = { attack, url: d.url, token: d.token, ca: d.ca };
  const [cmd, args] = niceness > 0 ? ['nice', ['-n', String(niceness), process.execPath, ATTACKER]] : [process.execPath, [ATTACKER]];
  const child = spawn(cmd, args, { env: { ...process.env, IPAM_ABUSE_ATTACKER: JSON.stringify(cfg) }, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const next = () =>
    new Promise<string>((ok, fail) => {
      lines.once('line', ok);
      child.once('exit', (code) => fail(new Error(`the ${attack} attacker exited (${code}) without a report`)));
    });
  await next(); // {"started":true}
  return {
    pid: child.pid!,
    stop: async () => {
      const report = next();
      child.stdin!.end();
      return JSON.parse(await report) as AttackerReport;
    },
  };
}

/** CPU seconds of the daemon, etcd and this process now, for the cores each used over a run. */
function cpuNow(d: ServeProcess, etcdPids: readonly number[]): Omit<CpuCores, 'attacker'> {
  const u = process.cpuUsage();
  return { daemon: cpuSeconds(d.pid) ?? NaN, etcd: etcdPids.reduce((a, p) => a + (cpuSeconds(p) ?? NaN), 0), clients: (u.user + u.system) / 1e6 };
}

function coresOver(before: Omit<CpuCores, 'attacker'>, after: Omit<CpuCores, 'attacker'>, seconds: number, attackerSeconds: number): CpuCores {
  const c = (k: 'daemon' | 'etcd' | 'clients') => round((after[k] - before[k]) / seconds, 2);
  return { daemon: c('daemon'), etcd: c('etcd'), clients: c('clients'), attacker: round(attackerSeconds / seconds, 2) };
}

const medianCores = (xs: readonly CpuCores[]): CpuCores => {
  const m = (k: keyof CpuCores) => round(median(xs.map((x) => x[k])), 2);
  return { daemon: m('daemon'), etcd: m('etcd'), clients: m('clients'), attacker: m('attacker') };
};

interface Round {
  readonly base: Awaited<ReturnType<typeof legitLoad>>;
  readonly hit: Awaited<ReturnType<typeof legitLoad>>;
  readonly cpuWithout: CpuCores;
  readonly cpuWith: CpuCores;
  readonly answers: Record<string, number>;
  readonly crashed: boolean;
}

export async function runAbuse(o: AbuseOptions): Promise<{ attacks: AttackResult[]; floor: number; seconds: number; clients: number; rounds: number; attackerNice: number }> {
  const target = await openTarget(o.etcd ? { etcd: o.etcd } : {});
  const prefix = `/bench-abuse-${Date.now()}/`;
  const names = o.only ?? ATTACK_NAMES;
  const rounds = new Map<AttackName, Round[]>(names.map((n) => [n, []]));
  let crashed = false;
  try {
    await definePool(target.endpoints, prefix, '10.64.0.0/16');
    const d = await startServe({ endpoints: target.endpoints, prefix, node: 'abuse' });
    const alive = () => d.child.exitCode === null && d.child.signalCode === null;
    try {
      const victim = JSON.stringify({ apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'victim' }, spec: { ipVersion: 4, subnet: '10.65.0.0/24', ips: ['10.65.0.10-10.65.0.20'] } });
      const created = await http(d, 'POST', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools', victim);
      if (created.status !== 201) throw new Error(`creating the victim pool: ${created.status} ${created.body}`);
      await legitLoad(d, { ms: 1000, clients: o.clients, tag: 'warm' });
      const ms = o.seconds * 1000;
      for (let r = 0; r < o.rounds && !crashed; r++) {
        for (const name of names) {
          const c0 = cpuNow(d, target.pids);
          const base = await legitLoad(d, { ms, clients: o.clients, tag: `${name}-${r}-base` });
          const c1 = cpuNow(d, target.pids);
          const attacker = await startAttacker(d, name, o.attackerNice);
          const c2 = cpuNow(d, target.pids);
          const hit = await legitLoad(d, { ms, clients: o.clients, tag: `${name}-${r}-hit` });
          const c3 = cpuNow(d, target.pids);
          const report = await attacker.stop();
          await new Promise((ok) => setTimeout(ok, 500)); // the attack's connections close before the next baseline
          // The attacker's CPU over its whole life, spread over the loaded run (its set-up is part of the attack).
          rounds.get(name)!.push({ base, hit, cpuWithout: coresOver(c0, c1, ms / 1000, 0), cpuWith: coresOver(c2, c3, ms / 1000, report.cpuSeconds), answers: report.answers, crashed: !alive() });
          if (!alive()) {
            crashed = true;
            break;
          }
        }
      }
    } finally {
      await d.stop();
    }
  } finally {
    await target.close();
  }
  const attacks = [...rounds].filter(([, rs]) => rs.length > 0).map(([name, rs]): AttackResult => {
    const ratios = rs.map((x) => x.hit.perSec / x.base.perSec);
    const answers: Record<string, number> = {};
    for (const x of rs) for (const [k, v] of Object.entries(x.answers)) answers[k] = (answers[k] ?? 0) + v;
    return {
      name,
      unattackedPerSec: round(median(rs.map((x) => x.base.perSec))),
      attackedPerSec: round(median(rs.map((x) => x.hit.perSec))),
      ratioToUnattacked: round(median(ratios), 2),
      unattackedP99Ms: round(median(rs.map((x) => x.base.p99Ms)), 1),
      p99Ms: round(median(rs.map((x) => x.hit.p99Ms)), 1),
      errors: rs.reduce((a, x) => a + x.hit.errors, 0),
      crashed: rs.some((x) => x.crashed),
      roundRatios: ratios.map((x) => round(x, 2)),
      cpuWithout: medianCores(rs.map((x) => x.cpuWithout)),
      cpuWith: medianCores(rs.map((x) => x.cpuWith)),
      daemonCoresOnAttack: round(median(rs.map((x) => x.cpuWith.daemon - x.hit.perSec * (x.cpuWithout.daemon / x.base.perSec))), 2),
      attackPerSec: round(median(rs.map((x) => Object.entries(x.answers).reduce((a, [k, v]) => a + (k === 'tls' ? 0 : v), 0) / o.seconds))),
      answers,
    };
  });
  return { attacks, floor: ABUSE_FLOOR, seconds: o.seconds, clients: o.clients, rounds: o.rounds, attackerNice: o.attackerNice };
}
