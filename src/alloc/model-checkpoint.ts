// The allocator model's checkpoint: what a model at revision H holds, in plain data, so the log before H is not needed
// to rebuild it. Restoring applies the same definitions and allocations in the same order a replay would; only the
// free structure's pick order is not carried (a restored pool hands out free addresses as if never used).
import type { DomainEvent, IPAllocatedData, IpVersion, PoolSpec, SubnetSpec } from '../../events/catalogue.js';
import { AllocatorModel } from './model.js';

export const MODEL_CHECKPOINT_VERSION = 1;

export interface ModelCheckpoint {
  readonly version: number;
  readonly revision: number;
  readonly subnets: readonly { readonly name: string; readonly spec: SubnetSpec }[];
  readonly carved: readonly { readonly subnet: string; readonly pool: string; readonly ips: readonly string[] }[];
  readonly pools: readonly { readonly name: string; readonly spec: PoolSpec }[];
  readonly reservations: readonly { readonly name: string; readonly ipVersion: IpVersion; readonly ips: readonly string[] }[];
  /** Live allocations in the order they were applied, each with its commit revision. */
  readonly allocations: readonly { readonly data: IPAllocatedData; readonly revision: number }[];
  readonly problems: readonly string[];
}

export function modelCheckpoint(m: AllocatorModel): ModelCheckpoint {
  return {
    version: MODEL_CHECKPOINT_VERSION,
    revision: m.revision,
    subnets: [...m.subnets.values()].map((s) => ({ name: s.name, spec: s.spec })),
    carved: [...m.carved].flatMap(([subnet, pools]) => [...pools].map(([pool, ips]) => ({ subnet, pool, ips }))),
    pools: [...m.pools.values()].map((p) => ({ name: p.compiled.name, spec: p.compiled.spec })),
    reservations: [...m.reservations.values()].map((r) => ({ name: r.name, ipVersion: r.ipVersion, ips: r.ips })),
    allocations: [...m.byId.values()].map((a) => ({
      data: {
        allocationId: a.allocationId,
        pool: a.pool,
        ipVersion: a.ipVersion,
        address: a.address,
        prefixLength: a.prefixLength,
        endpoint: a.endpoint,
        ...(a.gateway !== undefined ? { gateway: a.gateway } : {}),
        ...(a.vlan !== undefined ? { vlan: a.vlan } : {}),
        ...(a.routes !== undefined ? { routes: a.routes } : {}),
      },
      revision: a.revision,
    })),
    problems: [...m.problems],
  };
}

/** A model equal to the one checkpointed (same definitions, allocations, counts and revision). */
export function restoreModel(cp: ModelCheckpoint, into: AllocatorModel = new AllocatorModel()): AllocatorModel {
  if (cp.version !== MODEL_CHECKPOINT_VERSION) throw new Error(`allocator checkpoint version ${cp.version}: this build reads version ${MODEL_CHECKPOINT_VERSION}`);
  if (into.revision !== 0 || into.byId.size > 0) throw new Error('restoreModel needs an empty model');
  const m = into;
  // The model is driven through apply() with the events a replay would have applied, so there is one evolve.
  const apply = <T extends DomainEvent['type']>(type: T, data: Extract<DomainEvent, { type: T }>['data'], revision: number) =>
    m.apply({ id: `checkpoint@${cp.revision}`, type, v: 1, at: '', tags: [], data } as unknown as DomainEvent, revision);
  for (const s of cp.subnets) apply('SubnetDefined', { name: s.name, spec: s.spec }, cp.revision);
  for (const c of cp.carved) apply('PoolCarved', c, cp.revision);
  for (const r of cp.reservations) apply('IPReserved', r, cp.revision);
  for (const p of cp.pools) apply('PoolDefined', { name: p.name, spec: p.spec }, cp.revision);
  for (const a of cp.allocations) apply('IPAllocated', a.data, a.revision);
  m.problems.length = 0;
  m.problems.push(...cp.problems);
  m.revision = cp.revision;
  return m;
}
