// The bounds a benchmark's own figures set on its rate (bench/lib/proc-cpu.ts rateOnCores, bench alloc's
// roundBounds/medianBounds): arithmetic only, no timing asserted.
import test from 'ava';
import { cpuSecondsOfAll, rateOnCores } from '../bench/lib/proc-cpu.js';
import { medianBounds, roundBounds } from '../bench/alloc/scenario.js';

test('the rate on N cores is units x cores over the CPU-seconds they took', (t) => {
  t.is(rateOnCores(1_000_000, 10, 2), 200_000);
  t.is(rateOnCores(1_000_000, 10, 4), 400_000);
  t.is(rateOnCores(5, 0, 2), Infinity, 'no CPU measured: unbounded, not a division error');
});

test("alloc's bounds: the thread busy all the time, and the cores doing only node + etcd's CPU per allocation", (t) => {
  // 10,000/s with the thread 80% busy: 12,500/s busy all the time; 50 + 50 µs an allocation on 2 cores: 20,000/s.
  const b = roundBounds(10_000, 40_000, { node: 50, etcd: 50 }, 0.8, 2);
  t.deepEqual(b, { mainThreadBusy: 0.8, busyThreadRatio: 0.313, cores: 2, coresRatio: 0.5 });
  // Worker processes (no thread figure) and an etcd given by endpoints (no etcd CPU): those bounds are unknown.
  t.deepEqual(roundBounds(10_000, 40_000, { node: 50, etcd: undefined }, undefined, 2), { mainThreadBusy: undefined, busyThreadRatio: undefined, cores: 2, coresRatio: undefined });
  const m = medianBounds([b, roundBounds(12_000, 40_000, { node: 40, etcd: 40 }, 0.9, 2), roundBounds(8_000, 40_000, { node: 60, etcd: 40 }, 0.7, 2)]);
  t.deepEqual(m, { mainThreadBusy: 0.8, busyThreadRatio: 0.313, cores: 2, coresRatio: 0.5 });
  t.is(medianBounds([b, roundBounds(1, 1, { node: 1, etcd: 1 }, undefined, 2)]).busyThreadRatio, undefined, 'a round without the figure: no median');
});

test('the CPU of several processes is their sum, and unknown when any cannot be read', (t) => {
  t.true((cpuSecondsOfAll([process.pid, process.pid]) ?? -1) >= 0);
  t.is(cpuSecondsOfAll([]), undefined);
  t.is(cpuSecondsOfAll([process.pid, 2 ** 22 + 12345]), undefined, 'a pid with no /proc entry');
});
