// `bench cni`: CNI ADD and DEL latency of the ipam-es plugin binary (talking to a real `ipam serve` over its unix
// socket) next to Debian's host-local, both executed the same way in the same run: spawned with the CNI environment
// and the config on stdin, timed from spawn to exit, calls interleaved so both see the same noise.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoggedEvent } from '../events/catalogue.js';
import { Allocator } from '../src/alloc/allocator.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { pluginBinary, runPlugin, type PluginRun } from '../test/helpers/cni.js';
import { FakeApiServer } from '../test/helpers/fake-apiserver.js';
import { startServe } from '../src/local/serve-process.js';
import { Latencies, median, round } from './lib/stats.js';

export const HOST_LOCAL = '/usr/lib/cni/host-local';

export interface CniBenchOptions {
  readonly endpoints: string[];
  /** Pods added then deleted per round, per plugin. */
  readonly count: number;
  readonly rounds: number;
  /** Unmeasured ADD+DEL pairs per plugin before the first round (the first ADD defines the range's pool). */
  readonly warmup: number;
  /**
   * Also measure pool selection from the cluster: two more daemons on one etcd prefix, one as today (the pool named in
   * the CNI config), one with `--kubeconfig` (the API server double) whose pods carry ipam.spidernet.io/ippool and
   * whose pool has pod/namespace/node affinity judged against the cached labels. Calls interleaved with the others.
   */
  readonly selection?: boolean;
}

interface Figures {
  addP50Ms: number;
  addP90Ms: number;
  addP99Ms: number;
  delP50Ms: number;
  delP90Ms: number;
  delP99Ms: number;
}

export interface CniBenchResult extends Figures {
  readonly scenario: 'cni';
  readonly count: number;
  readonly rounds: number;
  readonly hostLocal: Figures;
  /** ours / host-local, p50. The floor is add <= 3. */
  readonly ratios: { readonly addP50: number; readonly delP50: number; readonly addFloor: 3; readonly addFloorMet: boolean };
  /** The same binary answering VERSION without the daemon: the exec cost alone. */
  readonly pluginExecOnlyP50Ms: number;
  /** A Node process doing nothing, per call: what a plugin written in Node would cost before any work. */
  readonly nodeProcessP50Ms: number;
  readonly perRound: readonly { ours: Figures; hostLocal: Figures; base?: Figures; selection?: Figures }[];
  /** With `selection`: today's ADD (pool named in the config, no kubeconfig) and the ADD with warm caches + annotations. */
  readonly selection?: {
    readonly base: Figures;
    readonly withCaches: Figures;
    /** The floor's figure: median over rounds of (ADD p50 with caches / ADD p50 today) within each round. */
    readonly addP50Ratio: number;
    /** Each round's ratio, in round order. */
    readonly perRoundAddP50Ratios: readonly number[];
    /** For comparison only: withCaches.addP50Ms / base.addP50Ms (each a median over rounds, not paired by round). */
    readonly ratioOfMedianAddP50: number;
    readonly floor: 1.2;
    readonly floorMet: boolean;
    readonly apiRequestsDuringRounds: number;
    readonly apiRequestKinds: readonly string[];
  };
  readonly invariants: { readonly duplicates: number; readonly badReleases: number; readonly liveAtEnd: number; readonly failedCalls: number };
}

export async function runCniBench(o: CniBenchOptions): Promise<CniBenchResult> {
  const bin = pluginBinary();
  const prefix = `/bench-cni-${Date.now().toString(36)}/`;
  const daemon = await startServe({ endpoints: o.endpoints, prefix, node: 'bench-node' });
  const dataDir = mkdtempSync(join(tmpdir(), 'ipam-bench-hostlocal-'));
  const sel = o.selection ? await startSelection(o, prefix) : undefined;
  try {
    interface Plugin {
      readonly bin: string;
      readonly conf: string;
      readonly extraEnv: Readonly<Record<string, string>>;
      /** Appended to container ids and pod names (the selection daemons share a prefix with each other). */
      readonly suffix?: string;
    }
    const ours: Plugin = { bin, conf: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-es', type: 'macvlan', ipam: { type: 'ipam-es', range: '10.97.0.0/16' } }), extraEnv: { IPAM_ES_SOCKET: daemon.socket } };
    const hostLocal: Plugin = { bin: HOST_LOCAL, conf: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-hl', type: 'macvlan', ipam: { type: 'host-local', dataDir, ranges: [[{ subnet: '10.96.0.0/16' }]] } }), extraEnv: {} };
    let failedCalls = 0;
    const call = async (p: Plugin, command: 'ADD' | 'DEL', pod: string): Promise<PluginRun> => {
      const id = `${pod}${p.suffix ?? ''}`;
      const r = await runPlugin(p.bin, {
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: `/run/netns/${id}`,
        CNI_IFNAME: 'eth0',
        CNI_PATH: '/usr/lib/cni',
        CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=bench;K8S_POD_NAME=${id};K8S_POD_UID=uid-${id}`,
        ...p.extraEnv,
      }, p.conf);
      if (r.code !== 0 || (command === 'ADD' && !r.stdout.includes('"ips"'))) {
        failedCalls++;
        if (failedCalls <= 3) process.stderr.write(`bench cni: ${p.bin} ${command} ${id} failed (${r.code}): ${r.stdout} ${r.stderr}\n`);
      }
      return r;
    };
    // One pod through both plugins; which goes first alternates, so neither always follows the other.
    const base: Plugin | undefined = sel && { bin, conf: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-base', type: 'macvlan', ipam: { type: 'ipam-es', pools: { ipv4: ['bench-base'] } } }), extraEnv: { IPAM_ES_SOCKET: sel.base.socket }, suffix: '-b' };
    const selected: Plugin | undefined = sel && { bin, conf: JSON.stringify({ cniVersion: '1.0.0', name: 'bench-sel', type: 'macvlan', ipam: { type: 'spiderpool' } }), extraEnv: { IPAM_ES_SOCKET: sel.withCaches.socket }, suffix: '-s' };
    const both = async (command: 'ADD' | 'DEL', id: string, i: number, sink?: { ours: Latencies; hl: Latencies; base: Latencies; sel: Latencies }) => {
      const order: [Plugin, Latencies | undefined][] = [
        [ours, sink?.ours],
        [hostLocal, sink?.hl],
        ...(base && selected ? ([[base, sink?.base], [selected, sink?.sel]] as [Plugin, Latencies | undefined][]) : []),
      ];
      // Rotate, so no plugin always follows the same one.
      for (let k = 0; k < i % order.length; k++) order.push(order.shift()!);
      for (const [p, l] of order) l?.add((await call(p, command, id)).ms);
    };

    for (let i = 0; i < o.warmup; i++) await both('ADD', `warm-${i}`, i);
    for (let i = 0; i < o.warmup; i++) await both('DEL', `warm-${i}`, i);
    const perRound: { ours: Figures; hostLocal: Figures; base?: Figures; selection?: Figures }[] = [];
    const apiBefore = sel?.fake.requests.length ?? 0;
    for (let r = 0; r < o.rounds; r++) {
      const add = { ours: new Latencies(), hl: new Latencies(), base: new Latencies(), sel: new Latencies() };
      const del = { ours: new Latencies(), hl: new Latencies(), base: new Latencies(), sel: new Latencies() };
      for (let i = 0; i < o.count; i++) await both('ADD', `r${r}-pod-${i}`, i, add);
      for (let i = 0; i < o.count; i++) await both('DEL', `r${r}-pod-${i}`, i, del);
      perRound.push({ ours: figures(add.ours, del.ours), hostLocal: figures(add.hl, del.hl), ...(sel ? { base: figures(add.base, del.base), selection: figures(add.sel, del.sel) } : {}) });
    }
    // Requests the API server got while the rounds ran (the caches' watches are open already: a warm ADD makes none).
    const apiRequestsDuringRounds = (sel?.fake.requests.length ?? 0) - apiBefore;
    const apiRequestKinds = [...new Set(sel?.fake.requests.slice(apiBefore) ?? [])].slice(0, 5);
    const pluginExecOnly = new Latencies();
    const nodeProcess = new Latencies();
    for (let i = 0; i < 20; i++) pluginExecOnly.add((await runPlugin(bin, { CNI_COMMAND: 'VERSION' }, '{"cniVersion":"1.0.0"}')).ms);
    for (let i = 0; i < 10; i++) nodeProcess.add((await runPlugin(process.execPath, {}, '', { args: ['-e', '0'] })).ms);

    const check = await checkLog(o.endpoints, prefix);
    let selection: CniBenchResult['selection'];
    if (sel) {
      const selCheck = await checkLog(o.endpoints, sel.prefix);
      check.duplicates += selCheck.duplicates;
      check.badReleases += selCheck.badReleases;
      check.liveAtEnd += selCheck.liveAtEnd;
      // Paired by round (both daemons' calls interleaved in the same loop): each round's ratio sees the same noise.
      const perRoundAddP50Ratios = perRound.map((x) => round(x.selection!.addP50Ms / x.base!.addP50Ms, 2));
      const ratio = round(median(perRound.map((x) => x.selection!.addP50Ms / x.base!.addP50Ms)), 2);
      const baseFig = medianFigures(perRound.map((x) => x.base!));
      const withCaches = medianFigures(perRound.map((x) => x.selection!));
      selection = { base: baseFig, withCaches, addP50Ratio: ratio, perRoundAddP50Ratios, ratioOfMedianAddP50: round(withCaches.addP50Ms / baseFig.addP50Ms, 2), floor: 1.2, floorMet: ratio <= 1.2, apiRequestsDuringRounds, apiRequestKinds };
    }
    const med = (pick: (f: { ours: Figures; hostLocal: Figures }) => number) => round(median(perRound.map(pick)), 2);
    const oursFig = medianFigures(perRound.map((x) => x.ours));
    const hlFig = medianFigures(perRound.map((x) => x.hostLocal));
    const addRatio = round(med((x) => x.ours.addP50Ms / x.hostLocal.addP50Ms), 2);
    return {
      scenario: 'cni',
      count: o.count,
      rounds: o.rounds,
      ...oursFig,
      hostLocal: hlFig,
      ratios: { addP50: addRatio, delP50: round(med((x) => x.ours.delP50Ms / x.hostLocal.delP50Ms), 2), addFloor: 3, addFloorMet: addRatio <= 3 },
      pluginExecOnlyP50Ms: pluginExecOnly.summary().p50,
      nodeProcessP50Ms: nodeProcess.summary().p50,
      perRound,
      ...(selection ? { selection } : {}),
      invariants: { ...check, failedCalls },
    };
  } finally {
    await daemon.stop();
    await sel?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface SelectionDaemons {
  readonly prefix: string;
  readonly fake: FakeApiServer;
  readonly base: { readonly socket: string };
  readonly withCaches: { readonly socket: string };
  stop(): Promise<void>;
}

/** The API server double with the bench's node, namespace and every pod it will add; two daemons on one prefix. */
async function startSelection(o: CniBenchOptions, prefix: string): Promise<SelectionDaemons> {
  const selPrefix = `${prefix.slice(0, -1)}-sel/`;
  const fake = await FakeApiServer.start();
  fake.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'bench-node', labels: { 'topology.kubernetes.io/zone': 'bench-a' } } });
  fake.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'bench', labels: { 'kubernetes.io/metadata.name': 'bench' } } });
  const names = [...Array.from({ length: o.warmup }, (_, i) => `warm-${i}`), ...Array.from({ length: o.rounds * o.count }, (_, k) => `r${Math.floor(k / o.count)}-pod-${k % o.count}`)];
  for (const n of names) {
    fake.put({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${n}-s`, namespace: 'bench', uid: `uid-${n}-s`, labels: { app: 'bench', 'pod-template-hash': '7d9f' }, annotations: { 'ipam.spidernet.io/ippool': '{"ipv4": ["bench-sel"]}' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'bench-7d9f', uid: 'rs', controller: true }] },
      spec: { nodeName: 'bench-node' },
    });
  }
  // Both pools up front, from an allocator of the bench's own on the shared prefix.
  const client = openEtcd({ endpoints: o.endpoints });
  const store = new EventStore(client, { prefix: selPrefix });
  try {
    await store.open();
    const a = new Allocator(store);
    await a.start();
    const at = new Date().toISOString();
    await a.definePool('bench-base', { ipVersion: 4, subnet: '10.98.0.0/16', ips: ['10.98.0.10-10.98.255.250'] }, { at });
    const affinity = { podAffinity: { matchLabels: { app: 'bench' } }, namespaceAffinity: { matchLabels: { 'kubernetes.io/metadata.name': 'bench' } }, nodeAffinity: { matchExpressions: [{ key: 'topology.kubernetes.io/zone', operator: 'In', values: ['bench-a'] }] } };
    await a.definePool('bench-sel', { ipVersion: 4, subnet: '10.99.0.0/16', ips: ['10.99.0.10-10.99.255.250'], ...affinity }, { at });
    await a.stop();
  } finally {
    await store.close();
    client.close();
  }
  const kubeconfig = fake.kubeConfigFile();
  const base = await startServe({ endpoints: o.endpoints, prefix: selPrefix, node: 'bench-node' });
  const withCaches = await startServe({ endpoints: o.endpoints, prefix: selPrefix, node: 'bench-node', kubeconfig }).catch(async (e: unknown) => {
    await base.stop();
    throw e;
  });
  return {
    prefix: selPrefix,
    fake,
    base,
    withCaches,
    async stop() {
      await Promise.all([base.stop(), withCaches.stop()]);
      await fake.close();
      rmSync(kubeconfig, { force: true });
    },
  };
}

function figures(add: Latencies, del: Latencies): Figures {
  const a = add.summary();
  const d = del.summary();
  return { addP50Ms: a.p50, addP90Ms: a.p90, addP99Ms: a.p99, delP50Ms: d.p50, delP90Ms: d.p90, delP99Ms: d.p99 };
}

/** Each figure is the median over rounds. */
function medianFigures(xs: readonly Figures[]): Figures {
  const m = (k: keyof Figures) => round(median(xs.map((x) => x[k])), 2);
  return { addP50Ms: m('addP50Ms'), addP90Ms: m('addP90Ms'), addP99Ms: m('addP99Ms'), delP50Ms: m('delP50Ms'), delP90Ms: m('delP90Ms'), delP99Ms: m('delP99Ms') };
}

/** Every ADD was released by its DEL, and no address was held twice. */
async function checkLog(endpoints: string[], prefix: string): Promise<{ duplicates: number; badReleases: number; liveAtEnd: number }> {
  const client = openEtcd({ endpoints });
  const store = new EventStore(client, { prefix });
  try {
    await store.open();
    const events: LoggedEvent[] = [];
    for await (const e of store.read()) events.push(e);
    const c = checkAllocationLog(events);
    await client.delete().prefix(prefix); // the bench's keys are throw-away
    return { duplicates: c.duplicates, badReleases: c.badReleases, liveAtEnd: c.live };
  } finally {
    await store.close();
    client.close();
  }
}
