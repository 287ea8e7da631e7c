// `bench replay --from etcd` on a small log: every event written is read back by each round, in both record formats,
// and both give the same live endpoints (the synthetic log's own count).
import test from 'ava';
import { runReplayFromEtcd } from '../bench/replay.js';
import { sharedEtcd } from './helpers/store.js';

test('replay --from etcd reads the whole log back in format 2 and format 1 and ends with the same live endpoints', async (t) => {
  const { endpoints } = await sharedEtcd();
  const r = await runReplayFromEtcd({ events: 3000, live: 300, batch: 3840, rounds: 2, endpoints, compareFormat: 1 });
  t.is(r.from, 'etcd');
  t.true(r.events >= 3000);
  t.is(r.liveEndpoints, 300);
  t.true(r.eventsPerSecWithDecode > 0 && r.eventsPerSec >= r.eventsPerSecWithDecode && r.eventsPerCpuSecond > 0);
  t.is(r.baseline?.recordFormat, 1);
  t.is(r.baseline?.rounds.length, 2);
  t.true(r.peakRssMB > 0 && r.heldMB >= 0);
  t.is(r.peakRssRoundsMB.length, 2);
  t.true(r.peakRssMedianMB <= r.peakRssMB && r.peakRssMedianMB >= Math.min(...r.peakRssRoundsMB));
});
