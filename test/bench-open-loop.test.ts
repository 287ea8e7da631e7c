// The open-loop load generator's arithmetic (no timing asserted): seeded Poisson schedules, percentiles that count
// dropped calls as infinitely slow, the medians over rounds and the floor of a sweep.
import test from 'ava';
import { MAX_ARRIVALS, openLoopPercentiles, poissonArrivals, runOpenLoop, seededRandom, settledWithin } from '../bench/lib/open-loop.js';
import { medianOf, summarizeSweep, sweepJson, sweepRows, type SweepRound } from '../bench/lib/sweep.js';
import { parseEtcdConfig } from '../bench/etcd-alone.js';
import { parseDaemonCounters, serverSplit } from '../bench/http/daemon-probes.js';
import { serverMsOf } from '../bench/http/client.js';

test('the schedule is seeded: the same seed gives the same arrivals, another seed others', (t) => {
  const a = poissonArrivals(1000, 2000, 7);
  t.deepEqual([...a], [...poissonArrivals(1000, 2000, 7)]);
  t.notDeepEqual([...a.slice(0, 20)], [...poissonArrivals(1000, 2000, 8).slice(0, 20)]);
});

test('arrivals are increasing, inside the window, at the offered rate with exponential gaps', (t) => {
  const rate = 2000;
  const ms = 50_000;
  const a = poissonArrivals(rate, ms, 3);
  for (let i = 1; i < a.length; i++) t.true(a[i]! >= a[i - 1]!);
  t.true(a[0]! >= 0 && a[a.length - 1]! < ms);
  // 100,000 expected arrivals: the count's standard deviation is ~316, so 1% is > 3 sigma.
  t.true(Math.abs(a.length - (rate * ms) / 1000) < 1000, `${a.length} arrivals`);
  const gaps = Array.from({ length: a.length - 1 }, (_, i) => a[i + 1]! - a[i]!);
  const mean = gaps.reduce((x, y) => x + y, 0) / gaps.length;
  t.true(Math.abs(mean - 1000 / rate) < 0.01 * (1000 / rate), `mean gap ${mean}`);
  // Exponential: the coefficient of variation is 1, and P(gap > mean) = 1/e.
  const sd = Math.sqrt(gaps.reduce((x, g) => x + (g - mean) ** 2, 0) / gaps.length);
  t.true(Math.abs(sd / mean - 1) < 0.02, `cv ${sd / mean}`);
  const over = gaps.filter((g) => g > mean).length / gaps.length;
  t.true(Math.abs(over - Math.exp(-1)) < 0.01, `P(gap > mean) ${over}`);
});

test('the schedule is bounded and refuses nonsense', (t) => {
  t.is(poissonArrivals(1e9, 10_000, 1).length, MAX_ARRIVALS);
  t.throws(() => poissonArrivals(0, 1000, 1));
  t.throws(() => poissonArrivals(100, -1, 1));
  const r = seededRandom(1);
  for (let i = 0; i < 1000; i++) {
    const u = r();
    t.true(u >= 0 && u < 1);
  }
});

test('percentiles by nearest rank, with missing calls counted as infinitely slow', (t) => {
  const xs = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000 ms
  t.deepEqual(openLoopPercentiles(xs), { p50: 500, p99: 990, p999: 999, max: 1000 });
  // 10 dropped of 1,010 arrivals: p99's rank 1000 is still a completed call, p99.9's rank 1009 is not.
  t.deepEqual(openLoopPercentiles(xs, 10), { p50: 505, p99: 1000, p999: Infinity, max: Infinity });
  // More than half dropped: even the median is unbounded.
  t.is(openLoopPercentiles([1, 2], 3).p50, Infinity);
  t.true(Number.isNaN(openLoopPercentiles([]).p50));
});

test('an open-loop step sends every arrival, drops those over the cap, and times out the ones that never answer', async (t) => {
  const never = new Promise<number>(() => undefined);
  let calls = 0;
  // Every call hangs: the first 5 are sent, the rest of the arrivals find 5 in flight and are dropped.
  const r = await runOpenLoop(() => (calls++, never), { ratePerSec: 2000, durationMs: 20, seed: 1, maxOutstanding: 5, graceMs: 10 });
  t.is(calls, 5);
  t.is(r.arrivals, poissonArrivals(2000, 20, 1).length);
  t.is(r.dropped, r.arrivals - 5);
  t.is(r.timedOut, 5);
  t.is(r.completed, 0);
  t.is(r.latencyMs.p50, Infinity);
  t.is(r.pending.length, 5);

  const ok = await runOpenLoop(async (i) => i, { ratePerSec: 1000, durationMs: 30, seed: 2, maxOutstanding: 100 });
  t.is(ok.completed, ok.arrivals);
  t.is(ok.dropped + ok.timedOut + ok.errors, 0);
  t.deepEqual(ok.answers.map((a) => a.value).sort((a, b) => a - b), Array.from({ length: ok.arrivals }, (_, i) => i));
  t.true(ok.answers.every((a) => a.ms >= 0), 'each answer with its latency from the scheduled arrival');

  const failing = await runOpenLoop(async () => Promise.reject(new Error('no')), { ratePerSec: 1000, durationMs: 20, seed: 3, maxOutstanding: 100 });
  t.is(failing.errors, failing.arrivals);
  t.is(failing.latencyMs.p99, Infinity);
});

test('a sweep summary: medians per step over rounds, the floor at 25% against the unloaded p50, Infinity as null in JSON', (t) => {
  const step = (offeredPerSec: number, loadFraction: number, p99: number, asFraction?: number) => ({
    offeredPerSec,
    loadFraction,
    ...(asFraction !== undefined ? { asFraction } : {}),
    result: { offeredPerSec, arrivals: 100, completed: 100, dropped: 0, late: 0, timedOut: 0, errors: 0, errorMessages: [], achievedPerSec: offeredPerSec, latencyMs: { p50: p99 / 2, p99, p999: p99 * 2, max: p99 * 3 }, sendLagMs: { p50: 0.1, p99: 1 }, loopDelayMs: { p99: 1, max: 2 }, answers: [], pending: [] },
  });
  const rounds: SweepRound[] = [
    { unloadedP50Ms: 2, saturationPerSec: 4000, steps: [step(500, 0.125, 4), step(1000, 0.25, 5, 0.25)] },
    { unloadedP50Ms: 3, saturationPerSec: 4400, steps: [step(500, 0.114, 8), step(1100, 0.25, 7, 0.25)] },
    { unloadedP50Ms: 2.5, saturationPerSec: 4200, steps: [step(500, 0.119, Infinity), step(1050, 0.25, 9, 0.25)] },
  ];
  const s = summarizeSweep(rounds, { at: 0.25, factor: 3 });
  t.is(s.unloadedP50Ms, 2.5);
  t.is(s.saturationPerSec, 4200);
  t.is(s.openLoop[0]!.p99Ms, 8);
  t.is(s.openLoop[0]!.p999Ms, 16);
  t.is(s.openLoop[1]!.offeredPerSec, 1050);
  t.is(s.openLoop[1]!.p99Ms, 7);
  t.is(s.openLoop[1]!.arrivals, 300);
  t.deepEqual(s.floor, { loadFraction: 0.25, factor: 3, limitMs: 7.5, p99Ms: 7, ratioToUnloadedP50: 2.8, met: true, step: 1 });
  t.false(sweepRows(s, 'x').footer.some((r) => String(r[0]).includes('daemon vs outside')), 'in-process: no daemon to split off');
  // Through HTTP the floor step's split gets a footer line of its own: medians over rounds, as its columns.
  const split = (server: number, outside: number) => ({ serverP50Ms: 1, serverP99Ms: server, outsideP50Ms: 1, outsideP99Ms: outside, tailServerMs: server, tailOutsideMs: outside });
  const http = rounds.map((r, i) => ({ ...r, steps: [r.steps[0]!, { ...r.steps[1]!, phases: { server: split(10 + i, 20 + i), daemonLoopDelayMs: { p99: 11, max: 15 }, cpuSeconds: { daemon: 0.1, bench: 0.05 } } }] }));
  const line = sweepRows(summarizeSweep(http, { at: 0.25, factor: 3 }), 'x').footer.find((r) => String(r[0]).includes('daemon vs outside'));
  t.is(line?.[1], 'p99 11 / 21 ms');
  t.regex(String(line?.[2]), /slowest 1%: daemon 11 \/ outside 21 ms; daemon loop delay p99\/max 11\/15 ms; CPU us\/answer daemon\/bench 1000\/500/);
  t.false(summarizeSweep(rounds, { at: 0.25, factor: 2 }).floor.met);
  t.is(medianOf([1, Infinity, Infinity]), Infinity);
  const j = sweepJson({ ...s, openLoop: [{ ...s.openLoop[0]!, p99Ms: Infinity }] });
  t.is(j.openLoop[0]!.p99Ms, null);
  t.is(JSON.parse(JSON.stringify(j)).openLoop[0].p99Ms, null);
});

test("the floor against etcd alone at the engine's txn rate: each round's etcd p99 against that round's limit", (t) => {
  const step = (p99: number) => ({
    offeredPerSec: 1000,
    loadFraction: 0.25,
    asFraction: 0.25,
    result: { offeredPerSec: 1000, arrivals: 100, completed: 100, dropped: 0, late: 0, timedOut: 0, errors: 0, errorMessages: [], achievedPerSec: 1000, latencyMs: { p50: 1, p99, p999: p99, max: p99 }, sendLagMs: { p50: 0.1, p99: 1 }, loopDelayMs: { p99: 1, max: 2 }, answers: [], pending: [] },
  });
  const alone = (p99Ms: number) => ({ unloadedP50Ms: 1, p50Ms: 1, p99Ms, ratio: p99Ms, achievedPerSec: 300 });
  const baselines = (atTxnRate?: number) => ({
    offeredPerSec: 1000,
    harness: { p50Ms: 0.1, p99Ms: 0.5 },
    etcdAlone: alone(9),
    etcdAloneLight: { ...alone(8), offeredPerSec: 500 },
    ...(atTxnRate !== undefined ? { etcdAloneAtTxnRate: { ...alone(atTxnRate), offeredPerSec: 300 } } : {}),
  });
  // Limits 3x the unloaded p50: 6, 9 and 4.5 ms; etcd alone 5 (under), 10 (over), 4 (under).
  const rounds: SweepRound[] = [
    { unloadedP50Ms: 2, saturationPerSec: 4000, steps: [step(12)], baselines: baselines(5) },
    { unloadedP50Ms: 3, saturationPerSec: 4000, steps: [step(12)], baselines: baselines(10) },
    { unloadedP50Ms: 1.5, saturationPerSec: 4000, steps: [step(12)], baselines: baselines(4) },
  ];
  const s = summarizeSweep(rounds, { at: 0.25, factor: 3 });
  t.deepEqual(s.floor.storeTail, { p99Ms: 5, limitsMs: [6, 9, 4.5], roundsOverLimit: 1, rounds: 3 });
  const line = sweepRows(s, 'x').footer.find((r) => String(r[0]).includes('etcd alone at the txn rate'));
  t.is(line?.[1], 'etcd over the limit in 1 of 3 rounds');
  t.is(sweepJson(s).floor.storeTail?.p99Ms, 5);
  // Under the limit in every round: said so; a round without the probe: no verdict at all.
  const under = summarizeSweep(rounds.map((r) => ({ ...r, baselines: baselines(1) })), { at: 0.25, factor: 3 });
  t.is(sweepRows(under, 'x').footer.find((r) => String(r[0]).includes('etcd alone at the txn rate'))?.[1], 'etcd under the limit');
  const missing = summarizeSweep([rounds[0]!, { ...rounds[1]!, baselines: baselines() }], { at: 0.25, factor: 3 });
  t.is(missing.floor.storeTail, undefined);
});

test('settling the calls a step left running is bounded: a call that never answers is left out', async (t) => {
  const never = new Promise<number | undefined>(() => undefined);
  t.deepEqual(await settledWithin([Promise.resolve(1), never, Promise.resolve(undefined), Promise.resolve(3)], 20), [1, 3]);
});

test("bench etcd-alone's configurations: flags and environment variables told apart, 'default' is none, anything else refused", (t) => {
  t.deepEqual(parseEtcdConfig('default'), { label: 'default', args: [], env: {} });
  t.deepEqual(parseEtcdConfig(' --backend-batch-interval=10ms  GOGC=400 '), { label: '--backend-batch-interval=10ms GOGC=400', args: ['--backend-batch-interval=10ms'], env: { GOGC: '400' } });
  t.throws(() => parseEtcdConfig('batch=10'), { message: /"batch=10" is neither a flag/ });
});

test("the HTTP open loop's daemon counters: summed over label sets, the 10 ms GC bucket, other metrics with the same stem ignored", (t) => {
  const text = [
    '# HELP ipam_txn_duration_seconds x',
    'ipam_txn_duration_seconds_bucket{le="0.001"} 3',
    'ipam_txn_duration_seconds_count 42',
    'ipam_txn_duration_seconds_count_other 7',
    'nodejs_gc_duration_seconds_bucket{le="0.001",kind="minor"} 5',
    'nodejs_gc_duration_seconds_bucket{le="0.01",kind="minor"} 9',
    'nodejs_gc_duration_seconds_bucket{le="0.01",kind="major"} 1',
    'nodejs_gc_duration_seconds_bucket{le="0.1",kind="major"} 2',
    'nodejs_gc_duration_seconds_sum{kind="minor"} 0.025',
    'nodejs_gc_duration_seconds_sum{kind="major"} 0.05',
    'nodejs_gc_duration_seconds_count{kind="minor"} 10',
    'nodejs_gc_duration_seconds_count{kind="major"} 2',
    'nodejs_eventloop_lag_p99_seconds 0.0125',
    'nodejs_eventloop_lag_max_seconds 0.031',
  ].join('\n');
  const c = parseDaemonCounters(text);
  t.is(c.txns, 42);
  t.is(c.gcPauses, 12);
  t.is(c.gcUpTo10Ms, 10);
  t.true(Math.abs(c.gcSeconds - 0.075) < 1e-9);
  t.true(Math.abs(c.majorGcSeconds - 0.05) < 1e-9);
  t.is(c.loopLagP99, 0.0125);
  t.is(c.loopLagMax, 0.031);
});

test("the daemon's Server-Timing read from its header, and a step's answers split into its time and the rest", (t) => {
  t.is(serverMsOf('app;dur=3.25'), 3.25);
  t.is(serverMsOf('db;dur=1, app;dur=0.50'), 0.5);
  t.is(serverMsOf('cache;desc="x"'), undefined);
  t.is(serverMsOf(undefined), undefined);
  t.is(serverSplit([{ ms: 5, value: { address: 'a' } }]), undefined, 'no Server-Timing: nothing to split');
  // 100 answers: 99 of 4 ms (3 in the daemon), one of 40 ms of which 35 outside it.
  const answers = [...Array.from({ length: 99 }, () => ({ ms: 4, value: { serverMs: 3 } })), { ms: 40, value: { serverMs: 5 } }];
  const s = serverSplit(answers)!;
  t.deepEqual(s, { serverP50Ms: 3, serverP99Ms: 3, outsideP50Ms: 1, outsideP99Ms: 1, tailServerMs: 3, tailOutsideMs: 1 });
  const s2 = serverSplit([...answers, { ms: 41, value: { serverMs: 6 } }])!;
  t.is(s2.tailServerMs, 5, 'the slowest 1% (at or above the p99): their daemon time');
  t.is(s2.tailOutsideMs, 35);
});
