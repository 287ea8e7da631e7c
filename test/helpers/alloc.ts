// Allocator fixtures: an allocator on a real etcd with a fresh prefix, and request builders.
import type { Endpoint } from '../../events/catalogue.js';
import { Allocator } from '../../src/alloc/allocator.js';
import { AllocatorModel } from '../../src/alloc/model.js';
import type { AllocateRequest } from '../../src/alloc/types.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore, type EventStoreOptions } from '../../src/store/event-store.js';
import { freshPrefix, sharedEtcd } from './store.js';

export const AT = '2026-11-23T12:00:00Z';

export function endpoint(name: string, over: Partial<Endpoint> = {}): Endpoint {
  return { namespace: 'default', name, uid: `uid-${name}`, containerID: `ctr-${name}`, node: 'node-1', nic: 'eth0', owner: { kind: 'ReplicaSet', name: 'rs-1' }, ...over };
}

export function request(name: string, over: Partial<AllocateRequest> = {}, ep: Partial<Endpoint> = {}): AllocateRequest {
  return { endpoint: endpoint(name, ep), at: AT, ...over };
}

export interface AllocFixture {
  readonly allocator: Allocator;
  readonly store: EventStore;
  readonly prefix: string;
  close(): Promise<void>;
}

export async function openAllocator(prefix = freshPrefix(), opts: { rng?: () => number; store?: Omit<EventStoreOptions, 'prefix'> } = {}): Promise<AllocFixture> {
  const { endpoints } = await sharedEtcd();
  const client = openEtcd({ endpoints });
  const store = new EventStore(client, { ...opts.store, prefix });
  await store.open();
  const allocator = new Allocator(store, opts.rng ? { rng: opts.rng } : {});
  await allocator.start();
  return {
    allocator,
    store,
    prefix,
    async close() {
      await allocator.stop();
      await store.close();
      client.close();
    },
  };
}

/** Replays the whole log into a fresh model. */
export async function replay(store: EventStore): Promise<AllocatorModel> {
  const m = new AllocatorModel();
  for await (const e of store.read()) m.apply(e.event, e.revision);
  return m;
}

/** A comparable picture of a model: allocations by address, and free counts per pool. */
export function snapshot(m: AllocatorModel) {
  const allocations = [...m.byId.values()].map((a) => `${a.pool} ${a.address} ${a.allocationId} ${a.endpoint.namespace}/${a.endpoint.name}/${a.endpoint.nic}`).sort();
  const pools = [...m.pools.values()].map((p) => `${p.compiled.name} ${p.allocated}/${p.offsets.total} free=${p.free.freeCount}`).sort();
  return { allocations, pools };
}
