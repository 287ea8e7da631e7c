// Pure: taking over allocations another IPAM made (Whereabouts, Spiderpool), so running pods keep their addresses.
// A claim is adopted as an IPAllocated with reason 'adopted'; it conflicts (and nothing is adopted) when the address
// is claimed twice in the input, held in the log by someone else, outside what the pool hands out, or reserved, or
// when the interface already holds another address of that family. A claim the log already holds is skipped, so a
// second run adopts nothing.
import { AllocationReason, makeEvent, type DomainEvent, type Endpoint } from '../../events/catalogue.js';
import { Tag } from '../../events/tags.js';
import { parseAddress } from '../net/address.js';
import { endpointIdentity, endpointKey, type AllocatorModel } from './model.js';
import type { CompiledPool } from './types.js';

export interface AdoptClaim {
  readonly pool: string;
  readonly address: string;
  readonly endpoint: Endpoint;
  /** Where it was found, for messages and the event: "whereabouts IPPool kube-system/net1 allocation 5". */
  readonly source: string;
}

export interface AdoptConflict {
  readonly address: string;
  readonly pool: string;
  readonly why: string;
  readonly sources: readonly string[];
}

export interface AdoptionPlan {
  readonly adopt: readonly AdoptClaim[];
  /** Already in the log for the same interface. */
  readonly held: readonly AdoptClaim[];
  readonly conflicts: readonly AdoptConflict[];
}

const holderOf = (ep: Endpoint) => endpointKey(ep);
const sameHolder = (a: Endpoint, b: Endpoint) => holderOf(a) === holderOf(b);

/** Checks every claim; `poolOf` answers pools not yet in the log too (defined by the same input). */
export function planAdoption(m: AllocatorModel, claims: readonly AdoptClaim[], poolOf: (name: string) => CompiledPool | undefined): AdoptionPlan {
  const conflicts: AdoptConflict[] = [];
  const held: AdoptClaim[] = [];
  const byAddress = new Map<string, AdoptClaim[]>();
  for (const c of claims) {
    const pool = poolOf(c.pool);
    const key = `${pool?.scope ?? 'default'}/${c.address}`;
    byAddress.set(key, [...(byAddress.get(key) ?? []), c]);
  }
  const adopt: AdoptClaim[] = [];
  const perInterface = new Map<string, AdoptClaim>();
  for (const [key, list] of byAddress) {
    const c = list[0]!;
    const fail = (why: string) => conflicts.push({ address: c.address, pool: c.pool, why, sources: list.map((x) => x.source) });
    // The same holder found twice (an IPPool and its OverlappingRangeIPReservation, a pool and its endpoint) is one claim.
    if (list.some((x) => !sameHolder(x.endpoint, c.endpoint) || x.pool !== c.pool)) {
      fail(`claimed by ${[...new Set(list.map((x) => `${holderOf(x.endpoint)} in pool ${x.pool}`))].join(' and by ')}`);
      continue;
    }
    const pool = poolOf(c.pool);
    if (!pool) {
      fail(`pool ${c.pool} does not exist (define it first, or include it in the input)`);
      continue;
    }
    let value: bigint;
    try {
      value = parseAddress(c.address, 'address', pool.ipVersion).value;
    } catch (e) {
      fail(`${(e as Error).message}`);
      continue;
    }
    if (!pool.usable.contains(value)) {
      fail(`not an address pool ${c.pool} hands out (outside spec.ips, excluded, or the network, broadcast or gateway address)`);
      continue;
    }
    const reserved = [...m.reservations.values()].find((r) => r.ipVersion === pool.ipVersion && r.set.contains(value));
    if (reserved) {
      fail(`reserved by SpiderReservedIP ${reserved.name}`);
      continue;
    }
    const holderId = m.byAddress.get(key);
    const holder = holderId !== undefined ? m.byId.get(holderId) : undefined;
    if (holder) {
      if (sameHolder(holder.endpoint, c.endpoint) && holder.pool === c.pool) held.push(c);
      else fail(`held in the log by ${holderOf(holder.endpoint)} (allocation ${holder.allocationId})`);
      continue;
    }
    const iface = `${holderOf(c.endpoint)}/v${pool.ipVersion}`;
    const mine = (m.byEndpoint.get(holderOf(c.endpoint)) ?? []).find((a) => a.ipVersion === pool.ipVersion);
    if (mine) {
      fail(`${holderOf(c.endpoint)} already holds ${mine.address} (IPv${pool.ipVersion}) in the log`);
      continue;
    }
    const other = perInterface.get(iface);
    if (other) {
      fail(`${holderOf(c.endpoint)} is also claimed with ${other.address} (IPv${pool.ipVersion}); one address per interface and family`);
      continue;
    }
    perInterface.set(iface, c);
    adopt.push(c);
  }
  return { adopt, held, conflicts };
}

/** The events adopting `claims` (planned, conflict-free) and the tags the decision read. */
export function decideAdopt(m: AllocatorModel, claims: readonly AdoptClaim[], ctx: { newId(label?: string): string; readonly at: string }): { events: DomainEvent[]; conditionTags: string[] } {
  const events: DomainEvent[] = [];
  const tags = new Set<string>([Tag.reservations()]);
  for (const c of claims) {
    const pool = m.pools.get(c.pool)!.compiled;
    const ip = Tag.ip(pool.scope, c.address);
    const ep = Tag.endpoint(c.endpoint.namespace, endpointIdentity(c.endpoint), c.endpoint.nic);
    const allocationId = ctx.newId('a');
    const data = {
      allocationId,
      pool: pool.name,
      ipVersion: pool.ipVersion,
      address: c.address,
      prefixLength: pool.prefixLength,
      endpoint: c.endpoint,
      ...(pool.gateway ? { gateway: pool.gateway } : {}),
      ...(pool.spec.vlan !== undefined ? { vlan: pool.spec.vlan } : {}),
      ...(pool.spec.routes?.length ? { routes: pool.spec.routes } : {}),
      reason: AllocationReason.Adopted,
      adoptedFrom: c.source,
    };
    events.push(makeEvent('IPAllocated', data, { id: allocationId, at: ctx.at, tags: [ip, ep, Tag.pool(pool.name)] }));
    tags.add(ip);
    tags.add(ep);
    tags.add(Tag.poolConfig(pool.name));
  }
  return { events, conditionTags: [...tags] };
}
