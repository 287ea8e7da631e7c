// `bench http --open-loop`: one daemon (`ipam serve`) per round on a fresh prefix: after a warm-up, the unloaded p50
// through its HTTPS API (one client, closed loop), its closed-loop saturation (wrk, or Node clients), then Poisson
// arrivals from this process's keep-alive HTTPS client at fixed rates and at fractions of that saturation.
import { randomBytes } from 'node:crypto';
import { runAllocLoad } from '../alloc/driver.js';
import { definePool, openEngine } from '../alloc/engine.js';
import { checkInvariants, loggedAllocationsThenDrop } from '../alloc/invariants.js';
import { podRef, type AllocOutcome } from '../alloc/types.js';
import { settledWithin } from '../lib/open-loop.js';
import { measureOpenLoopBaselines } from '../lib/open-loop-baselines.js';
import { medianOf, runSweep, summarizeSweep, summedInvariants, type SweepRound } from '../lib/sweep.js';
import { daemonAgent, httpAllocator } from './client.js';
import { daemonPhases, httpsRoundTripP50, serverSplit } from './daemon-probes.js';
import { startOpenLoopClient, type OpenLoopClient } from './open-loop-client.js';
import { runWrk } from './wrk.js';
import { startServe } from '../../src/local/serve-process.js';

export interface HttpOpenLoopOptions {
  readonly endpoints: string[];
  /** Closed-loop clients of the saturation run. */
  readonly clients: number;
  readonly rounds: number;
  readonly poolCidr: string;
  readonly client: 'wrk' | 'node';
  /** Saturation run: seconds with wrk, or `count` allocations with Node clients. */
  readonly seconds: number;
  readonly count: number;
  readonly unloadedCount: number;
  readonly rates: readonly number[];
  readonly fractions: readonly number[];
  readonly stepMs: number;
  readonly maxOutstanding: number;
  /** Keep-alive connections of the open-loop client (opened before the sweep). */
  readonly connections: number;
  readonly seed: number;
  /** The local etcd's data dir: the baselines probe its fsync latency there. */
  readonly etcdDataDir?: string;
}

/** The unloaded run's requester on the open-loop client (its pods o-r2000000-s*; the warm-up's from 1,000,000, the steps' 0..). */
const UNLOADED_REQUESTER = 2_000_000;

/** The floor (issue #17): through the HTTP API, p99 at 25% of saturation <= 5x the unloaded p50. */
export const HTTP_OPEN_LOOP_FLOOR = { at: 0.25, factor: 5 } as const;

/** The unloaded p50's parts, the same round: the engine in this process on the same etcd and pool, an HTTPS round trip alone. */
export interface UnloadedSplit {
  readonly inProcessP50Ms: number;
  readonly httpsRoundTripP50Ms: number;
}

async function oneRound(o: HttpOpenLoopOptions, r: number): Promise<SweepRound & { invariants: { duplicates: number; lost: number; extra: number }; extraAllowed: number; staleSocketRetries: number; unloadedSplit: UnloadedSplit }> {
  const prefix = `/bench-http-open-${randomBytes(4).toString('hex')}/`;
  await definePool(o.endpoints, prefix, o.poolCidr);
  const d = await startServe({ endpoints: o.endpoints, prefix, node: 'bench-0' });
  const acks: { address: string; id: string }[] = [];
  let extraAllowed = 0;
  let open: OpenLoopClient | undefined;
  try {
    const say = (s: string) => process.stderr.write(`http open loop round ${r + 1}: ${s}\n`);
    say('warm-up, unloaded p50, closed-loop saturation');
    if (o.client === 'wrk') await runWrk(d, { connections: o.clients, seconds: 2, podPrefix: 'warm-' });
    else {
      const warm = httpAllocator([d], 'warm', o.clients);
      await runAllocLoad(warm, { requesters: o.clients, count: 2000, timeLimitMs: 60_000 });
      await warm.close();
    }
    // The open-loop client, on its own thread: its connections opened (and TLS handshakes paid) and its code warm
    // before it measures the unloaded p50 and the sweep (the p99 and the p50 it is held to, from the same client).
    const client = (open = await startOpenLoopClient({ daemon: d, connections: o.connections, tag: 'o' }));
    for (const x of await client.warm(1_000_000, o.connections * 4)) acks.push({ address: x.address, id: `o-${podRef(x.requester, x.seq)}` });
    // The unloaded p50 after the warm-up and before the saturation run, as in-process (bench/alloc/open-loop.ts): a
    // daemon not still paying for the saturation's garbage. Its parts just before it: the engine in this process (one
    // requester, the same etcd and pool; the daemon follows its writes), and GET /healthz on one connection (TLS, HTTP
    // parsing, both event loops, no work).
    const engine = await openEngine(o.endpoints, prefix, 'ip');
    const inProcess = await runAllocLoad(engine, { requesters: 1, count: o.unloadedCount, timeLimitMs: 60_000 });
    await engine.close();
    for (const x of inProcess.allocations) acks.push({ address: x.address, id: `ip-${podRef(x.requester, x.seq)}` });
    const probeAgent = daemonAgent(d, 1);
    const httpsRoundTripP50Ms = await httpsRoundTripP50(d, probeAgent, o.unloadedCount);
    const unloaded = await client.oneRequester(UNLOADED_REQUESTER, o.unloadedCount);
    for (const x of unloaded.allocations) acks.push({ address: x.address, id: `o-${podRef(x.requester, x.seq)}` });
    let saturation: number;
    if (o.client === 'wrk') {
      const w = await runWrk(d, { connections: o.clients, seconds: o.seconds, podPrefix: 'sat-' });
      acks.push(...w.acks);
      extraAllowed += o.clients; // answers wrk dropped when it stopped
      saturation = w.perSec;
    } else {
      const c = httpAllocator([d], 'sat', o.clients);
      const s = await runAllocLoad(c, { requesters: o.clients, count: o.count, timeLimitMs: 120_000 });
      await c.close();
      for (const x of s.allocations) acks.push({ address: x.address, id: `sat-${podRef(x.requester, x.seq)}` });
      saturation = s.allocsPerSec;
    }
    const swept = await runSweep((k, so) => client.step(k, so), { rates: o.rates, fractions: o.fractions, saturationPerSec: saturation, stepMs: o.stepMs, maxOutstanding: o.maxOutstanding, seed: o.seed, onStep: say, phases: daemonPhases(d, probeAgent) });
    probeAgent.destroy();
    const steps = swept.map((s) => {
      const server = serverSplit(s.result.answers);
      return server ? { ...s, phases: { ...s.phases, server } } : s;
    });
    for (const [k, s] of steps.entries()) {
      const settled = [...s.result.answers, ...(await settledWithin(s.result.pending, 30_000))];
      for (const x of settled) acks.push({ address: (x.value as AllocOutcome).address, id: `o-${podRef(k, x.index)}` });
    }
    const staleSocketRetries = await client.close();
    await d.stop();
    say('baselines (harness, etcd alone)');
    const floorStep = steps.find((x) => x.asFraction === HTTP_OPEN_LOOP_FLOOR.at);
    const baselines = await measureOpenLoopBaselines(o.endpoints, Math.max(1, Math.round(HTTP_OPEN_LOOP_FLOOR.at * saturation)), o.stepMs, o.seed, o.etcdDataDir, floorStep?.phases?.txnsPerSec);
    const inv = checkInvariants(acks, await loggedAllocationsThenDrop(o.endpoints, prefix));
    const unloadedSplit = { inProcessP50Ms: inProcess.latencyMs.p50, httpsRoundTripP50Ms };
    return { unloadedP50Ms: unloaded.p50Ms, saturationPerSec: saturation, steps, baselines, invariants: { duplicates: inv.duplicates, lost: inv.lost, extra: inv.extra }, extraAllowed, staleSocketRetries, unloadedSplit };
  } finally {
    await open?.close().catch(() => undefined); // a thread left running would keep the bench from exiting
    await d.stop();
  }
}

export async function runHttpOpenLoop(o: HttpOpenLoopOptions) {
  const rounds = [];
  for (let r = 0; r < o.rounds; r++) rounds.push(await oneRound(o, r));
  const summary = summarizeSweep(rounds, HTTP_OPEN_LOOP_FLOOR);
  return {
    scenario: 'http',
    mode: 'open-loop',
    client: o.client,
    clients: o.clients,
    connections: o.connections,
    rounds: o.rounds,
    stepSeconds: o.stepMs / 1000,
    maxOutstanding: o.maxOutstanding,
    seed: o.seed,
    ...summary,
    invariants: summedInvariants(rounds),
    extraAllowed: rounds.reduce((n, x) => n + x.extraAllowed, 0),
    /** The unloaded p50's parts (medians over rounds): the engine in-process, an HTTPS round trip alone. */
    unloadedSplit: {
      inProcessP50Ms: medianOf(rounds.map((x) => x.unloadedSplit.inProcessP50Ms)),
      httpsRoundTripP50Ms: medianOf(rounds.map((x) => x.unloadedSplit.httpsRoundTripP50Ms)),
      inProcessPerRound: rounds.map((x) => x.unloadedSplit.inProcessP50Ms),
      httpsRoundTripPerRound: rounds.map((x) => x.unloadedSplit.httpsRoundTripP50Ms),
    },
    /** Open-loop requests sent again after failing on a reused keep-alive socket the daemon had closed (client.ts). */
    staleSocketRetries: rounds.reduce((n, x) => n + x.staleSocketRetries, 0),
  };
}
