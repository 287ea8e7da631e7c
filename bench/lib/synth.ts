// Realistic synthetic logs for replay benchmarks: pools, then dual-stack pods coming and going.
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { makeEvent, Tag, type DomainEvent, type LoggedEvent } from '../../events/index.js';
import { formatAddress } from '../../src/net/address.js';

export interface SynthOptions {
  /** Events in all (approximately; stops at the first commit boundary past it). */
  readonly events: number;
  /** Pool pairs (one IPv4 and one IPv6 pool each): 10 pairs = 20 pools. */
  readonly poolPairs: number;
  /** Live pods to keep around in steady state. */
  readonly live: number;
  /** Events per synthetic commit (like one group-committed txn). */
  readonly perCommit: number;
}

const AT0 = Date.parse('2026-01-01T00:00:00Z');

/** Events per synthetic commit in the benchmarks' logs (a group-committed txn of 30 dual-stack allocations). */
export const EVENTS_PER_COMMIT = 60;
/**
 * Events per apply in a replay: the store reads 64 records per etcd range request (src/store/reader.ts) and a
 * replay applies each page as one batch, so 64 commits of EVENTS_PER_COMMIT events.
 */
export const REPLAY_BATCH = 64 * EVENTS_PER_COMMIT;

/** Where the synthetic IPv6 allocations start in each /64: past 2^53, so offsets need their bigints. */
const V6_START = 0x9e37_79b9_7f4a_7c15n;

/** Deterministic: the same options give the same log. */
export function* synthLog(o: SynthOptions): Generator<LoggedEvent[]> {
  let seed = 12345;
  const rnd = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  let revision = 1;
  let n = 0;
  const commit = (events: DomainEvent[]): LoggedEvent[] => {
    const r = revision++;
    n += events.length;
    return events.map((event, position) => ({ event, revision: r, position }));
  };
  const at = () => new Date(AT0 + n * 10).toISOString();
  const pools: DomainEvent[] = [];
  for (let p = 0; p < o.poolPairs; p++) {
    pools.push(makeEvent('PoolDefined', { name: `v4-${p}`, spec: { ipVersion: 4, subnet: `10.${p}.0.0/16`, ips: [`10.${p}.0.1-10.${p}.255.254`], gateway: `10.${p}.0.1`, default: p === 0 } }, { id: `pool-v4-${p}`, at: at(), tags: [Tag.poolConfig(`v4-${p}`)] }));
    // Whole /64s, as dual-stack clusters define them; the addresses sit where a scan from a random start puts them.
    pools.push(makeEvent('PoolDefined', { name: `v6-${p}`, spec: { ipVersion: 6, subnet: `fd00:${p}::/64`, ips: [`fd00:${p}::1-fd00:${p}::ffff:ffff:ffff:ffff`], default: p === 0 } }, { id: `pool-v6-${p}`, at: at(), tags: [Tag.poolConfig(`v6-${p}`)] }));
  }
  yield commit(pools);
  const live: { pod: number; pair: number; v4: string; v6: string; id4: string; id6: string }[] = [];
  const next = new Array<number>(o.poolPairs).fill(2);
  let pod = 0;
  while (n < o.events) {
    const batch: DomainEvent[] = [];
    while (batch.length < o.perCommit) {
      // Grow towards `live`, then churn: release one, allocate one.
      if (live.length >= o.live || (live.length > 0 && rnd() < 0.3 && live.length > o.live * 0.9)) {
        const i = Math.floor(rnd() * live.length);
        const x = live[i]!;
        live[i] = live[live.length - 1]!;
        live.pop();
        const ep = { namespace: 'bench', name: `pod-${x.pod}`, nic: 'eth0', containerID: `ctr-${x.pod}` };
        batch.push(makeEvent('IPReleased', { allocationId: x.id4, pool: `v4-${x.pair}`, address: x.v4, reason: 'cni-del', endpoint: ep }, { id: `r4-${x.pod}`, at: at(), tags: [Tag.ip('default', x.v4)] }));
        batch.push(makeEvent('IPReleased', { allocationId: x.id6, pool: `v6-${x.pair}`, address: x.v6, reason: 'cni-del', endpoint: ep }, { id: `r6-${x.pod}`, at: at(), tags: [Tag.ip('default', x.v6)] }));
      } else {
        const pair = Math.floor(rnd() * o.poolPairs);
        const k = next[pair]!++;
        const v4 = `10.${pair}.${(k >> 8) & 255}.${k & 255}`;
        const v6 = formatAddress(6, (0xfd00n << 112n) | (BigInt(pair) << 96n) | (V6_START + BigInt(k)));
        const p = pod++;
        const endpoint = { namespace: 'bench', name: `pod-${p}`, uid: `uid-${p}`, containerID: `ctr-${p}`, node: `node-${p % 100}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: `rs-${p >> 4}` } };
        const id4 = `a4-${p}`;
        const id6 = `a6-${p}`;
        batch.push(makeEvent('IPAllocated', { allocationId: id4, pool: `v4-${pair}`, ipVersion: 4, address: v4, prefixLength: 16, endpoint, gateway: `10.${pair}.0.1` }, { id: id4, at: at(), tags: [Tag.ip('default', v4), Tag.endpoint('bench', `pod-${p}`, 'eth0')] }));
        batch.push(makeEvent('IPAllocated', { allocationId: id6, pool: `v6-${pair}`, ipVersion: 6, address: v6, prefixLength: 64, endpoint }, { id: id6, at: at(), tags: [Tag.ip('default', v6), Tag.endpoint('bench', `pod-${p}`, 'eth0')] }));
        live.push({ pod: p, pair, v4, v6, id4, id6 });
      }
    }
    yield commit(batch);
  }
}

/**
 * One IPv4 pool holding `size` allocations, then `churn` pairs (a new pod allocated, an old one released): the
 * live path's shape, a small commit onto a large pool. Flat, in order, one revision per event.
 */
export function* poolWithAllocations(size: number, churn: number): Generator<LoggedEvent> {
  let revision = 1;
  const at = new Date(AT0).toISOString();
  const logged = (event: DomainEvent): LoggedEvent => ({ event, revision: revision++, position: 0 });
  yield logged(makeEvent('PoolDefined', { name: 'big', spec: { ipVersion: 4, subnet: '10.128.0.0/9', ips: ['10.128.0.1-10.255.255.254'] } }, { id: 'pool-big', at, tags: [Tag.poolConfig('big')] }));
  const address = (k: number) => `10.${128 + ((k >> 16) & 127)}.${(k >> 8) & 255}.${k & 255}`;
  const alloc = (k: number) => {
    const endpoint = { namespace: 'bench', name: `pod-${k}`, uid: `uid-${k}`, containerID: `ctr-${k}`, node: `node-${k % 100}`, nic: 'eth0' };
    return logged(makeEvent('IPAllocated', { allocationId: `a-${k}`, pool: 'big', ipVersion: 4, address: address(k + 1), prefixLength: 9, endpoint }, { id: `a-${k}`, at, tags: [Tag.ip('default', address(k + 1))] }));
  };
  for (let k = 0; k < size; k++) yield alloc(k);
  for (let i = 0; i < churn; i++) {
    yield alloc(size + i);
    const endpoint = { namespace: 'bench', name: `pod-${i}`, nic: 'eth0', containerID: `ctr-${i}` };
    yield logged(makeEvent('IPReleased', { allocationId: `a-${i}`, pool: 'big', address: address(i + 1), reason: 'cni-del', endpoint }, { id: `r-${i}`, at, tags: [Tag.ip('default', address(i + 1))] }));
  }
}

/**
 * Writes `synthLog(o)` as JSON Lines, one synthetic commit (a JSON array of logged events) per line, as the store
 * keeps one record per commit; returns the number of events. Streamed: memory stays O(live).
 */
export async function writeSynthLog(path: string, o: SynthOptions, onProgress?: (events: number) => void): Promise<number> {
  const out = createWriteStream(path);
  let n = 0;
  let lines: string[] = [];
  const flush = async () => {
    if (lines.length > 0 && !out.write(lines.join('\n') + '\n')) await once(out, 'drain');
    lines = [];
    onProgress?.(n);
  };
  for (const c of synthLog(o)) {
    lines.push(JSON.stringify(c));
    n += c.length;
    if (lines.length >= 256) await flush();
  }
  await flush();
  out.end();
  await once(out, 'finish');
  return n;
}

/**
 * A synthetic commit's events as the allocator's appends: a pod's consecutive events of one type make one member.
 * A release of a pod allocated earlier in the same commit starts a new batch, appended once the one before has
 * committed: the allocator decides a release only on a model that holds the allocation, and two txns of one batch
 * may commit in either order.
 */
export function podStages(c: readonly LoggedEvent[]): { events: DomainEvent[] }[][] {
  const stages: { events: DomainEvent[] }[][] = [[]];
  const allocatedHere = new Set<string>();
  let last: DomainEvent | undefined;
  for (const { event: e } of c) {
    const stage = stages[stages.length - 1]!;
    const pod = (x: DomainEvent | undefined) => (x?.type === 'IPAllocated' || x?.type === 'IPReleased' ? x.data.endpoint.name : undefined);
    if (last !== undefined && last.type === e.type && pod(last) !== undefined && pod(last) === pod(e)) stage[stage.length - 1]!.events.push(e);
    else if (e.type === 'IPReleased' && allocatedHere.has(e.data.allocationId)) {
      stages.push([{ events: [e] }]);
      allocatedHere.clear();
    } else stage.push({ events: [e] });
    if (e.type === 'IPAllocated') allocatedHere.add(e.data.allocationId);
    last = e;
  }
  return stages;
}
