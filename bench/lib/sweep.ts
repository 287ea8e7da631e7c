// An open-loop sweep: fixed offered rates, then fractions of the closed-loop saturation measured in the same round;
// per step p50/p99/p99.9 from the scheduled arrivals (bench/lib/open-loop.ts). Medians over rounds, and the floor
// judged at one load fraction against the same run's unloaded p50.
import { median, round } from './stats.js';
import { runOpenLoop, type OpenLoopOptions, type OpenLoopResult } from './open-loop.js';
import type { EtcdAlone, OpenLoopBaselines } from './open-loop-baselines.js';

export const DEFAULT_RATES = [500, 1000, 2000, 5000] as const;
export const DEFAULT_FRACTIONS = [0.25, 0.5, 0.8] as const;

/** How long a step waits for its timed-out calls to finish before the next step starts. */
const SETTLE_PENDING_MS = 15_000;

export interface SweepOptions {
  readonly rates: readonly number[];
  readonly fractions: readonly number[];
  /** Closed-loop allocations/s of this round: the fractions' base and every step's load fraction. */
  readonly saturationPerSec: number;
  readonly stepMs: number;
  readonly maxOutstanding: number;
  readonly graceMs?: number;
  /** Seeds step k with seed + k: the same schedules in every run. */
  readonly seed: number;
  /** Idle time before each step (default 500 ms): the previous step's calls and garbage settle first. */
  readonly settleMs?: number;
  onStep?: (label: string) => void;
  /** Where the engine's time goes, recorded over each step (begin before its first arrival, end after its window). */
  readonly phases?: { begin(): void | Promise<void>; end(): StepPhases | Promise<StepPhases> };
}

/** Over one step, what the engine reports of itself (each part absent where this mode cannot see it). */
export interface StepPhases {
  /** Per appended member: the group-commit wait (submit -> sent), ms (in-process engines only). */
  readonly waitMs?: { readonly p50: number; readonly p99: number };
  /** Per appended member: the txn (sent -> settled), ms (in-process engines only). */
  readonly txnMs?: { readonly p50: number; readonly p99: number };
  /** etcd txns the engine committed a second over the step: the rate etcd itself serves (txns, not allocations). */
  readonly txnsPerSec?: number;
  /** The daemon's GC over the step, from its /metrics (`nodejs_gc_duration_seconds`): total ms, of it mark-compact, pauses > 10 ms. */
  readonly daemonGc?: { readonly totalMs: number; readonly majorMs: number; readonly over10Ms: number };
  /** The daemon's event-loop delay over the step, from its /metrics (prom-client, 10 ms resolution), ms. */
  readonly daemonLoopDelayMs?: { readonly p99: number; readonly max: number };
  /** Through the HTTP API: the daemon's own time per answer vs the rest (bench/http/daemon-probes.ts serverSplit). */
  readonly server?: ServerSplit;
  /** CPU seconds over the step: the daemon (/proc, 10 ms ticks), and the bench process (the load generator). */
  readonly cpuSeconds?: { readonly daemon: number; readonly bench: number };
}

/** Per answer, the daemon's time (Server-Timing) and the rest of its latency, ms; `tail*`: medians over the slowest 1%. */
export interface ServerSplit {
  readonly serverP50Ms: number;
  readonly serverP99Ms: number;
  readonly outsideP50Ms: number;
  readonly outsideP99Ms: number;
  readonly tailServerMs: number;
  readonly tailOutsideMs: number;
}

export interface SweepStep {
  readonly offeredPerSec: number;
  readonly loadFraction: number;
  /** Set for steps asked as a fraction of saturation. */
  readonly asFraction?: number;
  readonly result: OpenLoopResult<unknown>;
  readonly phases?: StepPhases;
}

/** Runs step `step`'s open loop with these options: in this process (inProcessSteps) or elsewhere (the HTTP client's thread). */
export type StepRunner = (step: number, o: OpenLoopOptions) => Promise<OpenLoopResult<unknown>>;

/** Steps run here: `call(step, i)` at arrival i of step `step`. */
export function inProcessSteps(call: (step: number, index: number) => Promise<unknown>): StepRunner {
  return (k, so) => runOpenLoop((i) => call(k, i), so);
}

/** The steps of one round, each run by `runStep`. */
export async function runSweep(runStep: StepRunner, o: SweepOptions): Promise<SweepStep[]> {
  const plan: { rate: number; asFraction?: number }[] = [
    ...o.rates.map((rate) => ({ rate })),
    ...o.fractions.map((f) => ({ rate: Math.max(1, Math.round(f * o.saturationPerSec)), asFraction: f })),
  ];
  // Run lowest rate first (an overloaded step's backlog, calls still queued in the engine or etcd, then cannot
  // spill into a lighter step measured after it); steps keep the plan's order, so step k is the same in every round.
  const order = plan.map((_, k) => k).sort((a, b) => plan[a]!.rate - plan[b]!.rate);
  const steps: SweepStep[] = new Array(plan.length);
  for (const k of order) {
    const { rate, asFraction } = plan[k]!;
    await new Promise((r) => setTimeout(r, o.settleMs ?? 500));
    o.onStep?.(`${rate}/s${asFraction !== undefined ? ` (${asFraction * 100}% of ${Math.round(o.saturationPerSec)}/s)` : ''}`);
    await o.phases?.begin();
    const stepOptions: OpenLoopOptions = { ratePerSec: rate, durationMs: o.stepMs, seed: o.seed + k, maxOutstanding: o.maxOutstanding, ...(o.graceMs !== undefined ? { graceMs: o.graceMs } : {}) };
    const result = await runStep(k, stepOptions);
    const phases = await o.phases?.end();
    // Calls that timed out may still be running: let them finish (bounded) before the next step.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(result.pending), new Promise((r) => (timer = setTimeout(r, SETTLE_PENDING_MS)))]);
    clearTimeout(timer);
    steps[k] = { offeredPerSec: rate, loadFraction: round(rate / o.saturationPerSec, 3), ...(asFraction !== undefined ? { asFraction } : {}), result, ...(phases ? { phases } : {}) };
  }
  return steps;
}

export interface SweepRound {
  readonly unloadedP50Ms: number;
  readonly saturationPerSec: number;
  readonly steps: readonly SweepStep[];
  /** The harness and etcd alone at the floor's rate, this round (open-loop-baselines.ts). */
  readonly baselines?: OpenLoopBaselines;
}

export interface OpenLoopFigure {
  offeredPerSec: number;
  loadFraction: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  achievedPerSec: number;
  arrivals: number;
  dropped: number;
  late: number;
  timedOut: number;
  errors: number;
  /** The load generator's event-loop delay p99 (ms), median over rounds: its own share of the latency. */
  loopDelayP99Ms: number;
  /** How late the generator sent arrivals (ms), p50 and p99, medians over rounds. */
  sendLagP50Ms: number;
  sendLagP99Ms: number;
  /** This process's longest GC pause in the step and their total (ms), medians over rounds (NaN: not measured). */
  gcMaxMs: number;
  gcTotalMs: number;
  /** Of them, the longest scavenge (young generation) pause, ms, median over rounds. */
  gcScavengeMaxMs: number;
  /** The engine's group-commit wait and txn time per member, p50 and p99, medians over rounds (NaN: not measured). */
  commitWaitP50Ms: number;
  commitWaitP99Ms: number;
  txnP50Ms: number;
  txnP99Ms: number;
  /** etcd txns/s the engine committed over the step, median over rounds (NaN: not measured). */
  txnsPerSec: number;
  /** The daemon's GC total and pauses over 10 ms in the step, medians over rounds (NaN: in-process, see gcMaxMs). */
  daemonGcTotalMs: number;
  daemonGcMajorMs: number;
  daemonGcOver10Ms: number;
  /** The daemon's event-loop delay p99 and max (ms), medians over rounds (NaN: not measured). */
  daemonLoopDelayP99Ms: number;
  daemonLoopDelayMaxMs: number;
  /** The daemon's own time vs the rest of each answer's latency, medians over rounds (NaN: not measured). */
  serverP50Ms: number;
  serverP99Ms: number;
  outsideP50Ms: number;
  outsideP99Ms: number;
  tailServerMs: number;
  tailOutsideMs: number;
  /** CPU per answer over the step (µs): the daemon, and the bench process (client, clock), medians over rounds. */
  daemonCpuUsPerAnswer: number;
  benchCpuUsPerAnswer: number;
  /** The first few failures' messages, all rounds. */
  errorMessages: string[];
  /** p99 per round (the median is the figure). */
  p99PerRound: number[];
}

/** The median, where a value may be Infinity (a percentile among dropped calls). */
export function medianOf(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** JSON has no Infinity: a percentile that fell among dropped calls is written as null. */
const finite = (x: number) => (Number.isFinite(x) ? x : null);

/**
 * Medians over rounds, step by step (step k of every round had the same plan), and the floor: p99 at the load
 * fraction `floor.at` <= `floor.factor` x the unloaded p50.
 */
export function summarizeSweep(rounds: readonly SweepRound[], floor: { at: number; factor: number }) {
  const k = rounds[0]?.steps.length ?? 0;
  const med = (xs: number[]) => round(medianOf(xs), 2);
  const openLoop: OpenLoopFigure[] = Array.from({ length: k }, (_, s) => {
    const at = rounds.map((r) => r.steps[s]!);
    const res = at.map((x) => x.result);
    const sum = (f: (r: OpenLoopResult<unknown>) => number) => res.reduce((n, r) => n + f(r), 0);
    return {
      offeredPerSec: round(median(at.map((x) => x.offeredPerSec))),
      loadFraction: round(median(at.map((x) => x.loadFraction)), 3),
      p50Ms: med(res.map((r) => r.latencyMs.p50)),
      p99Ms: med(res.map((r) => r.latencyMs.p99)),
      p999Ms: med(res.map((r) => r.latencyMs.p999)),
      achievedPerSec: round(median(res.map((r) => r.achievedPerSec))),
      arrivals: sum((r) => r.arrivals),
      dropped: sum((r) => r.dropped),
      late: sum((r) => r.late),
      timedOut: sum((r) => r.timedOut),
      errors: sum((r) => r.errors),
      loopDelayP99Ms: med(res.map((r) => r.loopDelayMs.p99)),
      sendLagP50Ms: med(res.map((r) => r.sendLagMs.p50)),
      sendLagP99Ms: med(res.map((r) => r.sendLagMs.p99)),
      gcMaxMs: med(res.map((r) => r.gcPauses?.maxMs ?? NaN)),
      gcTotalMs: med(res.map((r) => r.gcPauses?.totalMs ?? NaN)),
      gcScavengeMaxMs: med(res.map((r) => r.gcPauses?.minorMaxMs ?? NaN)),
      commitWaitP50Ms: med(at.map((x) => x.phases?.waitMs?.p50 ?? NaN)),
      commitWaitP99Ms: med(at.map((x) => x.phases?.waitMs?.p99 ?? NaN)),
      txnP50Ms: med(at.map((x) => x.phases?.txnMs?.p50 ?? NaN)),
      txnP99Ms: med(at.map((x) => x.phases?.txnMs?.p99 ?? NaN)),
      txnsPerSec: round(medianOf(at.map((x) => x.phases?.txnsPerSec ?? NaN))),
      daemonGcTotalMs: med(at.map((x) => x.phases?.daemonGc?.totalMs ?? NaN)),
      daemonGcMajorMs: med(at.map((x) => x.phases?.daemonGc?.majorMs ?? NaN)),
      daemonGcOver10Ms: med(at.map((x) => x.phases?.daemonGc?.over10Ms ?? NaN)),
      daemonLoopDelayP99Ms: med(at.map((x) => x.phases?.daemonLoopDelayMs?.p99 ?? NaN)),
      daemonLoopDelayMaxMs: med(at.map((x) => x.phases?.daemonLoopDelayMs?.max ?? NaN)),
      serverP50Ms: med(at.map((x) => x.phases?.server?.serverP50Ms ?? NaN)),
      serverP99Ms: med(at.map((x) => x.phases?.server?.serverP99Ms ?? NaN)),
      outsideP50Ms: med(at.map((x) => x.phases?.server?.outsideP50Ms ?? NaN)),
      outsideP99Ms: med(at.map((x) => x.phases?.server?.outsideP99Ms ?? NaN)),
      tailServerMs: med(at.map((x) => x.phases?.server?.tailServerMs ?? NaN)),
      tailOutsideMs: med(at.map((x) => x.phases?.server?.tailOutsideMs ?? NaN)),
      daemonCpuUsPerAnswer: round(medianOf(at.map((x) => ((x.phases?.cpuSeconds?.daemon ?? NaN) * 1e6) / Math.max(1, x.result.completed)))),
      benchCpuUsPerAnswer: round(medianOf(at.map((x) => ((x.phases?.cpuSeconds?.bench ?? NaN) * 1e6) / Math.max(1, x.result.completed)))),
      p99PerRound: res.map((r) => r.latencyMs.p99),
      errorMessages: res.flatMap((r) => r.errorMessages).slice(0, 3),
    };
  });
  const unloadedP50Ms = med(rounds.map((r) => r.unloadedP50Ms));
  const floorStep = rounds[0]?.steps.findIndex((x) => x.asFraction === floor.at) ?? -1;
  const atFloor = floorStep >= 0 ? openLoop[floorStep] : undefined;
  const limitMs = round(unloadedP50Ms * floor.factor, 2);
  const b = rounds.map((r) => r.baselines).filter((x) => x !== undefined);
  const aloneMedian = (xs: readonly EtcdAlone[]) => ({
    unloadedP50Ms: med(xs.map((x) => x.unloadedP50Ms)),
    p50Ms: med(xs.map((x) => x.p50Ms)),
    p99Ms: med(xs.map((x) => x.p99Ms)),
    ratio: med(xs.map((x) => x.ratio)),
    achievedPerSec: round(median(xs.map((x) => x.achievedPerSec))),
    ratioPerRound: xs.map((x) => x.ratio),
  });
  const baselines =
    b.length === 0
      ? undefined
      : {
          offeredPerSec: round(median(b.map((x) => x.offeredPerSec))),
          harness: { p50Ms: med(b.map((x) => x.harness.p50Ms)), p99Ms: med(b.map((x) => x.harness.p99Ms)) },
          ...(b.every((x) => x.fsync)
            ? { fsync: { p50Ms: med(b.map((x) => x.fsync!.p50Ms)), p99Ms: med(b.map((x) => x.fsync!.p99Ms)), maxMs: med(b.map((x) => x.fsync!.maxMs)) } }
            : {}),
          etcdAlone: aloneMedian(b.map((x) => x.etcdAlone)),
          etcdAloneLight: { offeredPerSec: b[0]!.etcdAloneLight.offeredPerSec, ...aloneMedian(b.map((x) => x.etcdAloneLight)) },
          ...(b.every((x) => x.etcdAloneAtTxnRate)
            ? { etcdAloneAtTxnRate: { offeredPerSec: round(median(b.map((x) => x.etcdAloneAtTxnRate!.offeredPerSec))), ...aloneMedian(b.map((x) => x.etcdAloneAtTxnRate!)) } }
            : {}),
        };
  // etcd alone at the engine's own txn rate against the same round's limit: every answer waits for one txn, so where
  // etcd alone is over the limit, no engine on that etcd can meet the floor in that round.
  const tails = rounds.map((r) => ({ p99: r.baselines?.etcdAloneAtTxnRate?.p99Ms, limit: r.unloadedP50Ms * floor.factor }));
  const storeTail = tails.every((t) => t.p99 !== undefined) && tails.length > 0
    ? {
        p99Ms: med(tails.map((t) => t.p99!)),
        limitsMs: tails.map((t) => round(t.limit, 2)),
        roundsOverLimit: tails.filter((t) => t.p99! > t.limit).length,
        rounds: tails.length,
      }
    : undefined;
  return {
    unloadedP50Ms,
    unloadedP50PerRound: rounds.map((r) => round(r.unloadedP50Ms, 2)),
    saturationPerSec: round(median(rounds.map((r) => r.saturationPerSec))),
    saturationPerRound: rounds.map((r) => round(r.saturationPerSec)),
    openLoop,
    floor: {
      loadFraction: floor.at,
      factor: floor.factor,
      limitMs,
      p99Ms: atFloor?.p99Ms ?? NaN,
      ratioToUnloadedP50: atFloor ? round(atFloor.p99Ms / unloadedP50Ms, 2) : NaN,
      met: atFloor !== undefined && atFloor.p99Ms <= limitMs,
      /** Index in `openLoop` of the floor's step (-1: none). */
      step: floorStep,
      /** etcd alone at the engine's txn rate vs each round's limit (undefined: not measured in every round). */
      ...(storeTail ? { storeTail } : {}),
    },
    ...(baselines ? { baselines } : {}),
  };
}

export type SweepSummary = ReturnType<typeof summarizeSweep>;

type AloneFigure = EtcdAlone & { ratioPerRound: number[] };
const aloneJson = (a: AloneFigure) => ({ ...a, p50Ms: finite(a.p50Ms), p99Ms: finite(a.p99Ms), ratio: finite(a.ratio), ratioPerRound: a.ratioPerRound.map(finite) });

/** The summary as JSON-safe data (Infinity -> null). */
export function sweepJson(s: SweepSummary) {
  return {
    ...s,
    openLoop: s.openLoop.map((x) => ({ ...x, p50Ms: finite(x.p50Ms), p99Ms: finite(x.p99Ms), p999Ms: finite(x.p999Ms), p99PerRound: x.p99PerRound.map(finite) })),
    floor: { ...s.floor, p99Ms: finite(s.floor.p99Ms), ratioToUnloadedP50: finite(s.floor.ratioToUnloadedP50), ...(s.floor.storeTail ? { storeTail: { ...s.floor.storeTail, p99Ms: finite(s.floor.storeTail.p99Ms) } } : {}) },
    ...(s.baselines
      ? {
          baselines: {
            ...s.baselines,
            harness: { p50Ms: finite(s.baselines.harness.p50Ms), p99Ms: finite(s.baselines.harness.p99Ms) },
            etcdAlone: aloneJson(s.baselines.etcdAlone),
            etcdAloneLight: { ...aloneJson(s.baselines.etcdAloneLight), offeredPerSec: s.baselines.etcdAloneLight.offeredPerSec },
            ...(s.baselines.etcdAloneAtTxnRate ? { etcdAloneAtTxnRate: { ...aloneJson(s.baselines.etcdAloneAtTxnRate), offeredPerSec: s.baselines.etcdAloneAtTxnRate.offeredPerSec } } : {}),
          },
        }
      : {}),
  };
}

/** Table rows: one per step (`steps`), then the unloaded p50, the saturation and the floor (`footer`). */
export function sweepRows(s: SweepSummary, what: string): { steps: (string | number)[][]; footer: (string | number)[][] } {
  const ms = (x: number) => (Number.isFinite(x) ? x : 'inf');
  // NaN: not measured in this mode (e.g. the engine's split through the HTTP API, where it runs in the daemon).
  const pair = (a: number, b: number) => (Number.isNaN(a) && Number.isNaN(b) ? '-' : `${a}/${b}`);
  const steps = [
    ['offered/s', 'load', 'achieved/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'p99 per round', 'arrivals', 'dropped', 'late', 'timed out', 'errors', 'send lag p50/p99 ms', 'loop delay p99 ms', 'gc max/total ms, scavenge max', 'commit wait p50/p99 ms', 'txn p50/p99 ms', 'txns/s', 'daemon gc total/major ms, >10 ms', 'daemon loop delay p99/max ms', 'daemon p50/p99 ms, outside p50/p99', 'slowest 1%: daemon/outside ms', 'CPU us/answer daemon/bench'],
    ...s.openLoop.map((x) => [x.offeredPerSec, x.loadFraction, x.achievedPerSec, ms(x.p50Ms), ms(x.p99Ms), ms(x.p999Ms), x.p99PerRound.map(ms).join(' '), x.arrivals, x.dropped, x.late, x.timedOut, x.errors, `${x.sendLagP50Ms}/${x.sendLagP99Ms}`, x.loopDelayP99Ms, Number.isNaN(x.gcMaxMs) ? '-' : `${x.gcMaxMs}/${x.gcTotalMs}, ${x.gcScavengeMaxMs}`, pair(x.commitWaitP50Ms, x.commitWaitP99Ms), pair(x.txnP50Ms, x.txnP99Ms), Number.isNaN(x.txnsPerSec) ? '-' : x.txnsPerSec, Number.isNaN(x.daemonGcTotalMs) ? '-' : `${x.daemonGcTotalMs}/${x.daemonGcMajorMs}, ${x.daemonGcOver10Ms}`, pair(x.daemonLoopDelayP99Ms, x.daemonLoopDelayMaxMs), Number.isNaN(x.serverP99Ms) ? '-' : `${x.serverP50Ms}/${x.serverP99Ms}, ${x.outsideP50Ms}/${x.outsideP99Ms}`, pair(x.tailServerMs, x.tailOutsideMs), pair(x.daemonCpuUsPerAnswer, x.benchCpuUsPerAnswer)]),
  ];
  const footer = [
    ['unloaded p50 ms', s.unloadedP50Ms, `rounds: ${s.unloadedP50PerRound.join(' ')}`, 'one requester, closed loop'],
    ['saturation/s', s.saturationPerSec, `rounds: ${s.saturationPerRound.join(' ')}`, what],
    [
      `floor: p99 at ${s.floor.loadFraction * 100}% <= ${s.floor.factor}x unloaded p50`,
      s.floor.met ? 'met' : 'NOT met',
      `${ms(s.floor.p99Ms)} ms vs ${s.floor.limitMs} ms (${ms(s.floor.ratioToUnloadedP50)}x)`,
      'medians over rounds',
    ],
  ];
  const st = s.floor.storeTail;
  if (st) {
    footer.push([
      'floor vs etcd alone at the txn rate',
      st.roundsOverLimit === 0 ? 'etcd under the limit' : `etcd over the limit in ${st.roundsOverLimit} of ${st.rounds} rounds`,
      `etcd alone p99 ${ms(st.p99Ms)} ms (median) vs the round's limit ${st.limitsMs.join(' ')} ms`,
      'an answer waits for at least one txn: over the limit, no engine on this etcd meets the floor',
    ]);
  }
  // Through HTTP: where the floor step's answers waited, on one line (the columns of its row, which is wide).
  const f = s.openLoop[s.floor.step];
  if (f && !Number.isNaN(f.serverP99Ms)) {
    footer.push([
      `at ${s.floor.loadFraction * 100}%: daemon vs outside`,
      `p99 ${f.serverP99Ms} / ${f.outsideP99Ms} ms`,
      `slowest 1%: daemon ${f.tailServerMs} / outside ${f.tailOutsideMs} ms; daemon loop delay p99/max ${f.daemonLoopDelayP99Ms}/${f.daemonLoopDelayMaxMs} ms; CPU us/answer daemon/bench ${f.daemonCpuUsPerAnswer}/${f.benchCpuUsPerAnswer}; client scavenge max ${f.gcScavengeMaxMs} ms`,
      "the daemon's Server-Timing against the rest of each latency",
    ]);
  }
  const b = s.baselines;
  if (b) {
    footer.push(
      [`harness alone at ${b.offeredPerSec}/s`, `p99 ${ms(b.harness.p99Ms)} ms`, `p50 ${ms(b.harness.p50Ms)} ms`, 'a no-op call, open loop: the generator and scheduling'],
      ...(b.fsync ? [['fdatasync of 4 KB in etcd\'s data dir', `p99 ${b.fsync.p99Ms} ms`, `p50 ${b.fsync.p50Ms} ms; max ${b.fsync.maxMs} ms`, 'the disk: one per WAL batch']] : []),
      ...[
        { at: b.etcdAloneLight.offeredPerSec, a: b.etcdAloneLight },
        { at: b.offeredPerSec, a: b.etcdAlone },
      ].map(({ at, a }) => [
        `etcd alone at ${at}/s`,
        `p99 ${ms(a.p99Ms)} ms (${ms(a.ratio)}x)`,
        `p50 ${ms(a.p50Ms)} ms; one requester p50 ${a.unloadedP50Ms} ms; achieved ${a.achievedPerSec}/s; rounds ${a.ratioPerRound.map(ms).join(' ')}x`,
        'one 200-byte put per call: the environment floor',
      ]),
      ...(b.etcdAloneAtTxnRate
        ? [
            [
              `etcd alone at ${b.etcdAloneAtTxnRate.offeredPerSec} txns/s`,
              `p99 ${ms(b.etcdAloneAtTxnRate.p99Ms)} ms (${ms(b.etcdAloneAtTxnRate.ratio)}x)`,
              `p50 ${ms(b.etcdAloneAtTxnRate.p50Ms)} ms; achieved ${b.etcdAloneAtTxnRate.achievedPerSec}/s; rounds ${b.etcdAloneAtTxnRate.ratioPerRound.map(ms).join(' ')}x`,
              `at the engine's own txn rate at ${s.floor.loadFraction * 100}% (it batches): etcd's share of the floor`,
            ],
          ]
        : []),
    );
  }
  return { steps, footer };
}

/** The log invariants of every round of a sweep, summed (what the scenario's JSON reports). */
export function summedInvariants(rounds: readonly { readonly invariants: { readonly duplicates: number; readonly lost: number; readonly extra: number } }[]) {
  const sum = (k: 'duplicates' | 'lost' | 'extra') => rounds.reduce((n, x) => n + x.invariants[k], 0);
  return { duplicates: sum('duplicates'), lost: sum('lost'), extra: sum('extra') };
}
