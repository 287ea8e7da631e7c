import type { PoolOrder } from '../../events/catalogue.js';
// The allocator under test, behind the benchmark's Allocator interface: one store, one allocator, one pool.
import { Allocator as Engine } from '../../src/alloc/allocator.js';
import { isAllocError } from '../../src/alloc/errors.js';
import { formatAddress, parseCidr } from '../../src/net/address.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';
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
  const store = new EventStore(client, { prefix, ...(process.env.IPAM_MAX_INFLIGHT ? { maxInflight: Number(process.env.IPAM_MAX_INFLIGHT) } : {}) });
  await store.open();
  const engine = new Engine(store, { maxAttempts: 64 });
  await engine.start();
  return {
    engine,
    store,
    allocate: (requester, seq) => allocateAs(engine, `${tag}-${podRef(requester, seq)}`, requester),
    async close() {
      await engine.stop();
      await store.close();
      client.close();
    },
  };
}

/** The same engine under another pod-name tag (warm-up allocations stay apart from measured ones). */
export async function openEngineAlias(a: EngineAllocator, tag = 'warm'): Promise<Allocator> {
  return { allocate: (r, s) => allocateAs(a.engine, `${tag}-${podRef(r, s)}`, r), close: async () => undefined };
}

async function allocateAs(engine: Engine, pod: string, requester: number): Promise<AllocOutcome | 'exhausted'> {
  try {
    const r = await engine.allocate({
      endpoint: { namespace: 'bench', name: pod, uid: `uid-${pod}`, containerID: `ctr-${pod}`, node: `node-${requester % 50}`, nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'bench-rs' } },
      pools: { ipv4: [BENCH_POOL] },
      at: AT,
    });
    return { address: r.allocations[0]!.address, conflicts: 0 };
  } catch (e) {
    if (isAllocError(e) && e.code === 'PoolExhausted') return 'exhausted';
    throw e;
  }
}

/** `order`: the pool's spec.order (absent: the engine's default, 'scattered'). */
export async function definePool(endpoints: string[], prefix: string, cidr: string, order?: PoolOrder): Promise<number> {
  const a = await openEngine(endpoints, prefix);
  try {
    const c = parseCidr(cidr, '--pool', 4);
    const spec = { ipVersion: 4, subnet: c.text, ips: [`${formatAddress(4, c.first)}-${formatAddress(4, c.last)}`], ...(order ? { order } : {}) };
    await a.engine.definePool(BENCH_POOL, spec, { at: AT });
    return a.engine.model.pools.get(BENCH_POOL)!.offsets.size;
  } finally {
    await a.close();
  }
}

