// `bench chaos`: 64 retrying HTTP clients allocate through two daemons on a local 3-member etcd while faults are
// injected on a timetable (kill -9 the etcd leader, restart it, kill -9 one daemon); then the log is audited.
import { randomBytes } from 'node:crypto';
import { LocalEtcd, type LocalEtcdMember } from '../src/local/etcd.js';
import { startServe } from '../src/local/serve-process.js';
import { leaderOf } from '../test/helpers/etcd-leader.js';
import { loadWithFaults, type FaultRecord } from '../test/helpers/fault-run.js';
import { auditLog } from '../test/helpers/log-audit.js';
import { podName, retryingAllocator } from '../test/helpers/retry-client.js';
import { definePool } from './alloc/engine.js';
import { round } from './lib/stats.js';

export interface ChaosOptions {
  readonly clients: number;
  /** Length of the run, s; faults at 20%, 45% and 65% of it. */
  readonly seconds: number;
  readonly poolCidr: string;
}

/** Allocations/s between two times (s), from the run's cumulative timeline. */
function rateBetween(timeline: readonly { t: number; done: number }[], from: number, to: number): number {
  const at = (t: number) => timeline.filter((s) => s.t <= t).at(-1)?.done ?? 0;
  return to > from ? round((at(to) - at(from)) / (to - from), 1) : 0;
}

export async function runChaos(o: ChaosOptions) {
  const etcd = await LocalEtcd.start({ members: 3 });
  const prefix = `/bench-chaos-${randomBytes(4).toString('hex')}/`;
  const daemons: Awaited<ReturnType<typeof startServe>>[] = [];
  try {
    await definePool(etcd.endpoints, prefix, o.poolCidr);
    daemons.push(...(await Promise.all([0, 1].map((i) => startServe({ endpoints: etcd.endpoints, prefix, node: `chaos-${i}` })))));
    const alloc = retryingAllocator(() => daemons.filter((d) => d.child.exitCode === null && d.child.signalCode === null), { tag: 'X', giveUpMs: 60_000 });
    let leader: LocalEtcdMember | undefined;
    const s = o.seconds;
    const { result, faults } = await loadWithFaults(alloc, { requesters: o.clients, count: 10_000_000, timeLimitMs: s * 1000, graceMs: 60_000, maxErrors: 1000 }, [
      { name: 'kill -9 etcd leader', at: { seconds: s * 0.2 }, run: async () => void (await (leader = await leaderOf(etcd)).stop('SIGKILL')) },
      { name: 'restart that member', at: { seconds: s * 0.45 }, run: async () => void leader!.start() },
      { name: 'kill -9 daemon chaos-0', at: { seconds: s * 0.65 }, run: async () => void daemons[0]!.child.kill('SIGKILL') },
    ]);
    await alloc.close();
    await etcd.waitHealthy();
    const acks = result.allocations.map((a) => ({ address: a.address, id: podName('X', a.requester, a.seq) }));
    const audit = await auditLog(etcd.endpoints, prefix, acks);
    const [f1, , f3] = faults as [FaultRecord, FaultRecord, FaultRecord];
    return {
      scenario: 'chaos',
      clients: o.clients,
      seconds: result.seconds,
      allocations: result.allocations.length,
      ratesPerSec: {
        before: rateBetween(result.timeline, 1, f1.t),
        etcdFault: rateBetween(result.timeline, f1.t, f3.t),
        daemonFault: rateBetween(result.timeline, f3.t, Math.min(f3.t + 3, result.seconds)),
        after: rateBetween(result.timeline, f3.t + 3, result.seconds),
      },
      faults,
      retries: alloc.stats.retries,
      retryReasons: Object.fromEntries(alloc.stats.reasons),
      reusedAnswers: alloc.stats.reused,
      errors: result.errors,
      errorMessages: result.errorMessages,
      invariants: {
        events: audit.events,
        duplicateEventIds: audit.duplicateEventIds,
        endpointsAllocatedTwice: audit.allocatedTwice,
        addressesHeldTwice: audit.log.duplicates,
        badReleases: audit.log.badReleases,
        lostAcks: audit.acks.lost,
        unacknowledged: audit.acks.extra,
        details: [...audit.log.details, ...audit.acks.details].slice(0, 10),
      },
    };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await etcd.stop();
  }
}
