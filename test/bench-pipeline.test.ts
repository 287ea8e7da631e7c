// `bench pipeline` on a small count: every step is timed (positive CPU), the total is their sum, and the figures are
// the medians of the rounds. (Its own check, that every decided allocation is live in the model, throws otherwise.)
import test from 'ava';
import { runPipelineBench } from '../bench/alloc/pipeline.js';

test('small run: each step costs CPU, the total is the steps, the medians are the rounds\'', (t) => {
  const r = runPipelineBench({ count: 3_000, rounds: 3 });
  t.is(r.rounds.length, 3);
  for (const x of r.rounds) {
    // cpuUsage ticks may round one small step to 0 over a short round; the whole is never free.
    t.true(x.decide >= 0 && x.member >= 0 && x.plan >= 0 && x.apply >= 0 && x.total > 0);
    t.true(Math.abs(x.total - (x.decide + x.member + x.plan + x.apply)) < 1e-9);
  }
  const mid = (k: 'decide' | 'total') => Math.round(r.rounds.map((x) => x[k]).sort((a, b) => a - b)[1]! * 100) / 100;
  t.is(r.median.decide, mid('decide'));
  t.is(r.median.total, mid('total'));
});
