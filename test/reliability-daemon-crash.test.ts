// kill -9 one of two daemons in the middle of a 64-client run: its clients retry on the other daemon with the same
// containerID and get the address the dead daemon had committed for them (or a fresh one if it had not), never two.
import test from 'ava';
import { definePool } from '../bench/alloc/engine.js';
import { startServe } from '../src/local/serve-process.js';
import { call } from './helpers/daemon.js';
import { loadWithFaults } from './helpers/fault-run.js';
import { auditLog } from './helpers/log-audit.js';
import { podName, retryingAllocator } from './helpers/retry-client.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const COUNT = 3000;

test('kill -9 a daemon mid-batch: retries on the second daemon get the same address or a clean error; the log stays consistent', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  await definePool(endpoints, prefix, '10.82.0.0/16');
  const [a, b] = await Promise.all([startServe({ endpoints, prefix, node: 'crash-a' }), startServe({ endpoints, prefix, node: 'crash-b' })]);
  t.teardown(() => Promise.all([a!.stop(), b!.stop()]));
  const alloc = retryingAllocator(() => [a!, b!], { tag: 'C' });
  t.teardown(() => alloc.close());

  const { result, faults } = await loadWithFaults(alloc, { requesters: 64, count: COUNT, timeLimitMs: 45_000, maxErrors: 1 }, [
    { name: 'kill -9 daemon a', at: { acks: 800 }, run: async () => void a!.child.kill('SIGKILL') },
  ]);
  const f = faults[0]!;
  t.log(`${result.allocations.length} allocations in ${result.seconds} s; daemon a killed at ${f.t.toFixed(1)} s; rate before ${f.rateBefore}/s, ` +
    `back to half in ${f.recoverySeconds} s; ${alloc.stats.retries} retries (${[...alloc.stats.reasons].map(([k, v]) => `${k} ${v}`).join(', ')}), ${alloc.stats.reused} answered reused`);
  t.true(alloc.stats.retries > 0, 'clients of the killed daemon had to retry');
  t.deepEqual(result.errorMessages, [], 'every retry got an answer');
  t.is(result.allocations.length, COUNT);

  const acks = result.allocations.map((x) => ({ address: x.address, id: podName('C', x.requester, x.seq) }));
  const audit = await auditLog(endpoints, prefix, acks);
  t.is(audit.duplicateEventIds, 0, 'no event written twice');
  t.is(audit.allocatedTwice, 0, 'a retry after the crash found the committed allocation instead of taking a second address');
  t.is(audit.log.duplicates, 0, `no address held twice: ${audit.log.details.join('; ')}`);
  t.is(audit.acks.lost, 0, `every acknowledged allocation is in the log: ${audit.acks.details.join('; ')}`);
  t.is(audit.acks.extra, 0, 'every committed allocation reached its client (through a retry if need be)');

  // Allocations the dead daemon acknowledged: asking the survivor again gives the same address, marked reused.
  const early = result.allocations.slice(0, 64).filter((x) => x.requester % 2 === 0); // requester r starts on daemon r % 2
  const port = Number(new URL(b!.url).port);
  for (const x of early) {
    const pod = podName('C', x.requester, x.seq);
    const r = await call({ port, socket: b!.socket, ca: b!.ca }, 'POST', '/v1/allocations', {
      token: b!.token,
      body: { endpoint: { namespace: 'chaos', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${x.requester % 16}`, owner: { kind: 'ReplicaSet', name: 'chaos-rs' } }, pools: { ipv4: ['bench'] } },
    });
    t.is(r.status, 200, pod);
    t.is(r.json().allocations[0].address, x.address, `${pod} keeps its address`);
    t.true(r.json().reused);
  }
});
