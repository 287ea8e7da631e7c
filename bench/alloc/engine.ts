import type { PoolOrder } from '../../events/catalogue.js';
// The allocator under test, behind the benchmark's Allocator interface: one store, one allocator, one pool.
import { Allocator as Engine } from '../../src/alloc/allocator.js';
import { isAllocError } from '../../src/alloc/errors.js';
import { formatAddress, parseCidr } from '../../src/net/address.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';
import { defaultTagLayout } from '../../src/store/tag-layout.js';
import { podRef, type AllocOutcome, type Allocator } from './types.js';

export const BENCH_POOL = 'bench';
const AT = '2026-01-01T00:00:00Z';

export interface EngineAllocator extends Allocator {
  readonly engine: Engine;
  readonly store: EventStore;
}

/** Opens the engine on `prefix`; the pool must already be defined (see definePool). */
export async function openEngine(endpoints: string[], prefix: string, tag = 'p0'): Promise<EngineAllocator> {
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const store = new EventStore(client, {
    prefix,
    // The daemon's layout (one guard key per 32 addresses); IPAM_TAG_LAYOUT=address measures the per-address keys.
    tagLayout: defaultTagLayout('block'),
    ...(process.env.IPAM_MAX_INFLIGHT ? { maxInflight: Number(process.env.IPAM_MAX_INFLIGHT) } : {}),
    ...(process.env.IPAM_LIGHT_EXTRA_INFLIGHT ? { lightLoadExtraInflight: Number(process.env.IPAM_LIGHT_EXTRA_INFLIGHT) } : {}),
    // IPAM_PARTIAL_INFLIGHT=3 (= maxInflight): the rule before the full-txn one (every freed slot refilled at once).
    ...(process.env.IPAM_PARTIAL_INFLIGHT ? { partialBelowInflight: Number(process.env.IPAM_PARTIAL_INFLIGHT) } : {}),
    ...(process.env.IPAM_SEND_IDLE_AT_ONCE ? { sendIdleAtOnce: process.env.IPAM_SEND_IDLE_AT_ONCE !== '0' } : {}),
  });
  await store.open();
  const engine = new Engine(store, { maxAttempts: 64 });
  await engine.start();
  const pools = poolsOf(engine);
  return {
    engine,
    store,
    allocate: (requester, seq) => allocateAs(engine, pools, `${tag}-${podRef(requester, seq)}`, requester),
    async close() {
      await engine.stop();
      await store.close();
      client.close();
    },
  };
}

/** The same engine under another pod-name tag (warm-up allocations stay apart from measured ones). */
export async function openEngineAlias(a: EngineAllocator, tag = 'warm'): Promise<Allocator> {
  const pools = poolsOf(a.engine);
  return { allocate: (r, s) => allocateAs(a.engine, pools, `${tag}-${podRef(r, s)}`, r), close: async () => undefined };
}

type Pools = { ipv4: string[] } | { ipv6: string[] };

/** The bench pool, under its family (definePool made it before the engine opened). */
function poolsOf(engine: Engine): Pools {
  return engine.model.pools.get(BENCH_POOL)?.compiled.ipVersion === 6 ? { ipv6: [BENCH_POOL] } : { ipv4: [BENCH_POOL] };
}

async function allocateAs(engine: Engine, pools: Pools, pod: string, requester: number): Promise<AllocOutcome | 'exhausted'> {
  try {
    const r = await engine.allocate({
      endpoint: { namespace: 'bench', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${requester % 50}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'bench-rs' } },
      pools,
      at: AT,
    });
    return { address: r.allocations[0]!.address, conflicts: 0 };
  } catch (e) {
    if (isAllocError(e) && e.code === 'PoolExhausted') return 'exhausted';
    throw e;
  }
}

/** The whole CIDR, of either family, as the bench pool; `order`: its spec.order (absent: 'scattered'). Returns its usable addresses. */
export async function definePool(endpoints: string[], prefix: string, cidr: string, order?: PoolOrder): Promise<number> {
  const a = await openEngine(endpoints, prefix);
  try {
    const c = parseCidr(cidr, '--pool');
    const spec = { ipVersion: c.family, subnet: c.text, ips: [`${formatAddress(c.family, c.first)}-${formatAddress(c.family, c.last)}`], ...(order ? { order } : {}) };
    await a.engine.definePool(BENCH_POOL, spec, { at: AT });
    return Number(a.engine.model.pools.get(BENCH_POOL)!.offsets.total);
  } finally {
    await a.close();
  }
}

