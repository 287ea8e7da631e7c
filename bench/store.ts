// `bench store`: batched conditional appends through the event store next to raw etcd puts of the same events in
// full transactions, on the same etcd in the same run. Figures are medians over rounds; the ratio is the point.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { makeEvent, Tag, type DomainEvent } from '../events/index.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { median, round } from './lib/stats.js';
import { progress } from './lib/progress.js';

export interface StoreBenchOptions {
  readonly endpoints: string[];
  readonly events: number;
  readonly rounds: number;
  readonly requesters: number;
  readonly rawConcurrency: number;
  readonly maxInflight: number;
  readonly maxOps: number;
  /** single-tag: one tag per event, checked and written; allocation: IPAllocated's ip+ep checked, ip/ep/pool written. */
  readonly shape: 'single-tag' | 'allocation';
}

/** A realistic allocation event (endpoint, owner, pool) for address i. */
export function benchEvent(id: string, i: number, shape: StoreBenchOptions['shape'] = 'allocation'): DomainEvent {
  const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  const pod = `deploy-${i >> 4}-7d9f8b6c5d-${(i & 15).toString(36)}x${i.toString(36)}`;
  return makeEvent(
    'IPAllocated',
    {
      allocationId: id,
      pool: 'bench-pool',
      ipVersion: 4,
      address,
      prefixLength: 8,
      endpoint: { namespace: 'bench', name: pod, uid: `0b4c${i.toString(16).padStart(8, '0')}-1f2e-4c3b-9a8d-7e6f5a4b3c2d`, containerID: randomBytes(32).toString('hex'), node: `node-${i % 50}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: `deploy-${i >> 4}-7d9f8b6c5d` } },
      gateway: '10.0.0.1',
    },
    { id, at: new Date(0).toISOString(), tags: shape === 'allocation' ? [Tag.ip('default', address), Tag.endpoint('bench', pod, 'eth0'), Tag.pool('bench-pool')] : [Tag.ip('default', address)] },
  );
}

async function rawRound(client: Etcd3, prefix: string, events: readonly DomainEvent[], opts: StoreBenchOptions): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  // Like the store, start from event objects: serialising them is part of writing them.
  await Promise.all(
    Array.from({ length: opts.rawConcurrency }, async () => {
      while (next < events.length) {
        const chunk = events.slice(next, next + opts.maxOps);
        next += chunk.length;
        const ops = chunk.map((e) => ({ request_put: { key: Buffer.from(`${prefix}raw/${e.id}`), value: Buffer.from(JSON.stringify(e)) } }));
        const res = await client.kv.txn({ success: ops });
        if (!res.succeeded) throw new Error('raw txn failed');
      }
    }),
  );
  return events.length / ((performance.now() - t0) / 1000);
}

async function storeRound(client: Etcd3, prefix: string, opts: StoreBenchOptions): Promise<{ eventsPerSec: number; txns: number; conflicts: number }> {
  const store = new EventStore(client, { prefix, maxInflight: opts.maxInflight, limits: { maxOps: opts.maxOps } });
  const r0 = await store.open();
  const events = Array.from({ length: opts.events }, (_, i) => benchEvent(store.newId(), i, opts.shape));
  const condition = (e: DomainEvent) => (opts.shape === 'allocation' ? { tags: [e.tags[0]!, e.tags[1]!, Tag.poolConfig('bench-pool')], after: r0 } : { tags: [e.tags[0]!], after: r0 });
  let next = 0;
  const bar = progress(`store (${opts.shape})`, opts.events);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: opts.requesters }, async () => {
      while (next < events.length) {
        const e = events[next++]!;
        await store.append([e], condition(e));
        if ((next & 1023) === 0) bar.update(next);
      }
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  bar.stop();
  await store.close();
  return { eventsPerSec: opts.events / secs, txns: store.stats.txns, conflicts: store.stats.conflicts };
}

export async function runStoreBench(opts: StoreBenchOptions) {
  const client = openEtcd({ endpoints: opts.endpoints, callTimeoutMs: 30_000 });
  const raw: number[] = [];
  const appended: number[] = [];
  const rounds = [];
  for (let r = 0; r < opts.rounds; r++) {
    const prefix = `/bench-store-${randomBytes(4).toString('hex')}/`;
    const sample = Array.from({ length: opts.events }, (_, i) => benchEvent(`raw-${r}-${i}`, i, opts.shape));
    const rawRate = await rawRound(client, prefix, sample, opts);
    const st = await storeRound(client, prefix, opts);
    raw.push(rawRate);
    appended.push(st.eventsPerSec);
    rounds.push({ rawKeysPerSec: round(rawRate), appendedEventsPerSec: round(st.eventsPerSec), txns: st.txns, conflicts: st.conflicts });
    // Keep rounds comparable: drop this round's keys and etcd's history of them.
    await client.delete().prefix(prefix);
    const rev = Number((await client.kv.range({ key: Buffer.from(prefix), count_only: true })).header.revision);
    await client.kv.compact({ revision: rev, physical: true });
  }
  client.close();
  const rawMedian = median(raw);
  const appendedMedian = median(appended);
  return {
    scenario: 'store',
    shape: opts.shape,
    events: opts.events,
    rounds,
    appendedEventsPerSec: round(appendedMedian),
    baselines: { etcdCeiling: { keysPerSec: round(rawMedian), txnOps: opts.maxOps, concurrency: opts.rawConcurrency } },
    // Paired: each round's store figure over the raw figure measured beside it, then the median of those.
    ratioToRaw: round(median(rounds.map((x) => x.appendedEventsPerSec / x.rawKeysPerSec)), 3),
  };
}
