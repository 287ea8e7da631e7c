// `npm run bench -- <scenario> [options]`: each scenario starts its own local etcd unless endpoints are given.
import { writeFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { environment } from './lib/env.js';
import { table } from './lib/table.js';
import { round } from './lib/stats.js';
import { openTarget } from './lib/target.js';
import { runStoreBench } from './store.js';
import { runAllocScenario } from './alloc/scenario.js';
import { renderSvg } from './lib/chart.js';
import { runChurn, CHURN_PHASES } from './churn.js';
import { runColdStart, runReplayBench, runReplayFromEtcd } from './replay.js';
import { REPLAY_BATCH } from './lib/synth.js';
import { runCniBench } from './cni.js';
import { runHttpBench } from './http/scenario.js';
import { runChaos } from './chaos.js';
import { ABUSE_FLOOR, runAbuse, type CpuCores } from './abuse.js';
import { ATTACK_NAMES, type AttackName } from './abuse-attacker.js';
import { runCliBench } from './cli.js';
import { runSoak, soakPolicy } from './soak.js';
import { DEFAULT_RETENTION, parseBytes, parseDuration } from '../src/lifecycle/retention.js';
import { runModelBench } from './model/scenario.js';
import { runPipelineBench } from './alloc/pipeline.js';
import { DAEMON_RSS_FLOOR_MB, runDaemonMemory } from './daemon-memory.js';
import { runAllocOpenLoop } from './alloc/open-loop.js';
import { measureEtcdShapes } from './alloc/etcd-shapes.js';
import { runHttpOpenLoop } from './http/open-loop.js';
import { parseEtcdConfig, runEtcdAlone } from './etcd-alone.js';
import { runCodecBench } from './codec.js';
import { renderLatencySweepSvg } from './lib/latency-chart.js';
import { DEFAULT_FRACTIONS, DEFAULT_RATES, sweepJson, sweepRows } from './lib/sweep.js';

const DAEMON_NOTE = 'allocator model + every live projection';
const program = new Command().name('bench').description('benchmarks of the IPAM engine, each with its baseline measured in the same run');
const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`expected a positive integer, got ${v}`);
  return n;
};

function common(cmd: Command): Command {
  return cmd
    .option('--etcd <endpoints>', 'use this etcd instead of starting a local one')
    .addOption(new Option('--etcd-cluster <members>', 'start a local etcd cluster of this many members').argParser(int))
    .option('--etcd-flags <flags>', "extra flags of the local etcd, space-separated (e.g. '--backend-batch-interval=10ms'; bench etcd-alone compares them)")
    .option('--etcd-data-dir <dir>', "parent of the local etcd's throw-away data dir (default: the system's temp dir; e.g. /dev/shm takes the disk's fsync latency out)")
    .option('--json <file>', 'write every figure and the environment to this JSON file');
}

const list = (v: string) => v.split(',').map((x) => {
  const n = Number(x.trim());
  if (!(n > 0)) throw new Error(`expected positive numbers separated by commas, got ${v}`);
  return n;
});

/** The open-loop sweep's options, shared by `alloc` and `http`. */
function openLoopOptions(cmd: Command): Command {
  return cmd
    .option('--open-loop', 'open-loop sweep: Poisson arrivals at fixed rates and at fractions of the closed-loop saturation of the same round; latency from the scheduled arrival')
    .option('--rates <list>', 'open loop: offered rates/s', list, [...DEFAULT_RATES])
    .option('--fractions <list>', 'open loop: then these fractions of the closed-loop saturation', list, [...DEFAULT_FRACTIONS])
    .option('--step-seconds <s>', 'open loop: arrival window of each step', Number, 2)
    .option('--max-outstanding <n>', 'open loop: calls in flight at most (arrivals beyond it are dropped and counted)', int, 4096)
    .option('--unloaded-count <n>', 'open loop: allocations of the unloaded (one requester) run', int, 300)
    .option('--seed <n>', 'open loop: seed of the arrival schedules', int, 17);
}

/** Prints and writes an open-loop sweep: table, JSON (`unloadedP50Ms`, `openLoop: [...]`) and the SVG. */
function emitSweep(r: Parameters<typeof sweepJson>[0] & Record<string, unknown>, what: string, title: string, o: { json?: string; svg?: string }, moreFooter: (string | number)[][] = []): void {
  const rows = sweepRows(r, what);
  rows.footer.splice(1, 0, ...moreFooter);
  emit(sweepJson(r) as unknown as Record<string, unknown>, rows.steps, o.json, undefined, `\n${table(rows.footer)}\n`);
  for (const x of r.openLoop) if (x.errorMessages.length) process.stderr.write(`errors at ${x.offeredPerSec}/s: ${x.errorMessages.join(' | ')}\n`);
  if (o.svg) {
    writeFileSync(o.svg, renderLatencySweepSvg(r, title));
    process.stdout.write(`wrote ${o.svg}\n`);
  }
}

function emit(result: Record<string, unknown>, rows: (string | number)[][], json: string | undefined, svg?: { file: string | undefined; chart: Parameters<typeof renderSvg>[0] }, after = ''): void {
  const doc = { ...result, environment: environment() };
  process.stdout.write(`${table(rows)}\n${after}`);
  if (json) {
    writeFileSync(json, `${JSON.stringify(doc, null, 2)}\n`);
    process.stdout.write(`wrote ${json}\n`);
  }
  if (svg?.file) {
    writeFileSync(svg.file, renderSvg(svg.chart));
    process.stdout.write(`wrote ${svg.file}\n`);
  }
}

common(program.command('store'))
  .description('conditional appends (group-committed) vs raw etcd puts of the same events in full txns')
  .option('--events <n>', 'events per round', int, 60_000)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 5)
  .option('--requesters <n>', 'concurrent appenders', int, 256)
  .option('--raw-concurrency <n>', 'raw txns in flight', int, 16)
  .option('--max-inflight <n>', 'store txns in flight (default: the store\'s own, 3)', int, 3)
  .option('--max-ops <n>', 'etcd --max-txn-ops in use', int, 128)
  .addOption(new Option('--shape <shape>', 'event shape: one tag per event, or the allocator\'s IPAllocated tags').choices(['single-tag', 'allocation', 'both']).default('both'))
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const shapes = o.shape === 'both' ? (['single-tag', 'allocation'] as const) : [o.shape as 'single-tag' | 'allocation'];
      const results = [];
      const rows: (string | number)[][] = [['shape', 'figure', 'median', 'per round']];
      for (const shape of shapes) {
        const r = await runStoreBench({ endpoints: target.endpoints, events: o.events, rounds: o.rounds, requesters: o.requesters, rawConcurrency: o.rawConcurrency, maxInflight: o.maxInflight, maxOps: o.maxOps, shape });
        results.push(r);
        rows.push(
          [shape, 'store: appended events/s', r.appendedEventsPerSec, r.rounds.map((x) => x.appendedEventsPerSec).join(' ')],
          [shape, 'raw etcd puts/s (full txns)', r.baselines.etcdCeiling.keysPerSec, r.rounds.map((x) => x.rawKeysPerSec).join(' ')],
          [shape, 'ratio store/raw (median of paired rounds)', r.ratioToRaw, r.rounds.map((x) => Math.round((x.appendedEventsPerSec / x.rawKeysPerSec) * 1000) / 1000).join(' ')],
        );
      }
      emit({ scenario: 'store', results, ...results[0] }, rows, o.json);
    } finally {
      await target.close();
    }
  });

openLoopOptions(common(program.command('alloc')))
  .description('N requesters across P processes allocate from one pool; baselines: pool-object CAS and raw etcd puts')
  .option('--requesters <n>', 'concurrent requesters in all', int, 256)
  .option('--processes <n>', 'allocator processes', int, 1)
  .option('--count <n>', 'allocations per round', int, 30_000)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 3)
  .option('--pool <cidr>', 'the pool: any CIDR of either family (e.g. fd00:10::/64)', '10.64.0.0/14')
  .option('--compare-pool <cidr>', 'also run each round on this pool, back to back, and report the ratio of paired rounds (e.g. 10.64.0.0/14)')
  .addOption(new Option('--compare-layout <layout>', "also run each round on a log of this tag layout (address: a key per ip: tag; block: the daemon's), back to back, paired ratios").choices(['address', 'block']))
  .option('--time-limit <ms>', 'bound on one round', int, 120_000)
  .option('--warmup <n>', 'unmeasured allocations per round before measuring (JIT, connections)', (v) => Number(v), 2000)
  .option('--svg <file>', 'write a chart: throughput over time and latency percentiles')
  .option('--etcd-shapes', "instead: etcd's CPU per allocation for txns of the store's allocation shape, one ingredient at a time, next to raw puts (local etcd only)")
  .option('--cpu-prof <file>', "write a V8 CPU profile of the first round's measured run (one process) to this .cpuprofile file")
  .option('--order <list>', "pool orders to measure in the same run, comma-separated: scattered (the engine's) and/or lowest (Whereabouts')", 'scattered')
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      if (o.etcdShapes) {
        if (target.pids.length === 0) throw new Error('--etcd-shapes reads the local etcd\'s CPU from /proc: run it without --etcd');
        const shapes = await measureEtcdShapes(target.endpoints, target.pids, { txns: 300, inflight: 3, rounds: o.rounds });
        emit({ scenario: 'alloc', mode: 'etcd-shapes', shapes }, [['txn shape (61 allocations per txn; raw: 128 keys)', 'etcd CPU us per allocation (raw: per key)', 'allocations/s (raw: keys/s)'], ...shapes.map((x) => [x.shape, x.etcdUs, x.perSec])], o.json);
        return;
      }
      if (o.openLoop) {
        const r = await runAllocOpenLoop({ endpoints: target.endpoints, requesters: o.requesters, count: o.count, rounds: o.rounds, poolCidr: o.pool, warmup: o.warmup, unloadedCount: o.unloadedCount, rates: o.rates, fractions: o.fractions, stepMs: o.stepSeconds * 1000, maxOutstanding: o.maxOutstanding, seed: o.seed, ...(target.dataDir ? { etcdDataDir: target.dataDir } : {}) });
        emitSweep({ ...r, etcdMembers: target.members }, `closed loop, ${o.requesters} requesters`, `alloc, in-process: open-loop latency vs offered rate (${o.rounds} rounds, medians)`, o);
        const i = r.invariants;
        if (i.duplicates + i.lost + i.extra > 0) process.exitCode = 1;
        return;
      }
      const orders = String(o.order).split(',').map((x) => x.trim());
      for (const x of orders) if (x !== 'scattered' && x !== 'lowest') throw new Error(`--order: expected scattered or lowest, got ${x}`);
      const r = await runAllocScenario({ endpoints: target.endpoints, requesters: o.requesters, processes: o.processes, count: o.count, rounds: o.rounds, poolCidr: o.pool, timeLimitMs: o.timeLimit, warmup: o.warmup, orders: orders as ('scattered' | 'lowest')[], ...(o.comparePool ? { comparePool: o.comparePool } : {}), ...(o.compareLayout ? { compareLayout: o.compareLayout as 'address' | 'block' } : {}), etcdPids: target.pids, ...(o.cpuProf ? { cpuProfile: o.cpuProf } : {}) });
      const { chart, ...doc } = r;
      const c = r.compare;
      emit(
        { ...doc, etcdMembers: target.members },
        [
          ['figure', 'value', 'notes'],
          ['allocations/s (median)', r.allocsPerSec, `${r.tagLayout} tag layout; ${r.pool}; rounds: ${r.rounds.map((x) => x.allocsPerSec).join(' ')}; ${r.requesters} requesters, ${r.processes} process(es)`],
          ...(c
            ? [
                [`allocations/s, ${c.pool}`, c.allocsPerSec, `rounds: ${c.rounds.join(' ')}; each next to a round above`],
                [`ratio ${r.pool} / ${c.pool}`, c.ratio, 'median of paired rounds'],
                [`invariants, ${c.pool}`, `duplicates ${c.invariants.duplicates}, lost ${c.invariants.lost}, extra ${c.invariants.extra}`, ''],
              ]
            : []),
          ...(r.layoutCompare
            ? [
                [`allocations/s, ${r.layoutCompare.layout} layout`, r.layoutCompare.allocsPerSec, `rounds: ${r.layoutCompare.rounds.join(' ')}; CPU us/alloc node/etcd ${r.layoutCompare.cpuUsPerAlloc.map((x) => `${x.node}/${x.etcd ?? '-'}`).join(' ')}`],
                [`ratio vs etcd ceiling, ${r.layoutCompare.layout} layout`, r.layoutCompare.ratioVsCeiling, `paired rounds: ${r.layoutCompare.ratiosVsCeiling.join(' ')}`],
                [`ratio ${r.tagLayout} / ${r.layoutCompare.layout} layout`, r.layoutCompare.ratio, 'allocations/s, median of paired rounds'],
              ]
            : []),
          ['latency p50/p90/p99/max ms', `${r.latencyMs.p50}/${r.latencyMs.p90}/${r.latencyMs.p99}/${r.latencyMs.max}`, 'median round'],
          ['conflicts (re-decisions)', r.conflicts, `txns batch mean ${r.txnBatch.mean}, max ${r.txnBatch.max}`],
          ['CPU us/alloc node/etcd', `${r.cpuUsPerAlloc.node}/${r.cpuUsPerAlloc.etcd ?? '-'}`, `median round; rounds: ${r.rounds.map((x) => `${x.cpuUsPerAlloc.node}/${x.cpuUsPerAlloc.etcd ?? '-'}`).join(' ')}`],
          ...(r.bounds.mainThreadBusy !== undefined
            ? [['allocating thread busy', r.bounds.mainThreadBusy, `event-loop utilization over the measured run, median round; rounds: ${r.rounds.map((x) => x.bounds.mainThreadBusy).join(' ')}`]]
            : []),
          [
            'bounds, ratio vs ceiling',
            `thread ${r.bounds.busyThreadRatio ?? '-'}, cores ${r.bounds.coresRatio ?? '-'}`,
            `at the same CPU per allocation: the thread busy all the time (rate / busy); ${r.bounds.cores} cores doing only node + etcd's CPU per allocation; medians of rounds`,
          ],
          ['pool-cas allocations/s', r.baselines.poolCas.allocsPerSec, `baseline, same etcd, ${r.requesters} requesters (${r.baselines.poolCas.conflicts} conflicts)`],
          ['etcd ceiling keys/s', r.baselines.etcdCeiling.keysPerSec, `raw puts, 128 per txn, mean of before/after each round: ${r.baselines.etcdCeiling.perRound.join(' ')} (${r.baselines.etcdCeiling.beforeAfter.map(([b, a]) => `${b}/${a}`).join(' ')}); etcd CPU us/key ${r.baselines.etcdCeiling.etcdCpuUsPerKey ?? '-'}; once at the end: ${r.baselines.etcdCeiling.atEnd}`],
          ['ratio vs pool-cas', `${r.ratios.vsPoolCas}x`, ''],
          ['ratio vs etcd ceiling', r.ratios.vsEtcdCeiling, `median of paired rounds: ${r.rounds.map((x) => x.ratioVsCeiling).join(' ')}; of the medians ${r.ratios.vsEtcdCeilingOfMedians}; vs the ceiling at the end ${r.ratios.vsEtcdCeilingAtEnd}`],
          ['invariants', `duplicates ${r.invariants.duplicates}, lost ${r.invariants.lost}, extra ${r.invariants.extra}`, 'engine log vs acknowledgements, all rounds'],
          ...(orders.length > 1
            ? Object.entries(r.orders).map(([name, f]) => [
                `order ${name}: allocations/s, conflicts`,
                `${f.allocsPerSec}, ${f.conflicts}`,
                `rounds: ${f.perRound.map((x) => `${x.allocsPerSec}/${x.conflicts}`).join(' ')}${r.orderRatios?.[name] !== undefined ? `; ${r.orderRatios[name]}x ${orders[0]} (paired rounds)` : ''}`,
              ])
            : []),
        ],
        o.json,
        { file: o.svg, chart: { title: `alloc: ${r.requesters} requesters, ${r.processes} process(es)`, ...chart } },
      );
      const bad = (i: { duplicates: number; lost: number; extra: number }) => i.duplicates + i.lost + i.extra > 0;
      if (bad(r.invariants) || (c !== undefined && bad(c.invariants))) process.exitCode = 1;
    } finally {
      await target.close();
    }
  });

program
  .command('model')
  .description("the allocator's read model alone, in-process (no etcd): picks + applied allocations/s and the heap held by N live allocations in one pool, vs a baseline pool in the same run")
  .option('--pool <cidr>', 'the pool', 'fd00:10::/64')
  .option('--compare-pool <cidr>', 'the baseline pool (a /12 holds 1,048,574 usable addresses)', '10.64.0.0/12')
  .option('--count <n>', 'live allocations at the end', int, 1_000_000)
  .option('--rounds <n>', 'rounds per pool, each a fresh process (figures are medians)', int, 3)
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action(async (o) => {
    const r = await runModelBench({ pool: o.pool, comparePool: o.comparePool, count: o.count, rounds: o.rounds });
    emit(
      r,
      [
        ['figure', r.result.pool, r.compare.pool, 'ratio', 'notes'],
        ['allocations/s (pick + apply)', r.result.allocsPerSec, r.compare.allocsPerSec, r.ratios.allocsPerSec, `rounds: ${r.result.rounds.map((x) => x.allocsPerSec).join(' ')} / ${r.compare.rounds.map((x) => x.allocsPerSec).join(' ')}`],
        [`heap held MB, ${r.count} live`, r.result.heldMB, r.compare.heldMB, r.ratios.heldMB, 'after a full GC: records, indexes, free structure'],
        ['bytes per live allocation', r.result.bytesPerAllocation, r.compare.bytesPerAllocation, '', ''],
      ],
      o.json,
    );
  });

program
  .command('pipeline')
  .description("an allocation's CPU-bound engine steps in-process, no etcd: decide, member (record encoding), plan (packing 119-member txns), apply; CPU us per allocation each")
  .option('--count <n>', 'allocations per round (one growing model, as bench alloc grows it)', int, 100_000)
  .option('--rounds <n>', 'rounds, each a fresh model (figures are medians)', int, 5)
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action((o) => {
    const r = runPipelineBench({ count: o.count, rounds: o.rounds });
    const per = (k: 'decide' | 'member' | 'plan' | 'apply' | 'total') => r.rounds.map((x) => round(x[k], 2)).join(' ');
    emit(
      r as unknown as Record<string, unknown>,
      [
        ['CPU us per allocation', 'median', 'rounds'],
        ['decide', r.median.decide, per('decide')],
        ['member (encode)', r.median.member, per('member')],
        ['plan (txn packing)', r.median.plan, per('plan')],
        ['apply (model)', r.median.apply, per('apply')],
        ['total', r.median.total, per('total')],
      ],
      o.json,
    );
  });

/** `K=V` words as an environment (a word without `=` is refused, naming it). */
function envOf(words: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const w of words) {
    const eq = w.indexOf('=');
    if (eq <= 0) throw new Error(`--env/--compare-env: expected K=V, got ${JSON.stringify(w)}`);
    env[w.slice(0, eq)] = w.slice(eq + 1);
  }
  return env;
}

common(program.command('daemon-memory'))
  .description('a real `ipam serve` holding --live dual-stack pods (the synthetic log in etcd): its RSS, V8 heap and bytes per pod, vs a daemon on an empty log in the same run; and the heap model + projections hold per pod after a full GC')
  .option('--events <n>', 'events in the log', int, 300_000)
  .option('--live <n>', 'live pods at the end', int, 100_000)
  .option('--rounds <n>', 'daemon starts per log (each paired with an empty-log start); figures are medians', int, 1)
  .option('--node-args <flags>', 'extra node flags for the measured daemons (space-separated, e.g. an A/B of V8 flags)', '')
  .option('--compare-node-args <flags>', 'also measure daemons with these node flags instead, paired with the others in every round')
  .option('--env <K=V...>', "extra environment of the measured daemons (e.g. IPAM_SETTLE_HEAP=none)")
  .option('--compare-env <K=V...>', "also measure daemons with this environment instead, paired (with or without --compare-node-args)")
  .option('--settle <seconds>', 'seconds a ready daemon is left before it is read', (v) => Number(v), 3)
  .option('--heap-snapshot-dir <dir>', 'also write a heap snapshot of each measured daemon, after it was read, into this directory')
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const r = await runDaemonMemory({ endpoints: target.endpoints, events: o.events, live: o.live, rounds: o.rounds, nodeArgs: String(o.nodeArgs).split(' ').filter(Boolean), settleSeconds: o.settle, ...(o.compareNodeArgs !== undefined ? { compareNodeArgs: String(o.compareNodeArgs).split(' ').filter(Boolean) } : {}), ...(o.env ? { env: envOf(o.env as string[]) } : {}), ...(o.compareEnv ? { compareEnv: envOf(o.compareEnv as string[]) } : {}), ...(o.heapSnapshotDir ? { heapSnapshotDir: o.heapSnapshotDir } : {}) });
      const spaces = (x: { spacesMB: Record<string, number> }) => Object.entries(x.spacesMB).filter(([, v]) => v >= 1).map(([k, v]) => `${k} ${v}`).join(', ');
      type Summary = NonNullable<typeof r.compare>;
      const flags = (x: Summary) => {
        const all = [...x.nodeArgs, ...Object.entries(x.env).map(([k, v]) => `${k}=${v}`)];
        return all.length > 0 ? ` [${all.join(' ')}]` : '';
      };
      const rows = (x: Summary): (string | number)[][] => [
        [`daemon RSS MB, settled${flags(x)}`, x.rssMB, `VmRSS ${r.settleSeconds} s after ready; ${r.livePods} live dual-stack pods, ${r.events} events replayed (no checkpoint); rounds: ${x.rounds.map((y) => y.rssMB).join(' ')}`],
        [`daemon peak RSS MB${flags(x)}`, x.peakRssMB, 'VmHWM: the peak of its start'],
        [`daemon heap used MB${flags(x)}`, x.heapUsedMB, `heap total ${x.heapTotalMB} MB, external ${x.externalMB} MB; spaces in use: ${spaces(x.rounds[x.rounds.length - 1]!)}`],
        [`ready s / CPU s to ready${flags(x)}`, `${x.readySeconds} / ${x.cpuSecondsToReady}`, `rounds: ${x.rounds.map((y) => `${y.readySeconds}/${y.cpuSecondsToReady}`).join(' ')}`],
        [`RSS bytes per live pod${flags(x)}`, x.rssBytesPerPod, '(daemon - empty-log daemon) / live pods'],
        [`heap used bytes per live pod${flags(x)}`, x.heapUsedBytesPerPod, 'the same for the V8 heap in use (garbage not yet collected included)'],
        [`floor: RSS <= ${DAEMON_RSS_FLOOR_MB} MB at 100,000 pods${flags(x)}`, x.floor.met ? 'met' : 'NOT met', `${x.rssMB} MB with ${r.livePods} pods`],
      ];
      emit(
        r,
        [
          ['figure', 'value', 'notes'],
          ...rows(r),
          ...(r.compare ? rows(r.compare) : []),
          ['empty-log daemon RSS MB', r.baseline.rssMB, `heap used ${r.baseline.heapUsedMB} MB: the baseline, same run`],
          ['held bytes per pod: model', r.heldBytesPerPod.model, 'allocator model alone, after a full GC (bench/memory/worker.ts, same log)'],
          ['held bytes per pod: projections', r.heldBytesPerPod.projections, 'every projection (their shared indexes), after a full GC'],
        ],
        o.json,
      );
    } finally {
      await target.close();
    }
  });

program
  .command('replay')
  .description('replay a realistic synthetic log (20 pools, dual stack, churn) into every projection in one process')
  .option('--events <n>', 'events in the log', int, 1_000_000)
  .option('--live <n>', 'live pods in steady state', int, 100_000)
  .option('--batch <n>', 'events per apply (default: one store page, 64 commits of 60 events)', int, REPLAY_BATCH)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 3)
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .option('--per-projection', 'also time each projection alone over the same log')
  .option('--cold-events <n>', 'also measure a cold start: a log of this many events in etcd, with a checkpoint (0 = skip)', (v) => Number(v), 0)
  .option('--cold-tail <n>', 'events after the checkpoint that a cold start replays', int, 10_000)
  .option('--etcd <endpoints>', 'use this etcd (for --from etcd and the cold start) instead of starting a local one')
  .option('--etcd-data-dir <dir>', "parent of the local etcd's throw-away data dir (e.g. /dev/shm: no fsync stalls while the log is written)")
  .addOption(new Option('--compare-format <n>', 'with --from etcd: also replay the same log written in this older record format (1: JSON arrays), paired rounds').argParser((v) => {
    if (v !== '1') throw new Error(`--compare-format: only 1 (the JSON-array records) is older than the current format, got ${v}`);
    return 1 as const;
  }))
  .option('--daemon', 'with --from etcd: also start `ipam serve` on the log and read its RSS once it holds the live pods')
  .addOption(new Option('--from <source>', 'where the replay reads the log: a JSON Lines file (decode timed apart), or etcd (read + decode + apply as `ipam replay` does)').choices(['file', 'etcd']).default('file'))
  .action(async (o) => {
    if (o.from === 'etcd') {
      const target = await openTarget(o);
      try {
        const r = await runReplayFromEtcd({ events: o.events, live: o.live, batch: o.batch, rounds: o.rounds, endpoints: target.endpoints, etcdPids: target.pids, daemon: o.daemon === true, ...(o.compareFormat ? { compareFormat: o.compareFormat } : {}) });
        emit(
          r,
          [
            ['figure', 'value', 'notes'],
            ['events/s with decoding', r.eventsPerSecWithDecode, `rounds: ${r.rounds.join(' ')}; ${r.events} events read from etcd, decoded and applied (${r.seconds} s)`],
            ['events/s applying', r.eventsPerSec, `the same, time spent outside the page source only (waiting for pages ${r.waitSeconds} s)`],
            ['events per CPU-second', r.eventsPerCpuSecond, 'the replaying process, all its threads (what a shared machine distorts least)'],
            ...(r.coresBound
              ? [[
                  'bound at this CPU per event',
                  r.coresBound.eventsPerSec,
                  `events/s had ${r.coresBound.cores} cores done nothing but the replay's ${r.coresBound.cpuSeconds} CPU-s and the local etcd's ${r.coresBound.etcdCpuSeconds} (serving the ranges), perfectly spread; median round`,
                ]]
              : []),
            ['live endpoints at the end', r.liveEndpoints, ''],
            ['peak RSS MB', r.peakRssMB, `replaying process: projections + pages + decoding garbage; the maximum of the rounds (${r.peakRssRoundsMB.join(' ')}; median ${r.peakRssMedianMB})`],
            ['GC pauses s', r.gcSeconds, `median round; full collections ${r.fullGcs}`],
            ['read alone, events/s', r.readCeiling.parallel.eventsPerSec, `the log's ${r.readCeiling.records} records (${r.recordMB} MB, ${r.bytesPerEvent} B per event) read, not decoded, ${r.readCeiling.readsInFlight} ranges of ${r.readCeiling.pageRecords} in flight: ${r.readCeiling.parallel.recordsPerSec} records/s, ${r.readCeiling.parallel.mbPerSec} MB/s; 1 in flight: ${r.readCeiling.oneInFlight.recordsPerSec} records/s, ${r.readCeiling.oneInFlight.mbPerSec} MB/s; after each round`],
            ['ratio to the read alone', r.ratioToReadCeiling, 'replay with decoding / the read alone after the same round, median of the rounds'],
            ['heap held MB', r.heldMB, 'heap the projections hold after the replay, after a full GC'],
            ...(r.daemon
              ? [
                  ['daemon RSS MB, settled', r.daemon.rssMB, `ipam serve on this log, ${DAEMON_NOTE}; ready in ${r.daemon.readySeconds} s, ${r.daemon.allocatedAddresses} addresses allocated (its /metrics)`],
                  ['daemon peak RSS MB', r.daemon.peakRssMB, 'the same process, peak of its start (replaying the log)'],
                ]
              : []),
            ...(r.baseline
              ? [
                  [`record format ${r.baseline.recordFormat}: events/s with decoding`, r.baseline.eventsPerSecWithDecode, `rounds: ${r.baseline.rounds.join(' ')}; the same log written in that format, rounds paired; ${r.baseline.eventsPerCpuSecond} events per CPU-second`],
                  [`ratio to record format ${r.baseline.recordFormat}`, r.ratioToBaseline ?? '', `median of paired rounds; its peak RSS ${r.baseline.peakRssMB} MB`],
                ]
              : []),
          ],
          o.json,
        );
      } finally {
        await target.close();
      }
      return;
    }
    const r = await runReplayBench({ events: o.events, live: o.live, batch: o.batch, rounds: o.rounds, perProjection: o.perProjection === true });
    let cold: Awaited<ReturnType<typeof runColdStart>> | undefined;
    if (o.coldEvents > 0) {
      const target = await openTarget(o);
      try {
        cold = await runColdStart({ endpoints: target.endpoints, events: o.coldEvents, live: Math.min(o.live, Math.floor(o.coldEvents / 10)), tail: o.coldTail });
      } finally {
        await target.close();
      }
    }
    emit(
      { ...r, ...(cold ? { coldStartSeconds: cold.coldStartSeconds, coldStart: cold } : {}) },
      [
        ['figure', 'value', 'notes'],
        ['events/s into all projections', r.eventsPerSec, `rounds: ${r.rounds.join(' ')}; ${r.events} events, batches of ${r.batch}; applying only`],
        ['events/s with decoding', r.eventsPerSecWithDecode, `the same plus JSON.parse of the records (${r.decodeSeconds} s)`],
        ['live endpoints at the end', r.liveEndpoints, ''],
        ['peak RSS MB', r.peakRssMB, `replaying process: projections + one page + decoding garbage (log file ${r.logFileMB} MB)`],
        ['heap held MB', r.heldMB, 'heap the projections hold after the replay, after a full GC'],
        ['render every object, s', r.renderAll.seconds, `${r.renderAll.objects} objects, each rendered once and kept`],
        ['peak RSS MB, all rendered', r.renderAll.peakRssMB, 'whole process, every object rendered and memoised'],
        ['live commit us, pool of 300', r.liveCommit['pool300'] ?? '', 'an allocation + a release into every projection, changes taken'],
        ['live commit us, pool of 30000', r.liveCommit['pool30000'] ?? '', 'the same into a pool 100x larger'],
        ...Object.entries(r.perProjection ?? {}).map(([name, v]) => [`  ${name} alone, events/s`, v, 'events it handles / time']),
        ...(cold
          ? [
              ['cold start s', cold.coldStartSeconds, `fresh process: checkpoints (${cold.checkpointLoadSeconds} s) + ${cold.tail} tail events; log of ${cold.events} events in etcd`],
              ['cold start peak RSS MB', cold.coldStartPeakRssMB, `that process, holding the log's ${Math.min(cold.live, Math.floor(cold.events / 10))} live pods, as a restarting daemon does`],
            ]
          : []),
      ],
      o.json,
    );
  });

common(program.command('churn'))
  .description("Spiderpool's IPAM performance test shape: 100x10 and 1x1000 Deployments created, rolled out, deleted; IPv4 and dual stack")
  .option('--concurrency <n>', 'requests in flight at most', int, 256)
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const r = await runChurn({ endpoints: target.endpoints, concurrency: o.concurrency, compact: true });
      const rows: (string | number)[][] = [['workload', 'family', 'phase', 'seconds', 'ops/s', 'p50 ms', 'p99 ms', 'done', 'invariants']];
      for (const c of r.results) {
        for (const ph of CHURN_PHASES) {
          const x = c.phases[ph];
          rows.push([c.workload, c.family, ph, x.seconds, x.opsPerSec, x.latencyMs.p50, x.latencyMs.p99, `${x.completed}/${x.operations}`, ph === 'delete' ? `dup ${c.invariants.duplicates}, left ${c.invariants.leftovers}` : '']);
        }
      }
      emit({ ...r, etcdMembers: target.members }, rows, o.json);
      const bad = r.results.some((c) => c.invariants.duplicates + c.invariants.leftovers + c.invariants.badReleases + c.invariants.leftoversInLog > 0 || CHURN_PHASES.some((ph) => c.phases[ph].errors > 0));
      if (bad) process.exitCode = 1;
    } finally {
      await target.close();
    }
  });

program
  .command('codec')
  .description("the record codec alone, in this process: ns per event to encode and to decode the synthetic log's records in the current format, format 1 (JSON arrays) as the same run's baseline")
  .option('--events <n>', 'events in the synthetic log', int, 300_000)
  .option('--live <n>', 'live pods in steady state', int, 30_000)
  .option('--rounds <n>', 'paired rounds (figures are medians)', int, 5)
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action((o) => {
    const r = runCodecBench({ events: o.events, live: o.live, rounds: o.rounds });
    const per = (k: 'encodeNs' | 'decodeNs' | 'scanNs', f: 'format2' | 'format1') => r.rounds.map((x) => (x[f] as Record<string, number>)[k]).join(' ');
    const rows: (string | number)[][] = [
      ['figure', 'format 2 (current)', 'format 1 (JSON arrays)', 'format 2 / format 1', 'notes'],
      ['encode ns/event', r.format2.encodeNsPerEvent, r.format1.encodeNsPerEvent, r.ratioToFormat1.encode, `encodeMember + recordValue (the committer's path); rounds ${per('encodeNs', 'format2')} / ${per('encodeNs', 'format1')}`],
      ['decode ns/event', r.format2.decodeNsPerEvent, r.format1.decodeNsPerEvent, r.ratioToFormat1.decode, `the reader's decodeRecord, the codec's checks included; rounds ${per('decodeNs', 'format2')} / ${per('decodeNs', 'format1')}`],
      ['  of which the byte scan', r.format2.scanNsPerEvent, '-', '-', `events/record-scan.ts (strings made, ints read); rounds ${per('scanNs', 'format2')}`],
      ['decoded events/s', r.format2.decodedEventsPerSec, r.format1.decodedEventsPerSec, '-', 'one thread'],
      ['bytes/event', r.bytesPerEvent.format2, r.bytesPerEvent.format1, round(r.bytesPerEvent.format2 / r.bytesPerEvent.format1, 3), `${r.events} events in ${r.records} records`],
    ];
    emit(r as unknown as Record<string, unknown>, rows, o.json);
  });

program
  .command('etcd-alone')
  .description("etcd's own open-loop tail (one 200-byte put per arrival) under launch configurations of a fresh local etcd, paired rounds; with its WAL fsync and backend commit distributions")
  .option('--configs <list>', "configurations separated by ';', each flags and NAME=value environment variables ('default' = the local etcd as shipped, src/local/etcd.ts; 'GOGC=100 GOMEMLIMIT=off' = Go's own defaults)", 'GOGC=100 GOMEMLIMIT=off;default')
  .option('--rates <list>', 'offered rates/s of the open loop', list, [500])
  .option('--rounds <n>', 'rounds (figures are medians)', int, 3)
  .option('--step-seconds <s>', 'arrival window of each rate', Number, 3)
  .option('--seed <n>', 'seed of the arrival schedules', int, 17)
  .option('--etcd-data-dir <dir>', "parent of the local etcds' throw-away data dirs (default: the system's temp dir)")
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action(async (o) => {
    const configs = String(o.configs).split(';').map(parseEtcdConfig);
    const r = await runEtcdAlone({ configs, rates: o.rates, rounds: o.rounds, stepMs: o.stepSeconds * 1000, seed: o.seed, ...(o.etcdDataDir ? { dataDir: o.etcdDataDir } : {}) });
    const rows: (string | number)[][] = [['etcd configuration', 'one requester p50 ms', 'offered/s', 'p50 ms', 'p99 ms', 'p99 / one-requester p50', 'per round', 'achieved/s', 'WAL fsync p50/p99 ms', 'backend commits, p50/p99 ms', 'Go GCs/s']];
    for (const c of r.configs)
      for (const s of c.steps) rows.push([c.label, c.unloadedP50Ms, s.offeredPerSec, s.p50Ms, s.p99Ms, s.ratio, s.ratioPerRound.join(' '), s.achievedPerSec, c.disk ? `<=${c.disk.fsyncP50Ms}/<=${c.disk.fsyncP99Ms}` : '-', c.disk ? `${c.disk.commitsPerRun}, <=${c.disk.commitP50Ms}/<=${c.disk.commitP99Ms}` : '-', c.disk?.goGcPerSec ?? '-']);
    emit(r as unknown as Record<string, unknown>, rows, o.json, undefined, "(fsync and commit: etcd's histogram bucket bounds, over the whole run of each configuration)\n");
  });

openLoopOptions(common(program.command('http')))
  .description("allocations through the daemon's HTTP API, on one daemon and split over two sharing one etcd; baseline: the allocator in-process")
  .option('--clients <n>', 'concurrent HTTP clients (closed loop)', int, 64)
  .option('--count <n>', 'allocations per measured run', int, 20_000)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 3)
  .option('--warmup <n>', 'unmeasured allocations before each run', int, 2_000)
  .option('--daemons <list>', 'daemon counts to measure, comma-separated', '1,2')
  .option('--pool <cidr>', 'the pool each run allocates from', '10.0.0.0/14')
  .addOption(new Option('--client <kind>', 'load generator: wrk (C; its CPU stays small) or node (http.request in this process; costs ~170 us CPU per request here)').choices(['wrk', 'node']).default('wrk'))
  .option('--seconds <n>', 'measured seconds per run with wrk (plus a 2 s warm-up)', int, 10)
  .option('--load-first-only', 'all clients on the first daemon: the others only follow the log (the CPU column then shows what following costs)')
  .option('--connections <n>', "open loop: the open-loop client's keep-alive connections", int, 128)
  .option('--svg <file>', 'open loop: write the latency-vs-offered-rate chart')
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      if (o.openLoop) {
        const r = await runHttpOpenLoop({ endpoints: target.endpoints, clients: o.clients, rounds: o.rounds, poolCidr: o.pool, client: o.client, seconds: o.seconds, count: o.count, unloadedCount: o.unloadedCount, rates: o.rates, fractions: o.fractions, stepMs: o.stepSeconds * 1000, maxOutstanding: o.maxOutstanding, connections: o.connections, seed: o.seed, ...(target.dataDir ? { etcdDataDir: target.dataDir } : {}) });
        const u = r.unloadedSplit;
        const split = [
          ['unloaded p50 parts', `in-process ${round(u.inProcessP50Ms, 2)} ms`, `HTTPS round trip (GET /healthz) ${round(u.httpsRoundTripP50Ms, 2)} ms; rounds ${u.inProcessPerRound.map((x) => round(x, 2)).join(' ')} / ${u.httpsRoundTripPerRound.map((x) => round(x, 2)).join(' ')}`, 'one requester each, the same etcd and pool, just before'],
        ];
        emitSweep({ ...r, etcdMembers: target.members }, `closed loop (${o.client}), ${o.clients} clients, 1 daemon`, `http (1 daemon, HTTPS): open-loop latency vs offered rate (${o.rounds} rounds, medians)`, o, split);
        const i = r.invariants;
        if (i.duplicates + i.lost > 0 || i.extra > r.extraAllowed) process.exitCode = 1;
        return;
      }
      const daemons = String(o.daemons).split(',').map((x) => int(x.trim()));
      const r = await runHttpBench({ endpoints: target.endpoints, etcdPids: target.pids, clients: o.clients, count: o.count, rounds: o.rounds, daemons, warmup: o.warmup, poolCidr: o.pool, timeLimitMs: 120_000, client: o.client, seconds: o.seconds, loadFirstOnly: o.loadFirstOnly === true });
      const b = r.baseline.inProcess;
      const rows: (string | number)[][] = [['run', 'allocations/s (median)', 'p50/p90/p99/max ms (median round)', 'p99 per round', 'etcd slow fsync/commit per round', 'CPU us/alloc per daemon/etcd', 'vs in-process', 'appends/txn', 'txn ms', 'conflicts', 'invariants dup/lost/extra', 'errors']];
      rows.push([`in-process, ${o.clients} requesters`, b.allocsPerSec, `${b.latencyMs.p50}/${b.latencyMs.p90}/${b.latencyMs.p99}/${b.latencyMs.max}`, b.p99PerRound.join(' '), '', '', 1, b.txnBatchMean, '', '', `${b.invariants.duplicates}/${b.invariants.lost}/${b.invariants.extra}`, b.errors]);
      for (const c of r.configs) {
        rows.push([`http (${o.client}), ${c.daemons} daemon(s), ${o.clients} clients${o.loadFirstOnly && c.daemons > 1 ? ' on the first' : ''}`, c.allocsPerSec, `${c.latencyMs.p50}/${c.latencyMs.p90}/${c.latencyMs.p99}/${c.latencyMs.max}`, c.p99PerRound.join(' '), c.etcdStallsPerRound.join(' '), c.cpuUsPerAlloc ? `${c.cpuUsPerAlloc.daemons.join('+')}/${c.cpuUsPerAlloc.etcd ?? '-'}` : '', c.ratioVsInProcess, c.txnBatchMean, c.txnMeanMs ?? '', c.conflicts ?? '', `${c.invariants.duplicates}/${c.invariants.lost}/${c.invariants.extra}`, c.errors]);
      }
      emit({ ...r, etcdMembers: target.members }, rows, o.json);
      for (const c of [b, ...r.configs]) if (c.errorMessages.length) process.stderr.write(`errors: ${c.errorMessages.join(' | ')}\n`);
      // extraAllowed: allocations in flight when wrk stopped are logged but their answers were dropped by wrk.
      if ([b, ...r.configs].some((c) => c.invariants.duplicates + c.invariants.lost > 0 || c.invariants.extra > c.extraAllowed)) process.exitCode = 1;
    } finally {
      await target.close();
    }
  });

common(program.command('cli'))
  .description("start-up of `ipam --help`, `ipam get` and `ipam alloc` (through a real daemon's socket) next to `node -e 0`, same run")
  .option('--rounds <n>', 'runs of each command (figures are medians)', int, 15)
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const r = await runCliBench({ endpoints: target.endpoints, rounds: o.rounds });
      const rows: (string | number)[][] = [
        ['command', 'p50 ms', 'vs node -e 0', 'per run ms'],
        ['node -e 0', r.nodeP50Ms, '1', ''],
        ...r.commands.map((c) => [c.name, c.p50Ms, `${c.ratioToNode}x`, c.perRoundMs.join(' ')]),
        ['floor', `<= ${r.floor}x`, r.floorMet ? 'met' : 'NOT met', `medians of ${r.rounds} runs`],
      ];
      emit(r as unknown as Record<string, unknown>, rows, o.json);
    } finally {
      await target.close();
    }
  });

program
  .command('cni')
  .description("CNI ADD/DEL latency of the ipam-es plugin (real daemon over its unix socket) vs Debian's host-local, executed the same way in the same run")
  .option('--etcd <endpoints>', 'use this etcd instead of starting a local one')
  .addOption(new Option('--etcd-cluster <members>', 'start a local etcd cluster of this many members').argParser(int))
  .option('--count <n>', 'pods added then deleted per round, per plugin', int, 200)
  .option('--rounds <n>', 'rounds (figures are medians)', int, 3)
  .option('--warmup <n>', 'unmeasured ADD+DEL pairs per plugin first', int, 20)
  .option('--selection', "also: ADD with pool selection from the cluster (warm caches, pod annotations, affinity) vs today's ADD, two more daemons")
  .option('--json [file]', 'print every figure and the environment as JSON on stdout, or write them to this file')
  .action(async (o) => {
    const target = await openTarget(o);
    try {
      const r = await runCniBench({ endpoints: target.endpoints, count: o.count, rounds: o.rounds, warmup: o.warmup, selection: o.selection === true });
      const hl = r.hostLocal;
      const rows: (string | number)[][] = [
        ['figure', 'ipam-es', 'host-local', 'ratio', 'notes'],
        ['ADD p50/p90/p99 ms', `${r.addP50Ms}/${r.addP90Ms}/${r.addP99Ms}`, `${hl.addP50Ms}/${hl.addP90Ms}/${hl.addP99Ms}`, `${r.ratios.addP50}x`, `floor: <= 3x (${r.ratios.addFloorMet ? 'met' : 'NOT met'}); medians of ${r.rounds} rounds x ${r.count} pods`],
        ['DEL p50/p90/p99 ms', `${r.delP50Ms}/${r.delP90Ms}/${r.delP99Ms}`, `${hl.delP50Ms}/${hl.delP90Ms}/${hl.delP99Ms}`, `${r.ratios.delP50}x`, ''],
        ['exec only (VERSION) p50 ms', r.pluginExecOnlyP50Ms, '', '', 'the C client answering without the daemon'],
        ['a Node process per call p50 ms', r.nodeProcessP50Ms, '', '', "node -e 0: what a plugin written in Node would pay first"],
        ['invariants', `duplicates ${r.invariants.duplicates}, bad releases ${r.invariants.badReleases}, live at end ${r.invariants.liveAtEnd}, failed calls ${r.invariants.failedCalls}`, '', '', 'log checked after the run'],
      ];
      const s = r.selection;
      if (s) {
        rows.push(
          ['ADD today (pool in config) p50/p90/p99 ms', `${s.base.addP50Ms}/${s.base.addP90Ms}/${s.base.addP99Ms}`, '', '', 'serve without --kubeconfig'],
          ['ADD with caches + annotations p50/p90/p99 ms', `${s.withCaches.addP50Ms}/${s.withCaches.addP90Ms}/${s.withCaches.addP99Ms}`, '', '', `ippool annotation + pod/namespace/node affinity; API requests during rounds: ${s.apiRequestsDuringRounds}${s.apiRequestsDuringRounds ? ` (${s.apiRequestKinds.join(', ')})` : ''}`],
          [
            'SELECTION FLOOR: ADD p50 with caches / today',
            `${s.addP50Ratio}x`,
            '',
            `<= ${s.floor}x`,
            `${s.floorMet ? 'MET' : 'NOT MET'}; median over ${s.perRoundAddP50Ratios.length} rounds of each round's ratio (per round: ${s.perRoundAddP50Ratios.map((x) => `${x}x`).join(' ')}); the p50 rows above are medians over rounds, their quotient ${s.ratioOfMedianAddP50}x is not the floor's figure`,
          ],
        );
      }
      if (o.json === true) {
        process.stderr.write(`${table(rows)}\n`);
        process.stdout.write(`${JSON.stringify({ ...r, etcdMembers: target.members, environment: environment() }, null, 2)}\n`);
      } else {
        emit({ ...r, etcdMembers: target.members }, rows, o.json as string | undefined);
      }
      const inv = r.invariants;
      if (inv.duplicates + inv.badReleases + inv.liveAtEnd + inv.failedCalls > 0) process.exitCode = 1;
    } finally {
      await target.close();
    }
  });

program
  .command('chaos')
  .description('64 retrying HTTP clients on two daemons and a local 3-member etcd; kill -9 the etcd leader, restart it, kill -9 a daemon; audit the log')
  .option('--clients <n>', 'concurrent HTTP clients (closed loop)', int, 64)
  .option('--seconds <n>', 'length of the run (faults at 20%, 45%, 65% of it)', int, 40)
  .option('--pool <cidr>', 'the pool', '10.0.0.0/14')
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action(async (o) => {
    const r = await runChaos({ clients: o.clients, seconds: Math.min(o.seconds, 300), poolCidr: o.pool });
    const inv = r.invariants;
    emit(r, [
      ['figure', 'value', 'notes'],
      ['allocations', r.allocations, `${r.seconds} s, ${r.clients} clients, 2 daemons, 3 etcd members`],
      ['allocations/s before / etcd fault / daemon fault / after', `${r.ratesPerSec.before} / ${r.ratesPerSec.etcdFault} / ${r.ratesPerSec.daemonFault} / ${r.ratesPerSec.after}`, 'etcd fault: leader killed until the daemon kill; daemon fault: 3 s after it'],
      ...r.faults.map((f) => [`${f.name} at ${f.t.toFixed(1)} s`, f.recoverySeconds === null ? 'not recovered' : `${f.recoverySeconds} s`, `to half the rate before it (${f.rateBefore}/s)`]),
      ['client retries', r.retries, Object.entries(r.retryReasons).map(([k, v]) => `${k} ${v}`).join(', ')],
      ['answers marked reused', r.reusedAnswers, 'a retry found what an unanswered attempt had committed'],
      ['allocations given up', r.errors, r.errorMessages.join(' | ').slice(0, 120)],
      ['invariants', `dup events ${inv.duplicateEventIds}, endpoints twice ${inv.endpointsAllocatedTwice}, addresses twice ${inv.addressesHeldTwice}, lost acks ${inv.lostAcks}, unacknowledged ${inv.unacknowledged}`, `${inv.events} events audited`],
    ], o.json);
    if (inv.duplicateEventIds + inv.endpointsAllocatedTwice + inv.addressesHeldTwice + inv.lostAcks + inv.badReleases > 0 || r.faults.some((f) => f.recoverySeconds === null)) process.exitCode = 1;
  });

program
  .command('abuse')
  .description('each hostile-client attack for a fixed time beside a steady allocation load on the socket; legitimate allocations/s and p99 against the same load without the attack')
  .option('--etcd <endpoints>', 'use this etcd instead of starting a local one')
  .option('--seconds <n>', 'length of each run (with and without each attack)', int, 10)
  .option('--clients <n>', 'legitimate clients (closed loop, unix socket)', int, 8)
  .option('--rounds <n>', 'rounds of (without, with) per attack; figures are medians over rounds', int, 3)
  .option('--attacker-nice <n>', "the attacker process's nice level (0: not niced; see bench/README.md)", int, 19)
  .option('--only <names>', `comma-separated attacks to run (${ATTACK_NAMES.join(', ')})`)
  .option('--json <file>', 'write every figure and the environment to this JSON file')
  .action(async (o) => {
    const only = o.only ? String(o.only).split(',') : undefined;
    const unknown = only?.filter((n) => !(ATTACK_NAMES as readonly string[]).includes(n)) ?? [];
    if (unknown.length > 0) throw new Error(`--only: unknown attack ${unknown.join(', ')}; known: ${ATTACK_NAMES.join(', ')}`);
    const r = await runAbuse({ seconds: Math.min(o.seconds, 120), clients: o.clients, rounds: Math.min(Math.max(o.rounds, 1), 15), attackerNice: o.attackerNice, ...(o.etcd ? { etcd: o.etcd } : {}), ...(only ? { only: only as AttackName[] } : {}) });
    const cores = (c: CpuCores) => `${c.daemon} / ${c.etcd} / ${c.clients} / ${c.attacker}`;
    emit(r, [
      ['attack', 'allocs/s without / with', 'ratio (median)', 'ratio per round', 'p99 ms without / with', 'CPU cores with attack: daemon / etcd / clients / attacker', 'without', 'daemon cores on the attack', 'attack/s', 'daemon answered the attacker (all rounds)', 'errors', 'crashed'],
      ...r.attacks.map((a) => [a.name, `${a.unattackedPerSec} / ${a.attackedPerSec}`, a.ratioToUnattacked, a.roundRatios.join(' '), `${a.unattackedP99Ms} / ${a.p99Ms}`, cores(a.cpuWith), cores(a.cpuWithout), a.daemonCoresOnAttack, a.attackPerSec, Object.entries(a.answers).map(([k, v]) => `${k} x${v}`).join(', '), a.errors, String(a.crashed)]),
    ], o.json);
    process.stdout.write(`${JSON.stringify({ attacks: r.attacks.map(({ name, ratioToUnattacked, p99Ms, crashed }) => ({ name, ratioToUnattacked, p99Ms, crashed })) })}\n`);
    if (r.attacks.some((a) => a.crashed || a.ratioToUnattacked < ABUSE_FLOOR)) process.exitCode = 1;
  });

common(program.command('soak'))
  .description('churn (a new pod allocated, the oldest released) through the engine with the log lifecycle running, retention compressed in time; footprint every 10%')
  .option('--cycles <n>', 'churn cycles (one allocation + one release each)', int, 200_000)
  .option('--live <n>', 'live pods held throughout', int, 2_000)
  .option('--concurrency <n>', 'cycles in flight', int, 64)
  .option('--retain-min-age <duration>', 'retention: commits younger than this stay in etcd (compressed in time)', '2s')
  .option('--retain-min-revisions <n>', 'retention: revisions kept behind the head (one revision is one group-committed txn of many cycles)', int, 100)
  .option('--maintain-interval <duration>', 'how often the maintainer runs', '1s')
  .option('--etcd-quota <size>', "local etcd's --quota-backend-bytes (e.g. 64MiB: the run must complete without NOSPACE)")
  .option('--max-records-per-run <n>', 'records one maintenance run archives at most (bounds its memory; a run takes the whole eligible backlog up to this, archived in segments)', int, DEFAULT_RETENTION.maxRecordsPerRun)
  .option('--min-records-per-move <n>', 'move the horizon only for at least this many records (each move writes a whole checkpoint)', int, 200)
  .option('--compact-keep <n>', "etcd history kept at each 10% step (the bench compacts, as kube-apiserver would)", int, 100)
  .action(async (o) => {
    const target = await openTarget({ ...o, ...(o.etcdQuota ? { etcdArgs: [`--quota-backend-bytes=${parseBytes(o.etcdQuota, '--etcd-quota')}`] } : {}) });
    try {
      const policy = soakPolicy({ minAgeMs: parseDuration(o.retainMinAge, '--retain-min-age'), minRevisions: o.retainMinRevisions, intervalMs: parseDuration(o.maintainInterval, '--maintain-interval'), minRecordsPerMove: o.minRecordsPerMove, maxRecordsPerRun: o.maxRecordsPerRun });
      const r = await runSoak({ endpoints: target.endpoints, cycles: o.cycles, live: o.live, concurrency: o.concurrency, policy, compactKeep: o.compactKeep, progress: (l) => process.stdout.write(`${l}\n`) });
      const inv = r.invariants;
      emit(
        { ...r, etcdMembers: target.members },
        [
          ['figure', 'value', 'notes'],
          [`db growth ${r.growth.from} -> ${r.growth.to} cycles, MB`, r.growth.dbSizeMB, `floor < 10 (${r.floors.dbGrowthUnder10MB ? 'met' : 'NOT met'}); etcd status dbSize`],
          [`RSS growth ${r.growth.from} -> ${r.growth.to} cycles, MB`, r.growth.rssMB, `floor < 10 (${r.floors.rssGrowthUnder10MB ? 'met' : 'NOT met'}); this process (engine + maintainer)${r.footprint.at(-1)?.afterGc ? `, sampled after a full GC (before it: ${Math.round((r.footprint.at(-1)!.rssBeforeGcMB - (r.footprint.find((f) => f.cycles === r.growth.from)?.rssBeforeGcMB ?? 0)) * 10) / 10} MB)` : ', sampled without a GC (run node with --expose-gc)'}`],
          ['cycles/s first 10%', r.throughput.first10pct, ''],
          ['cycles/s while archiving (median decile)', r.throughput.whileArchiving, `${r.throughput.archivingDeciles} deciles in which the horizon moved`],
          ['ratio archiving / first 10%', r.throughput.ratio, `floor >= 0.8 (${r.floors.archivingAtLeast80pct ? 'met' : 'NOT met'})`],
          ['maintenance', `${r.maintenance.runs} runs (${r.maintenance.moves} moved the horizon), ${r.maintenance.archivedRecords} records in ${r.maintenance.segments} segments, ${r.maintenance.tagsDeleted} tags deleted`, `${r.maintenance.failures} failed runs${r.maintenance.firstError ? `: ${r.maintenance.firstError}` : ''}`],
          ['maintenance run that moved the horizon, ms', `median ${r.maintenance.medianMoveMs}, max ${r.maintenance.maxMoveMs}`, 'wall time, beside the churn in one process'],
          ['maintenance ms per step (sum over moves)', Object.entries(r.maintenance.stepsMs).map(([k, v]) => `${k} ${v}`).join(', '), 'pass = read + apply + archive'],
          ['invariants (archive + etcd)', `duplicates ${inv.duplicates}, bad releases ${inv.badReleases}`, `${inv.events} events`],
          [`replay --at ${inv.replayAtRevision} (before the horizon) == model then`, inv.replayAtMatches ? 'yes' : 'NO', 'archive + etcd replayed into a fresh model'],
          [
            `ipam replay --at ${inv.replayAtTime.at || '(none)'} == live projections then`,
            inv.replayAtTime.matches ? 'yes' : `NO${inv.replayAtTime.differing.length ? ` (${inv.replayAtTime.differing.join(', ')})` : ''}`,
            `${inv.replayAtTime.objects} objects at revision ${inv.replayAtTime.revision}; horizon at the end ${inv.replayAtTime.horizonAtEnd} (${inv.replayAtTime.beforeHorizon ? 'T is before it: read through the archive' : 'T is NOT before it'})`,
          ],
          ['ipam check: archive + checkpoint at H == replay to H', inv.lifecycleProblems.length === 0 ? 'sound' : inv.lifecycleProblems.join('; '), ''],
        ],
        o.json,
      );
      if (inv.duplicates + inv.badReleases > 0 || !inv.replayAtMatches || !inv.replayAtTime.matches || !inv.replayAtTime.beforeHorizon || inv.lifecycleProblems.length > 0 || r.maintenance.failures > 0) process.exitCode = 1;
    } finally {
      await target.close();
    }
  });

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
