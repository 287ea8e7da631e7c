// `bench churn` on a tiny workload against the suite's etcd: every phase completes, the log holds no address twice,
// and nothing is held after the delete phase.
import test from 'ava';
import { CHURN_PHASES, runChurn } from '../bench/churn.js';
import { checkAllocationLog as checkLogEvents } from '../src/alloc/log-check.js';
import type { LoggedEvent } from '../events/catalogue.js';
import { sharedEtcd } from './helpers/store.js';

test('tiny churn: 5x4 and 1x20, ipv4 and dual: all operations complete, no duplicates, nothing left', async (t) => {
  const { endpoints } = await sharedEtcd();
  const r = await runChurn({
    endpoints,
    concurrency: 8,
    progress: false,
    workloads: [
      { name: '5x4', deployments: 5, replicas: 4 },
      { name: '1x20', deployments: 1, replicas: 20 },
    ],
  });
  t.is(r.scenario, 'churn');
  t.deepEqual(
    r.results.map((c) => `${c.workload}/${c.family}`),
    ['5x4/ipv4', '5x4/dual', '1x20/ipv4', '1x20/dual'],
  );
  for (const c of r.results) {
    t.is(c.pods, 20);
    for (const ph of CHURN_PHASES) {
      const x = c.phases[ph];
      t.is(x.errors, 0, `${c.workload} ${c.family} ${ph}: ${x.firstError ?? ''}`);
      t.is(x.completed, 20, `${c.workload} ${c.family} ${ph}`);
      t.is(x.operations, 20);
      t.true(x.seconds > 0 && x.opsPerSec > 0);
      t.true(x.latencyMs.p99 >= x.latencyMs.p50);
    }
    t.is(c.phases.recreate.cniCalls, 40);
    t.deepEqual(
      { duplicates: c.invariants.duplicates, leftovers: c.invariants.leftovers, badReleases: c.invariants.badReleases, leftoversInLog: c.invariants.leftoversInLog },
      { duplicates: 0, leftovers: 0, badReleases: 0, leftoversInLog: 0 },
      c.invariants.details.join('; '),
    );
  }
});

test('the log check counts an address given while held, and a release of what is not live', (t) => {
  const ep = (name: string) => ({ namespace: 'n', name, uid: `u-${name}`, containerID: `c-${name}`, node: 'x', nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'rs' } });
  const alloc = (id: string, address: string, pod: string) => ({ revision: 0, event: { type: 'IPAllocated', data: { allocationId: id, pool: 'p', ipVersion: 4, address, prefixLength: 24, endpoint: ep(pod) } } }) as unknown as LoggedEvent;
  const rel = (id: string, address: string, pod: string) => ({ revision: 0, event: { type: 'IPReleased', data: { allocationId: id, pool: 'p', address, reason: 'cni-del', endpoint: ep(pod) } } }) as unknown as LoggedEvent;
  const ok = checkLogEvents([alloc('a', '10.0.0.1', 'x'), rel('a', '10.0.0.1', 'x'), alloc('b', '10.0.0.1', 'y'), rel('b', '10.0.0.1', 'y')]);
  t.deepEqual({ d: ok.duplicates, b: ok.badReleases, l: ok.live }, { d: 0, b: 0, l: 0 });
  const bad = checkLogEvents([alloc('a', '10.0.0.1', 'x'), alloc('b', '10.0.0.1', 'y'), rel('c', '10.0.0.2', 'z')]);
  t.is(bad.duplicates, 1);
  t.is(bad.badReleases, 1);
});
