// Pure deciders for allocate and release: given the model and a command, the events to append and the tags the
// decision depends on. No I/O, no clock: ids, time and the address picker come in through `ctx`.
import { makeEvent, PoolOrder, ReleaseReason, type DomainEvent, type Endpoint, type IpVersion } from '../../events/catalogue.js';
import { Tag } from '../../events/tags.js';
import { formatAddress } from '../net/address.js';
import { AllocError } from './errors.js';
import { allocationView, endpointIdentity, endpointKey, type AllocationRecord, type AllocatorModel, type PoolState } from './model.js';
import { poolMatches } from './selector.js';
import type { IntervalSet } from '../net/ranges.js';
import type { AllocateRequest, Allocation, RangeRequest } from './types.js';

export interface DecideContext {
  newId(label?: string): string;
  readonly at: string;
  /** Picks a free, unclaimed offset in the pool (within `spans` when given), claiming it, or -1. */
  pick(pool: PoolState, spans?: OffsetSpans): number;
}

/** Sorted, disjoint [lo, hi] offset intervals of one pool. */
export type OffsetSpans = readonly (readonly [number, number])[];

export function inSpans(spans: OffsetSpans, o: number): boolean {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const [a, b] = spans[mid]!;
    if (o < a) hi = mid - 1;
    else if (o > b) lo = mid + 1;
    else return true;
  }
  return false;
}

/** A free offset not `taken`, in the pool's order (spec.order), within `spans` when given; -1 if none. */
export function pickOffset(pool: PoolState, rng: () => number, taken: (offset: number) => boolean, spans?: OffsetSpans): number {
  if (pool.compiled.order === PoolOrder.Lowest) return pool.free.pickLowest(taken, spans);
  return pool.free.pick(rng, spans ? (x) => !inSpans(spans, x) || taken(x) : taken);
}

/** The pool's offsets of the addresses in `within` (each interval of within ∩ usable is contiguous in offsets). */
function spansOf(pool: PoolState, within: IntervalSet): OffsetSpans {
  return within.intersect(pool.compiled.usable).intervals.map(([a, b]) => [pool.offsets.offsetOf(a), pool.offsets.offsetOf(b)] as const);
}

/** Whereabouts' ipRanges: one address from each named pool, within the range's window. */
function pickRange(m: AllocatorModel, r: RangeRequest, ctx: DecideContext): { pool: PoolState; offset: number } {
  const pool = m.pools.get(r.pool);
  if (!pool) throw new AllocError('PoolNotFound', r.field, `pool ${r.pool} does not exist`);
  if (pool.compiled.spec.disable) throw new AllocError('NoPoolMatches', r.field, `pool ${r.pool} is disabled`);
  const spans = r.within ? spansOf(pool, r.within) : undefined;
  const offset = spans?.length === 0 ? -1 : ctx.pick(pool, spans);
  if (offset < 0) {
    const where = r.within ? r.within.toStrings(pool.compiled.ipVersion).join(', ') : pool.compiled.usable.toStrings(pool.compiled.ipVersion).join(', ');
    throw new AllocError('PoolExhausted', r.field, `could not allocate IP in range ${where} of pool ${r.pool} (${pool.allocated}/${pool.offsets.size} allocated)`, true);
  }
  return { pool, offset };
}

export interface Decision {
  readonly events: DomainEvent[];
  /** Tags the decision read: it holds only if none of them changed after the model's revision. */
  readonly conditionTags: string[];
  readonly allocations: Allocation[];
  readonly reused: boolean;
}

const REUSE_KINDS = new Set(['StatefulSet', 'VirtualMachineInstance', 'VirtualMachine']);

function epTag(ep: Endpoint): string {
  return Tag.endpoint(ep.namespace, endpointIdentity(ep), ep.nic);
}

function allocatedEvent(ctx: DecideContext, pool: PoolState, address: string, ep: Endpoint): { event: DomainEvent; allocation: Allocation } {
  const c = pool.compiled;
  const allocationId = ctx.newId('a');
  const allocation: Allocation = {
    allocationId,
    pool: c.name,
    ipVersion: c.ipVersion,
    address,
    prefixLength: c.prefixLength,
    endpoint: ep,
    ...(c.gateway ? { gateway: c.gateway } : {}),
    ...(c.spec.vlan !== undefined ? { vlan: c.spec.vlan } : {}),
    ...(c.spec.routes?.length ? { routes: c.spec.routes } : {}),
  };
  const event = makeEvent('IPAllocated', allocation, { id: allocationId, at: ctx.at, tags: [Tag.ip(c.scope, address), epTag(ep), Tag.pool(c.name)] });
  return { event, allocation };
}

export function releasedEvent(ctx: DecideContext, m: AllocatorModel, rec: AllocationRecord, reason: ReleaseReason): DomainEvent {
  const scope = m.pools.get(rec.pool)?.compiled.scope ?? 'default';
  const { namespace, name, nic, containerID } = rec.endpoint;
  return makeEvent(
    'IPReleased',
    { allocationId: rec.allocationId, pool: rec.pool, address: rec.address, reason, endpoint: { namespace, name, nic, containerID } },
    { id: ctx.newId('r'), at: ctx.at, tags: [Tag.ip(scope, rec.address), epTag(rec.endpoint), Tag.pool(rec.pool)] },
  );
}

/** Candidate pool names for one family, in order: explicit > namespace defaults > cluster defaults. */
function candidates(m: AllocatorModel, req: AllocateRequest, family: IpVersion): { names: string[]; field: string; explicit: boolean } {
  const key = family === 4 ? 'ipv4' : 'ipv6';
  const explicit = req.pools?.[key];
  if (explicit?.length) return { names: [...explicit], field: `pools.${key}`, explicit: true };
  const ns = req.namespaceDefaults?.[key];
  if (ns?.length) return { names: [...ns], field: `namespaceDefaults.${key}`, explicit: true };
  const defaults = [...m.pools.values()].filter((p) => p.compiled.ipVersion === family && p.compiled.spec.default).map((p) => p.compiled.name).sort();
  return { names: defaults, field: 'pools', explicit: false };
}

function wantedFamilies(m: AllocatorModel, req: AllocateRequest): IpVersion[] {
  if (req.pools?.ipv4?.length || req.pools?.ipv6?.length) return [...(req.pools.ipv4?.length ? [4 as const] : []), ...(req.pools.ipv6?.length ? [6 as const] : [])];
  if (req.namespaceDefaults?.ipv4?.length || req.namespaceDefaults?.ipv6?.length) {
    return [...(req.namespaceDefaults.ipv4?.length ? [4 as const] : []), ...(req.namespaceDefaults.ipv6?.length ? [6 as const] : [])];
  }
  if (req.families?.length) return [...new Set(req.families)].sort() as IpVersion[];
  const fams = new Set<IpVersion>();
  for (const p of m.pools.values()) if (p.compiled.spec.default) fams.add(p.compiled.ipVersion);
  return [...fams].sort() as IpVersion[];
}

/** Chooses a pool and an address for one family; throws a clear error when none can serve. */
function pickFor(m: AllocatorModel, req: AllocateRequest, family: IpVersion, ctx: DecideContext): { pool: PoolState; offset: number } {
  const { names, field, explicit } = candidates(m, req, family);
  // A named pool of the other family is a mistake in the request, even when an earlier pool would serve it.
  names.forEach((name, i) => {
    const v = m.pools.get(name)?.compiled.ipVersion;
    if (explicit && v !== undefined && v !== family) throw new AllocError('NoPoolMatches', `${field}[${i}]`, `pool ${name} is IPv${v}, not IPv${family}`);
  });
  if (names.length === 0) throw new AllocError('NoPoolMatches', 'pools', `no IPv${family} pool named and no default IPv${family} pool exists`);
  const reasons: string[] = [];
  let exhausted = 0;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const pool = m.pools.get(name);
    if (!pool) {
      if (explicit) throw new AllocError('PoolNotFound', `${field}[${i}]`, `pool ${name} does not exist`);
      continue;
    }
    if (pool.compiled.ipVersion !== family) throw new AllocError('NoPoolMatches', `${field}[${i}]`, `pool ${name} is IPv${pool.compiled.ipVersion}, not IPv${family}`);
    if (pool.compiled.spec.disable) {
      reasons.push(`pool ${name} is disabled`);
      continue;
    }
    const match = poolMatches(pool.compiled.spec, { namespace: req.endpoint.namespace, node: req.endpoint.node, ...(req.affinity ? { affinity: req.affinity } : {}) });
    if (!match.ok) {
      reasons.push(match.reason);
      continue;
    }
    const offset = ctx.pick(pool);
    if (offset < 0) {
      exhausted++;
      reasons.push(`pool ${name} is exhausted (${pool.allocated}/${pool.offsets.size} allocated)`);
      continue;
    }
    return { pool, offset };
  }
  if (exhausted > 0 && exhausted === reasons.length) {
    throw new AllocError('PoolExhausted', field, `no free IPv${family} address: ${reasons.join('; ')}`, true);
  }
  throw new AllocError('NoPoolMatches', field, `no IPv${family} pool can serve ${req.endpoint.namespace}/${req.endpoint.name}: ${reasons.join('; ')}`);
}

export function decideAllocate(m: AllocatorModel, req: AllocateRequest, ctx: DecideContext): Decision {
  const ep = req.endpoint;
  const existing = m.byEndpoint.get(endpointKey(ep)) ?? [];
  const tags = new Set<string>([epTag(ep)]);
  const events: DomainEvent[] = [];
  if (existing.length > 0) {
    // A retried ADD for the same container: the same addresses, nothing written.
    if (existing.every((r) => r.endpoint.containerID === ep.containerID)) {
      return { events: [], conditionTags: [], allocations: existing.map(allocationView), reused: true };
    }
    const samePod = existing.every((r) => r.endpoint.uid === ep.uid);
    if (samePod || REUSE_KINDS.has(ep.owner?.kind ?? '')) {
      // Same pod with a new sandbox, or a StatefulSet pod / KubeVirt VM recreated: keep the addresses, rebind them.
      const allocations: Allocation[] = [];
      for (const r of existing) {
        const pool = m.pools.get(r.pool);
        if (!pool) continue;
        const { event, allocation } = allocatedEvent(ctx, pool, r.address, ep);
        events.push(event);
        allocations.push(allocation);
        tags.add(Tag.ip(pool.compiled.scope, r.address));
      }
      if (allocations.length > 0) return { events, conditionTags: [...tags], allocations, reused: true };
    }
    // A different pod that happens to have the same name: the old allocation is an orphan; release it first.
    for (const r of existing) {
      events.push(releasedEvent(ctx, m, r, ReleaseReason.Orphan));
      tags.add(Tag.ip(m.pools.get(r.pool)?.compiled.scope ?? 'default', r.address));
    }
  }
  let picks: { pool: PoolState; offset: number }[];
  if (req.ranges) {
    picks = req.ranges.map((r) => pickRange(m, r, ctx));
  } else {
    const families = wantedFamilies(m, req);
    if (families.length === 0) throw new AllocError('NoPoolMatches', 'pools', 'no pool named and no default pool exists');
    // Both families or neither: pick every family before writing anything.
    picks = families.map((f) => pickFor(m, req, f, ctx));
  }
  const allocations: Allocation[] = [];
  for (const { pool, offset } of picks) {
    const c = pool.compiled;
    const address = formatAddress(c.ipVersion, pool.offsets.addressAt(offset));
    const { event, allocation } = allocatedEvent(ctx, pool, address, ep);
    events.push(event);
    allocations.push(allocation);
    tags.add(Tag.ip(c.scope, address));
    tags.add(Tag.poolConfig(c.name));
  }
  tags.add(Tag.reservations());
  return { events, conditionTags: [...tags], allocations, reused: false };
}

/** Release one allocation by id: only if it is still the current holder of its address (ABA-safe). */
export function decideReleaseById(m: AllocatorModel, allocationId: string, reason: ReleaseReason, ctx: DecideContext): Decision {
  const rec = m.byId.get(allocationId);
  if (!rec) {
    throw new AllocError('StaleRelease', 'allocationId', `allocation ${allocationId} is not current (already released, or its address has been given to someone else); nothing released`);
  }
  return releaseAll(m, [rec], reason, ctx);
}

/** CNI DEL: release what this container holds (on one NIC, or all); releasing nothing is success. */
export function decideReleaseContainer(m: AllocatorModel, containerID: string, nic: string | undefined, ctx: DecideContext): Decision {
  const ids = m.byContainer.get(containerID) ?? new Set<string>();
  const recs = [...ids].map((id) => m.byId.get(id)!).filter((r) => r && (nic === undefined || r.endpoint.nic === nic));
  return releaseAll(m, recs, ReleaseReason.CniDel, ctx);
}

/** Release every address of a pod (optionally only if its uid matches). */
export function decideReleasePod(m: AllocatorModel, namespace: string, name: string, uid: string | undefined, reason: ReleaseReason, ctx: DecideContext): Decision {
  const recs = [...m.byId.values()].filter((r) => r.endpoint.namespace === namespace && r.endpoint.name === name && (uid === undefined || r.endpoint.uid === uid));
  return releaseAll(m, recs, reason, ctx);
}

function releaseAll(m: AllocatorModel, recs: AllocationRecord[], reason: ReleaseReason, ctx: DecideContext): Decision {
  const events = recs.map((r) => releasedEvent(ctx, m, r, reason));
  const tags = new Set<string>();
  for (const e of events) for (const t of e.tags) if (!t.startsWith('pool:')) tags.add(t);
  return { events, conditionTags: [...tags], allocations: recs.map(allocationView), reused: false };
}
