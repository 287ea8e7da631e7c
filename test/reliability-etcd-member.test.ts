// A 3-member etcd cluster has its leader stopped (SIGTERM) and restarted in the middle of a 64-client allocation run
// through a daemon. Afterwards: the member is back and caught up, nothing lost, nothing held or written twice.
import test from 'ava';
import { definePool } from '../bench/alloc/engine.js';
import { startServe } from '../src/local/serve-process.js';
import { LocalEtcd, type LocalEtcdMember } from '../src/local/etcd.js';
import { sleep } from '../src/local/ports.js';
import { leaderOf } from './helpers/etcd-leader.js';
import { loadWithFaults } from './helpers/fault-run.js';
import { auditLog } from './helpers/log-audit.js';
import { podName, retryingAllocator } from './helpers/retry-client.js';
import { freshPrefix } from './helpers/store.js';

const COUNT = 3000;

test('stop the etcd leader and restart it mid-run: allocation goes on; the member catches up; nothing lost or twice', async (t) => {
  const etcd = await LocalEtcd.start({ members: 3 });
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  await definePool(etcd.endpoints, prefix, '10.81.0.0/16');
  const daemon = await startServe({ endpoints: etcd.endpoints, prefix, node: 'chaos-0' });
  t.teardown(() => daemon.stop());
  const alloc = retryingAllocator(() => [daemon], { tag: 'M' });
  t.teardown(() => alloc.close());

  let member: LocalEtcdMember | undefined;
  const { result, faults } = await loadWithFaults(alloc, { requesters: 64, count: COUNT, timeLimitMs: 45_000, maxErrors: 1 }, [
    {
      name: 'stop the leader, restart it 2 s later',
      at: { acks: 600 },
      run: async () => {
        member = await leaderOf(etcd);
        await member.stop('SIGTERM');
        await sleep(2000);
        member.start();
      },
    },
  ]);
  const f = faults[0]!;
  t.log(`${result.allocations.length} allocations in ${result.seconds} s; ${member?.spec.name} stopped at ${f.t.toFixed(1)} s, restarted at ${f.tDone.toFixed(1)} s; ` +
    `rate before ${f.rateBefore}/s, back to half in ${f.recoverySeconds} s; ${alloc.stats.retries} retries (${[...alloc.stats.reasons].map(([k, v]) => `${k} ${v}`).join(', ')})`);
  t.deepEqual(result.errorMessages, [], 'no allocation gave up');
  t.is(result.allocations.length, COUNT);
  await etcd.waitHealthy();

  const acks = result.allocations.map((a) => ({ address: a.address, id: podName('M', a.requester, a.seq) }));
  const audit = await auditLog(etcd.endpoints, prefix, acks);
  t.is(audit.duplicateEventIds, 0, 'no event written twice');
  t.is(audit.allocatedTwice, 0, 'no endpoint allocated twice');
  t.is(audit.log.duplicates, 0, `no address held twice: ${audit.log.details.join('; ')}`);
  t.is(audit.acks.lost, 0, `every acknowledged allocation is in the log: ${audit.acks.details.join('; ')}`);
  t.is(audit.acks.extra, 0);
  // The restarted member serves the same log (it caught up through raft).
  const fromMember = await auditLog([member!.endpoint], prefix, acks);
  t.is(fromMember.events, audit.events, 'the restarted member holds every event');
});
