// A 3-member etcd cluster loses its leader (kill -9) in the middle of a 64-client allocation run through a daemon.
// Clients retry retryable errors with the same containerID. Afterwards: allocation went on after the election, no
// address is held twice, every acknowledged allocation is in the log, no event was written twice.
import test from 'ava';
import { definePool } from '../bench/alloc/engine.js';
import { startServe } from '../src/local/serve-process.js';
import { LocalEtcd, type LocalEtcdMember } from '../src/local/etcd.js';
import { leaderOf } from './helpers/etcd-leader.js';
import { loadWithFaults } from './helpers/fault-run.js';
import { auditLog } from './helpers/log-audit.js';
import { podName, retryingAllocator } from './helpers/retry-client.js';
import { freshPrefix } from './helpers/store.js';

const COUNT = 3000;
const KILL_AT = 800;

test('kill -9 the etcd leader mid-run: allocation resumes after the election; nothing lost, nothing held or written twice', async (t) => {
  const etcd = await LocalEtcd.start({ members: 3 });
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  await definePool(etcd.endpoints, prefix, '10.80.0.0/16');
  const daemon = await startServe({ endpoints: etcd.endpoints, prefix, node: 'chaos-0' });
  t.teardown(() => daemon.stop());
  const alloc = retryingAllocator(() => [daemon], { tag: 'L' });
  t.teardown(() => alloc.close());

  let killed: LocalEtcdMember | undefined;
  const { result, faults } = await loadWithFaults(alloc, { requesters: 64, count: COUNT, timeLimitMs: 45_000, maxErrors: 1 }, [
    {
      name: 'kill -9 leader',
      at: { acks: KILL_AT },
      run: async () => {
        killed = await leaderOf(etcd);
        await killed.stop('SIGKILL');
      },
    },
  ]);
  const f = faults[0]!;
  t.log(`${result.allocations.length} allocations in ${result.seconds} s; leader ${killed?.spec.name} killed at ${f.t.toFixed(1)} s; ` +
    `rate before ${f.rateBefore}/s, back to half in ${f.recoverySeconds} s; ${alloc.stats.retries} retries (${[...alloc.stats.reasons].map(([k, v]) => `${k} ${v}`).join(', ')}), ${alloc.stats.reused} answered reused`);
  t.deepEqual(result.errorMessages, [], 'no allocation gave up');
  t.is(result.stoppedBy, 'count');
  t.is(result.allocations.length, COUNT, 'allocation went on after the election');
  t.not(f.recoverySeconds, null, 'throughput came back');
  const leader = await leaderOf(etcd);
  t.not(leader, killed, 'a new leader was elected');

  const acks = result.allocations.map((a) => ({ address: a.address, id: podName('L', a.requester, a.seq) }));
  const audit = await auditLog(etcd.members.filter((m) => m.running).map((m) => m.endpoint), prefix, acks);
  t.is(audit.duplicateEventIds, 0, 'no event written twice');
  t.is(audit.allocatedTwice, 0, 'no endpoint allocated twice (retries found their first allocation)');
  t.is(audit.log.duplicates, 0, `no address held twice: ${audit.log.details.join('; ')}`);
  t.is(audit.acks.duplicates, 0);
  t.is(audit.acks.lost, 0, `every acknowledged allocation is in the log: ${audit.acks.details.join('; ')}`);
  t.is(audit.acks.extra, 0, 'and nothing else was allocated');
});
