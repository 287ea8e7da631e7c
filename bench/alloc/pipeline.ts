// `bench pipeline`: the engine's CPU-bound steps of one allocation, in-process and without etcd, in CPU µs each:
// decide (decideAllocate on the model), member (makeMemberShape: the record encoding), plan (planTxn packing 119-member
// txns under the block layout) and apply (the model applying the committed event). About a third of `bench alloc`'s
// node CPU per allocation; no network, so two builds compare within a few percent where `bench alloc` swings by 20%.
import { makeEvent } from '../../events/catalogue.js';
import { decideAllocate, type DecideContext } from '../../src/alloc/decide-alloc.js';
import { AllocatorModel } from '../../src/alloc/model.js';
import type { Offset } from '../../src/net/free-space.js';
import { makeMemberShape, type Member } from '../../src/store/member.js';
import { BLOCK_LAYOUT } from '../../src/store/tag-layout.js';
import { DEFAULT_LIMITS, planTxn, type GuardView } from '../../src/store/txn-plan.js';
import { seededRandom } from '../lib/open-loop.js';
import { median, round } from '../lib/stats.js';

export interface PipelineOptions {
  /** Allocations per round (into one model: its indexes grow as `bench alloc`'s do). */
  readonly count: number;
  readonly rounds: number;
}

export interface PipelineSteps {
  decide: number;
  member: number;
  plan: number;
  apply: number;
  total: number;
}

const AT = '2026-01-01T00:00:00Z';
/** Members per decided batch: the engine's full txn under `bench alloc` (batch mean 116.3, max 119). */
const BATCH = 119;
const WARMUP_BATCHES = 20;

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** One round: a fresh model and pool (the bench's 10.64.0.0/14), `count` allocations; CPU µs per allocation per step. */
function round1(count: number, seed: number): PipelineSteps {
  const m = new AllocatorModel();
  m.apply(makeEvent('PoolDefined', { name: 'bench', spec: { ipVersion: 4, subnet: '10.64.0.0/14', ips: ['10.64.0.1-10.67.255.254'] } }, { id: '000000000001-bench-0', at: AT, tags: ['pool:bench'] }), 1);
  if (m.problems.length > 0) throw new Error(m.problems.join('; '));
  const rng = seededRandom(seed);
  // Offsets picked and not yet applied (the engine's claims): a batch never picks one address twice.
  const claims = new Set<Offset>();
  let idSeq = 0;
  const ctx: DecideContext = {
    at: AT,
    // EventStore.newId's shape: the revision hint, a writer, a counter, the label.
    newId: (label = '') => `${m.revision.toString(16).padStart(12, '0')}-w1234567-${(idSeq++).toString(36)}${label ? `-${label}` : ''}`,
    pick: (pool) => {
      const o = pool.free.pick(rng, (x) => claims.has(x));
      if (o >= 0) claims.add(o);
      return o;
    },
  };
  const guards: GuardView = { layout: BLOCK_LAYOUT, busy: () => false, bound: (_k, _t, after) => after, extraCompares: 0 };
  const spent = { decide: 0, member: 0, plan: 0, apply: 0 };
  let revision = 2;
  let n = 0;
  const batch = (): void => {
    const t0 = cpuMicros();
    const decisions = [];
    for (let k = 0; k < BATCH; k++, n++) {
      // The bench's requests (bench/alloc/engine.ts allocateAs).
      const pod = `p0-r${n % 256}-${n}`;
      const endpoint = { namespace: 'bench', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${n % 50}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'bench-rs' } };
      decisions.push(decideAllocate(m, { endpoint, pools: { ipv4: ['bench'] }, at: AT }, ctx));
    }
    const t1 = cpuMicros();
    const queue: Member[] = decisions.map((d) => {
      const condition = { tags: d.conditionTags, after: m.revision };
      const shape = makeMemberShape(d.events, condition, m.revision, 2);
      return { events: d.events, condition, ...shape, priorAttempts: [], deadline: 0, mayExist: false, checked: true, keys: undefined, resolve: () => undefined, reject: () => undefined };
    });
    const t2 = cpuMicros();
    const plans = [];
    while (queue.length > 0) plans.push(planTxn(queue, DEFAULT_LIMITS, guards));
    const t3 = cpuMicros();
    for (const p of plans) {
      const rev = revision++;
      for (const member of p.members) for (const e of member.events) m.apply(e as Parameters<AllocatorModel['apply']>[0], rev);
    }
    claims.clear();
    const t4 = cpuMicros();
    spent.decide += t1 - t0;
    spent.member += t2 - t1;
    spent.plan += t3 - t2;
    spent.apply += t4 - t3;
  };
  for (let w = 0; w < WARMUP_BATCHES; w++) batch();
  spent.decide = spent.member = spent.plan = spent.apply = 0;
  const start = n;
  while (n - start < count) batch();
  const done = n - start;
  // Every allocation distinct and live: the steps did the engine's work, not less.
  if (m.byId.size !== n) throw new Error(`${m.byId.size} live allocations after ${n} decided`);
  const per = (us: number) => us / done;
  const s = { decide: per(spent.decide), member: per(spent.member), plan: per(spent.plan), apply: per(spent.apply) };
  return { ...s, total: s.decide + s.member + s.plan + s.apply };
}

export function runPipelineBench(o: PipelineOptions): { rounds: PipelineSteps[]; median: PipelineSteps } {
  const rounds = Array.from({ length: o.rounds }, (_, r) => round1(o.count, r + 1));
  const med = (k: keyof PipelineSteps) => round(median(rounds.map((x) => x[k])), 2);
  return { rounds, median: { decide: med('decide'), member: med('member'), plan: med('plan'), apply: med('apply'), total: med('total') } };
}
