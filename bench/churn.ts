// `bench churn`: the shape of Spiderpool's IPAM performance test, at the IPAM level. Deployments' pods are created
// (CNI ADD), all replaced by a rollout (old pod's DEL, then the new pod's ADD), then deleted (DEL), with up to
// `concurrency` requests in flight. Each workload x family runs on a fresh prefix; afterwards the log must show no
// address held twice and, after the delete phase, nothing held.
import { randomBytes } from 'node:crypto';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import type { Endpoint, LoggedEvent } from '../events/catalogue.js';
import { Allocator } from '../src/alloc/allocator.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { progress } from './lib/progress.js';
import { Latencies, round } from './lib/stats.js';

export interface ChurnWorkload {
  /** '100x10': deployments x replicas. */
  readonly name: string;
  readonly deployments: number;
  readonly replicas: number;
}

export type ChurnFamily = 'ipv4' | 'dual';
export type ChurnPhaseName = 'create' | 'recreate' | 'delete';
export const CHURN_PHASES: readonly ChurnPhaseName[] = ['create', 'recreate', 'delete'];

/** The published test's two workloads: 100 Deployments x 10 replicas, and 1 Deployment x 1000 replicas. */
export const CHURN_WORKLOADS: readonly ChurnWorkload[] = [
  { name: '100x10', deployments: 100, replicas: 10 },
  { name: '1x1000', deployments: 1, replicas: 1000 },
];
export const CHURN_FAMILIES: readonly ChurnFamily[] = ['ipv4', 'dual'];

export const CHURN_POOLS = {
  ipv4: { name: 'churn-v4', spec: { ipVersion: 4, subnet: '10.80.0.0/20', ips: ['10.80.0.1-10.80.15.254'], default: true } },
  ipv6: { name: 'churn-v6', spec: { ipVersion: 6, subnet: 'fd00:80::/116', ips: ['fd00:80::1-fd00:80::fff'], default: true } },
} as const;

const AT = '2026-01-01T00:00:00Z';

export interface ChurnOptions {
  readonly endpoints: string[];
  /** Requests in flight at most, per phase (default 256). */
  readonly concurrency?: number;
  readonly workloads?: readonly ChurnWorkload[];
  readonly families?: readonly ChurnFamily[];
  /** After each case, delete its keys and compact etcd (keeps cases comparable; not for a shared test etcd). */
  readonly compact?: boolean;
  /** Show progress bars on a terminal (default true). */
  readonly progress?: boolean;
}

export interface ChurnPhaseResult {
  readonly seconds: number;
  /** Pod operations per second: an ADD (create), a DEL then ADD (recreate), a DEL (delete). */
  readonly opsPerSec: number;
  /** Latency of one pod operation (for recreate: its DEL plus its ADD). */
  readonly latencyMs: { p50: number; p90: number; p99: number; max: number };
  /** Pod operations asked for, and completed with the expected result (one address per family). */
  readonly operations: number;
  readonly completed: number;
  /** CNI calls made (recreate makes two per pod). */
  readonly cniCalls: number;
  readonly errors: number;
  readonly firstError?: string;
}

export interface ChurnInvariants {
  /** IPAllocated events giving an address to a pod while another pod held it. */
  readonly duplicates: number;
  /** Allocations held after the delete phase (the live model after sync()). */
  readonly leftovers: number;
  /** IPReleased events of an allocation that was not live. */
  readonly badReleases: number;
  /** Allocations still held by a replay of the log after the delete phase. */
  readonly leftoversInLog: number;
  readonly details: readonly string[];
}

export interface ChurnCaseResult {
  readonly workload: string;
  readonly family: ChurnFamily;
  readonly pods: number;
  readonly concurrency: number;
  readonly phases: Record<ChurnPhaseName, ChurnPhaseResult>;
  readonly invariants: ChurnInvariants;
  readonly conflicts: number;
}

export interface ChurnReport {
  readonly scenario: 'churn';
  readonly concurrency: number;
  readonly pools: { ipv4: string; ipv6: string };
  readonly results: ChurnCaseResult[];
}

/** Runs every workload in every family, each on a fresh prefix of the same etcd. */
export async function runChurn(o: ChurnOptions): Promise<ChurnReport> {
  const concurrency = o.concurrency ?? 256;
  const results: ChurnCaseResult[] = [];
  for (const w of o.workloads ?? CHURN_WORKLOADS) {
    for (const f of o.families ?? CHURN_FAMILIES) results.push(await runChurnCase(o.endpoints, w, f, { ...o, concurrency }));
  }
  return { scenario: 'churn', concurrency, pools: { ipv4: CHURN_POOLS.ipv4.spec.subnet, ipv6: CHURN_POOLS.ipv6.spec.subnet }, results };
}

interface Pod {
  readonly deployment: number;
  readonly replica: number;
  endpoint: Endpoint;
}

function podEndpoint(deployment: number, replica: number, generation: number, i: number): Endpoint {
  const rs = `deploy-${deployment}-g${generation}`;
  const name = `${rs}-${replica}-${randomBytes(3).toString('hex')}`;
  return {
    namespace: 'churn',
    name,
    uid: `uid-${name}`,
    containerID: `ctr-${name}`,
    node: `node-${i % 50}`,
    nic: 'eth0',
    owner: { kind: 'ReplicaSet', name: rs },
  };
}

/** Runs `n` tasks with at most `limit` in flight. */
async function bounded(n: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
}

export async function runChurnCase(
  endpoints: string[],
  w: ChurnWorkload,
  family: ChurnFamily,
  o: { concurrency: number; compact?: boolean; progress?: boolean },
): Promise<ChurnCaseResult> {
  const prefix = `/bench-churn-${randomBytes(4).toString('hex')}/`;
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const store = new EventStore(client, { prefix });
  await store.open();
  const engine = new Allocator(store, { maxAttempts: 64 });
  try {
    await engine.start();
    await engine.definePool(CHURN_POOLS.ipv4.name, CHURN_POOLS.ipv4.spec, { at: AT });
    if (family === 'dual') await engine.definePool(CHURN_POOLS.ipv6.name, CHURN_POOLS.ipv6.spec, { at: AT });
    const perPod = family === 'dual' ? 2 : 1;
    const pods: Pod[] = [];
    for (let d = 0; d < w.deployments; d++) for (let r = 0; r < w.replicas; r++) pods.push({ deployment: d, replica: r, endpoint: podEndpoint(d, r, 0, pods.length) });

    const add = async (ep: Endpoint) => {
      const r = await engine.allocate({ endpoint: ep, at: AT });
      if (r.reused || r.allocations.length !== perPod) throw new Error(`ADD ${ep.name}: ${r.allocations.length} address(es), reused ${r.reused}`);
    };
    const del = async (ep: Endpoint) => {
      const r = await engine.releaseContainer(ep.containerID, ep.nic, AT);
      if (r.released.length !== perPod) throw new Error(`DEL ${ep.name}: released ${r.released.length} address(es)`);
    };

    const phase = async (name: ChurnPhaseName, callsPerOp: number, op: (p: Pod, i: number) => Promise<void>): Promise<ChurnPhaseResult> => {
      const lat = new Latencies();
      const bar = o.progress === false ? { update: () => undefined, stop: () => undefined } : progress(`${w.name} ${family} ${name}`, pods.length);
      let completed = 0;
      let errors = 0;
      let firstError: string | undefined;
      const t0 = performance.now();
      await bounded(pods.length, o.concurrency, async (i) => {
        const s = performance.now();
        try {
          await op(pods[i]!, i);
          lat.add(performance.now() - s);
          completed++;
        } catch (e) {
          errors++;
          firstError ??= e instanceof Error ? e.message : String(e);
        }
        if ((completed + errors) % 64 === 0) bar.update(completed + errors);
      });
      const seconds = (performance.now() - t0) / 1000;
      bar.update(completed + errors);
      bar.stop();
      return {
        seconds: round(seconds, 3),
        opsPerSec: round(completed / seconds),
        latencyMs: lat.count ? lat.summary() : { p50: 0, p90: 0, p99: 0, max: 0 },
        operations: pods.length,
        completed,
        cniCalls: pods.length * callsPerOp,
        errors,
        ...(firstError !== undefined ? { firstError } : {}),
      };
    };

    const create = await phase('create', 1, (p) => add(p.endpoint));
    // A rollout: each pod's replacement gets a new name, uid and container in the Deployment's next ReplicaSet.
    const recreate = await phase('recreate', 2, async (p, i) => {
      const next = podEndpoint(p.deployment, p.replica, 1, i);
      await del(p.endpoint);
      p.endpoint = next;
      await add(next);
    });
    const del_ = await phase('delete', 1, (p) => del(p.endpoint));

    await engine.sync();
    const leftovers = engine.model.byId.size;
    const log = await checkChurnLog(store);
    return {
      workload: w.name,
      family,
      pods: pods.length,
      concurrency: o.concurrency,
      phases: { create, recreate, delete: del_ },
      invariants: { duplicates: log.duplicates, leftovers, badReleases: log.badReleases, leftoversInLog: log.live, details: log.details.slice(0, 10) },
      conflicts: engine.stats.conflicts,
    };
  } finally {
    await engine.stop();
    await store.close();
    await client.delete().prefix(prefix);
    if (o.compact) {
      const rev = Number((await client.kv.range({ key: Buffer.from(prefix), count_only: true })).header.revision);
      await client.kv.compact({ revision: rev, physical: true });
    }
    client.close();
  }
}

/** Reads the log in order: an address given while another endpoint holds it is a duplicate. */
export async function checkChurnLog(store: EventStore): Promise<{ duplicates: number; badReleases: number; live: number; details: string[] }> {
  const events: LoggedEvent[] = [];
  for await (const e of store.read({ types: ['IPAllocated', 'IPReleased'] })) events.push(e);
  return checkAllocationLog(events);
}

