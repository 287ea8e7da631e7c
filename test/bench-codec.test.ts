// `bench codec` on a small synthetic log: it reads back every event it wrote in both formats (it refuses to time a
// decoder whose events differ), and its figures are the ones it names.
import test from 'ava';
import { runCodecBench } from '../bench/codec.js';

test('small log: every event written is measured in both formats, format 2 is the smaller, figures are medians of positive times', (t) => {
  const r = runCodecBench({ events: 3_000, live: 300, rounds: 3 });
  t.is(r.scenario, 'codec');
  t.true(r.events >= 3_000 && r.records > 0);
  t.true(r.bytesPerEvent.format2 > 0 && r.bytesPerEvent.format2 < r.bytesPerEvent.format1);
  t.is(r.rounds.length, 3);
  for (const x of r.rounds) {
    t.true(x.format2.encodeNs > 0 && x.format2.decodeNs > 0 && x.format2.scanNs > 0);
    t.true(x.format1.encodeNs > 0 && x.format1.decodeNs > 0);
  }
  const mid = (xs: number[]) => xs.sort((a, b) => a - b)[1]!;
  t.is(r.format2.decodeNsPerEvent, mid(r.rounds.map((x) => x.format2.decodeNs)));
  t.is(r.format1.encodeNsPerEvent, mid(r.rounds.map((x) => x.format1.encodeNs)));
});
