// Pure deciders for allocate and release: given the model and a command, the events to append and the tags the
// decision depends on. No I/O, no clock: ids, time and the address picker come in through `ctx`.
import { makeEvent, ReleaseReason, type DomainEvent, type Endpoint, type IpVersion } from '../../events/catalogue.js';
import { Tag } from '../../events/tags.js';
import { formatAddress, parseAddress } from '../net/address.js';
import type { Offset } from '../net/free-space.js';
import type { OffsetSpans } from '../net/offset-spans.js';
import { AllocError } from './errors.js';
import { allocationView, endpointIdentity, endpointKey, type AllocationRecord, type AllocatorModel, type PoolState } from './model.js';
import { poolMatches } from './selector.js';
import type { IntervalSet } from '../net/ranges.js';
import type { AllocateRequest, Allocation, RangeRequest } from './types.js';

export interface DecideContext {
  newId(label?: string): string;
  readonly at: string;
  /** Picks a free, unclaimed offset in the pool (within `spans` when given), claiming it, or -1. */
  pick(pool: PoolState, spans?: OffsetSpans): Offset;
  /** Claims this offset if it is free and unclaimed (a requested address); false when it is not. */
  take?(pool: PoolState, offset: Offset): boolean;
}

export type { OffsetSpans };

/** A free offset not `taken`, in the pool's order (spec.order, inside its free structure), within `spans`; -1 if none. */
export function pickOffset(pool: PoolState, rng: () => number, taken: (offset: Offset) => boolean, spans?: OffsetSpans): Offset {
  return pool.free.pick(rng, taken, spans);
}

/** The pool's offsets of the addresses in `within` (each interval of within ∩ usable is contiguous in offsets). */
function spansOf(pool: PoolState, within: IntervalSet): OffsetSpans {
  return within.intersect(pool.compiled.usable).intervals.map(([a, b]) => [pool.offsets.offsetOf(a), pool.offsets.offsetOf(b)] as const);
}

/** Whereabouts' ipRanges: one address from each named pool, within the range's window. */
function pickRange(m: AllocatorModel, r: RangeRequest, ctx: DecideContext): { pool: PoolState; offset: Offset } {
  const pool = m.pools.get(r.pool);
  if (!pool) throw new AllocError('PoolNotFound', r.field, `pool ${r.pool} does not exist`);
  if (pool.compiled.spec.disable) throw new AllocError('NoPoolMatches', r.field, `pool ${r.pool} is disabled`);
  const spans = r.within ? spansOf(pool, r.within) : undefined;
  const offset = spans?.length === 0 ? -1 : ctx.pick(pool, spans);
  if (offset < 0) {
    const where = r.within ? r.within.toStrings(pool.compiled.ipVersion).join(', ') : pool.compiled.usable.toStrings(pool.compiled.ipVersion).join(', ');
    throw new AllocError('PoolExhausted', r.field, `could not allocate IP in range ${where} of pool ${r.pool} (${pool.allocated}/${pool.offsets.total} allocated)`, true);
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

/**
 * The IPAllocated of `address` to `ep`, and its ip: tag: a decision's condition takes that same string (as it takes `eTag`,
 * the endpoint tag), so the store flattens, hashes and compares one string per tag, not two equal ones.
 */
function allocatedEvent(ctx: DecideContext, pool: PoolState, address: string, ep: Endpoint, eTag: string): { event: DomainEvent; allocation: Allocation; ipTag: string } {
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
  const ipTag = Tag.ip(c.scope, address);
  const event = makeEvent('IPAllocated', allocation, { id: allocationId, at: ctx.at, tags: [ipTag, eTag, Tag.pool(c.name)] });
  return { event, allocation, ipTag };
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
  if (req.addresses?.ipv4 || req.addresses?.ipv6) return [...(req.addresses.ipv4 ? [4 as const] : []), ...(req.addresses.ipv6 ? [6 as const] : [])];
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
function pickFor(m: AllocatorModel, req: AllocateRequest, family: IpVersion, ctx: DecideContext): { pool: PoolState; offset: Offset } {
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
    const wanted = req.addresses?.[family === 4 ? 'ipv4' : 'ipv6'];
    if (wanted !== undefined) {
      const taken = takeRequested(m, pool, wanted, ctx);
      if (taken === undefined) {
        reasons.push(`pool ${name} does not contain ${wanted}`);
        continue;
      }
      return { pool, offset: taken };
    }
    const offset = ctx.pick(pool);
    if (offset < 0) {
      exhausted++;
      reasons.push(`pool ${name} is exhausted (${pool.allocated}/${pool.offsets.total} allocated)`);
      continue;
    }
    return { pool, offset };
  }
  const wanted = req.addresses?.[family === 4 ? 'ipv4' : 'ipv6'];
  if (wanted !== undefined) {
    throw new AllocError('AddressUnavailable', `addresses.ipv${family}`, `${wanted} is not inside any IPv${family} pool allowed for ${req.endpoint.namespace}/${req.endpoint.name} (${reasons.join('; ')}); no other address is given instead`);
  }
  if (exhausted > 0 && exhausted === reasons.length) {
    throw new AllocError('PoolExhausted', field, `no free IPv${family} address: ${reasons.join('; ')}`, true);
  }
  throw new AllocError('NoPoolMatches', field, `no IPv${family} pool can serve ${req.endpoint.namespace}/${req.endpoint.name}: ${reasons.join('; ')}`);
}

/** The offset of a requested address in `pool`: undefined when the pool does not own it; throws when it cannot be given. */
function takeRequested(m: AllocatorModel, pool: PoolState, address: string, ctx: DecideContext): Offset | undefined {
  const c = pool.compiled;
  const field = `addresses.ipv${c.ipVersion}`;
  let value: bigint;
  try {
    value = parseAddress(address, field, c.ipVersion).value;
  } catch {
    return undefined; // the other family's pools were never asked; a malformed address is refused before deciding
  }
  if (!c.owned.contains(value)) return undefined;
  const refuse = (why: string) => new AllocError('AddressUnavailable', field, `${address} in pool ${c.name} ${why}; no other address is given instead`);
  if (!c.usable.contains(value)) throw refuse(`is the subnet's network, broadcast or gateway address (${c.gateway ?? 'no gateway'})`);
  const offset = pool.offsets.offsetOf(value);
  if (pool.blocked.has(offset)) throw refuse('is reserved (a SpiderReservedIP holds it)');
  const holder = m.byAddress.get(`${c.scope}/${formatAddress(c.ipVersion, value)}`);
  if (holder !== undefined || !pool.free.isFree(offset)) {
    const who = holder !== undefined ? m.byId.get(holder)?.endpoint : undefined;
    throw refuse(`is already allocated${who ? ` to ${who.namespace}/${who.name} (${who.nic})` : ''}`);
  }
  if (!ctx.take || !ctx.take(pool, offset)) {
    throw new AllocError('AddressUnavailable', field, `${address} in pool ${c.name} is being allocated to another pod right now; try again`, true);
  }
  return offset;
}

export function decideAllocate(m: AllocatorModel, req: AllocateRequest, ctx: DecideContext): Decision {
  const ep = req.endpoint;
  const existing = m.byEndpoint.get(endpointKey(ep)) ?? [];
  const eTag = epTag(ep);
  const tags = new Set<string>([eTag]);
  const events: DomainEvent[] = [];
  // CNI ranges (host-local's allocator Get, Whereabouts' per-range pools): what the attachment already holds counts
  // only in the ranges asked for; elsewhere it is left as it is (its DEL releases it), and the range gets an address.
  if (req.ranges && existing.length > 0 && existing.every((r) => r.endpoint.containerID === ep.containerID || r.endpoint.uid === ep.uid || REUSE_KINDS.has(ep.owner?.kind ?? ''))) {
    return decideRanges(m, req, req.ranges, existing, ctx, tags, eTag);
  }
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
        const { event, allocation, ipTag } = allocatedEvent(ctx, pool, r.address, ep, eTag);
        events.push(event);
        allocations.push(allocation);
        tags.add(ipTag);
      }
      if (allocations.length > 0) return { events, conditionTags: [...tags], allocations, reused: true };
    }
    // A different pod that happens to have the same name: the old allocation is an orphan; release it first.
    for (const r of existing) {
      events.push(releasedEvent(ctx, m, r, ReleaseReason.Orphan));
      tags.add(Tag.ip(m.pools.get(r.pool)?.compiled.scope ?? 'default', r.address));
    }
  }
  let picks: { pool: PoolState; offset: Offset }[];
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
    const { event, allocation, ipTag } = allocatedEvent(ctx, pool, address, ep, eTag);
    events.push(event);
    allocations.push(allocation);
    tags.add(ipTag);
    tags.add(Tag.poolConfig(c.name));
  }
  tags.add(Tag.reservations());
  return { events, conditionTags: [...tags], allocations, reused: false };
}

/**
 * One address per requested range: the attachment's own allocation in that range when it has one (a retried ADD:
 * nothing written; the same pod's previous sandbox: rebound to this container), else a new one from the range.
 */
/** `tags` holds the condition so far, `eTag` among them (the endpoint's tag, shared with the events). */
function decideRanges(m: AllocatorModel, req: AllocateRequest, ranges: readonly RangeRequest[], existing: readonly AllocationRecord[], ctx: DecideContext, tags: Set<string>, eTag: string): Decision {
  const ep = req.endpoint;
  const events: DomainEvent[] = [];
  const allocations: Allocation[] = [];
  const taken = new Set<AllocationRecord>();
  let fresh = false;
  for (const range of ranges) {
    const held = existing.find((r) => !taken.has(r) && r.pool === range.pool && (range.within === undefined || range.within.contains(r.value)));
    const pool = m.pools.get(range.pool);
    if (held && pool) {
      taken.add(held);
      if (held.endpoint.containerID === ep.containerID) {
        allocations.push(allocationView(held));
        continue;
      }
      const { event, allocation, ipTag } = allocatedEvent(ctx, pool, held.address, ep, eTag);
      events.push(event);
      allocations.push(allocation);
      tags.add(ipTag);
      continue;
    }
    const pick = pickRange(m, range, ctx);
    const c = pick.pool.compiled;
    const address = formatAddress(c.ipVersion, pick.pool.offsets.addressAt(pick.offset));
    const { event, allocation, ipTag } = allocatedEvent(ctx, pick.pool, address, ep, eTag);
    events.push(event);
    allocations.push(allocation);
    tags.add(ipTag);
    tags.add(Tag.poolConfig(c.name));
    fresh = true;
  }
  if (events.length === 0) return { events: [], conditionTags: [], allocations, reused: true };
  if (fresh) tags.add(Tag.reservations());
  return { events, conditionTags: [...tags], allocations, reused: !fresh };
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
