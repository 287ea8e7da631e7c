// Pure deciders for configuration: subnets, pools, reservations. Each returns the events and the tags it read.
import { makeEvent, type DomainEvent, type IpVersion, type ObjectMeta } from '../../events/catalogue.js';
import { Tag } from '../../events/tags.js';
import { InputError } from '../net/errors.js';
import { parseIpList } from '../net/ranges.js';
import { AllocError } from './errors.js';
import type { AllocatorModel } from './model.js';
import { compilePool, compileSubnet, describeOverlap, poolFitsSubnet, poolsOverlap, poolsShareAddresses, validateName } from './spec.js';
import type { CompiledPool, CompiledSubnet } from './types.js';

export interface ConfigContext {
  newId(label?: string): string;
  readonly at: string;
  /** Reject unknown spec fields (Kubernetes fieldValidation=Strict). */
  readonly strict?: boolean;
  /** Labels and annotations to record with a defined or changed pool or subnet. */
  readonly metadata?: ObjectMeta;
  /** An upstream's admission (src/upstream), run on the same model as the decision, so it re-runs on a conflict. */
  readonly admission?: Admission;
}

/**
 * Defaulting and refusals an upstream's admission webhooks apply before the engine's own checks: each returns the
 * spec to compile (defaults filled in) or throws naming the field. `current` is absent on a create.
 */
export interface Admission {
  pool(m: AllocatorModel, name: string, spec: unknown, current: CompiledPool | undefined): unknown;
  subnet(m: AllocatorModel, name: string, spec: unknown, current: CompiledSubnet | undefined): unknown;
  reservation(spec: ReservationInput, current: { readonly ipVersion: IpVersion } | undefined): ReservationInput;
}

export interface ReservationInput {
  readonly ipVersion: unknown;
  readonly ips: unknown;
}

/** The metadata field of an event's data: only present when there is something to record. */
function withMeta(ctx: ConfigContext): { metadata?: ObjectMeta } {
  const m = ctx.metadata;
  if (!m || (!m.labels && !m.annotations && !m.managedFields)) return {};
  return {
    metadata: {
      ...(m.labels ? { labels: { ...m.labels } } : {}),
      ...(m.annotations ? { annotations: { ...m.annotations } } : {}),
      ...(m.managedFields && m.managedFields.length > 0 ? { managedFields: structuredClone(m.managedFields) } : {}),
    },
  };
}

export interface ConfigDecision {
  readonly events: DomainEvent[];
  readonly conditionTags: string[];
  /** Unknown fields ignored (fieldValidation=Warn). */
  readonly warnings: string[];
}

const ev = makeEvent;

/** The subnet (if any) a pool belongs to: same CIDR and scope, as Spiderpool matches spec.subnet. */
function subnetOf(m: AllocatorModel, pool: CompiledPool): CompiledSubnet | undefined {
  for (const s of m.subnets.values()) if (s.subnet === pool.subnet && s.ipVersion === pool.ipVersion) return s;
  return undefined;
}

function checkPlacement(m: AllocatorModel, pool: CompiledPool): CompiledSubnet | undefined {
  for (const other of m.pools.values()) {
    if (other.compiled.name === pool.name) continue;
    if (poolsOverlap(pool, other.compiled) && !poolsShareAddresses(pool, other.compiled)) {
      throw new AllocError('Overlap', 'spec.ips', `overlaps pool ${other.compiled.name} at ${describeOverlap(pool, other.compiled)}`);
    }
  }
  const subnet = subnetOf(m, pool);
  if (subnet) {
    const why = poolFitsSubnet(pool, subnet);
    if (why) throw new AllocError('NotInSubnet', 'spec.ips', `does not fit subnet ${subnet.name}: ${why}`);
  }
  return subnet;
}

export function decideDefinePool(m: AllocatorModel, name: string, spec: unknown, ctx: ConfigContext): ConfigDecision {
  if (m.pools.has(name)) throw new AllocError('AlreadyExists', 'metadata.name', `pool ${name} already exists`);
  validateName(name); // the API server checks the name before any webhook sees the object
  const admitted = ctx.admission ? ctx.admission.pool(m, name, spec, undefined) : spec;
  const { pool, warnings } = compilePool(name, admitted, { strict: ctx.strict ?? false });
  const subnet = checkPlacement(m, pool);
  const events: DomainEvent[] = [ev('PoolDefined', { name, spec: pool.spec, ...withMeta(ctx) }, { id: ctx.newId('pool'), at: ctx.at, tags: [Tag.poolConfig(name), Tag.scope(pool.scope)] })];
  const tags = [Tag.poolConfig(name), Tag.scope(pool.scope)];
  if (subnet) {
    events.push(ev('PoolCarved', { subnet: subnet.name, pool: name, ips: pool.spec.ips }, { id: ctx.newId('carve'), at: ctx.at, tags: [Tag.subnet(subnet.name), Tag.poolConfig(name)] }));
    tags.push(Tag.subnet(subnet.name));
  }
  return { events, conditionTags: tags, warnings };
}

export function decideChangePool(m: AllocatorModel, name: string, spec: unknown, ctx: ConfigContext): ConfigDecision {
  const current = m.pools.get(name);
  if (!current) throw new AllocError('PoolNotFound', 'metadata.name', `pool ${name} does not exist`);
  const admitted = ctx.admission ? ctx.admission.pool(m, name, spec, current.compiled) : spec;
  const { pool, warnings } = compilePool(name, admitted, { strict: ctx.strict ?? false });
  if (pool.scope !== current.compiled.scope || pool.ipVersion !== current.compiled.ipVersion) {
    throw new InputError(pool.scope !== current.compiled.scope ? 'spec.scope' : 'spec.ipVersion', 'cannot change on an existing pool; define a new pool instead');
  }
  const outside = m.allocationsOfPool(name).filter((a) => !pool.usable.contains(a.value));
  if (outside.length > 0) {
    const list = outside.slice(0, 5).map((a) => `${a.address} (${a.endpoint.namespace}/${a.endpoint.name})`).join(', ');
    throw new AllocError('ShrinkBelowAllocations', 'spec.ips', `${outside.length} allocated address(es) would fall outside the pool: ${list}${outside.length > 5 ? ', ...' : ''}`);
  }
  const subnet = checkPlacement(m, pool);
  const oldSubnet = subnetOf(m, current.compiled);
  const events: DomainEvent[] = [ev('PoolChanged', { name, spec: pool.spec, ...withMeta(ctx) }, { id: ctx.newId('pool'), at: ctx.at, tags: [Tag.poolConfig(name), Tag.scope(pool.scope)] })];
  // pool:<name> is touched by every allocation in the pool: a concurrent allocation makes this change re-decide.
  const tags = [Tag.poolConfig(name), Tag.pool(name), Tag.scope(pool.scope)];
  if (oldSubnet && oldSubnet !== subnet) {
    events.push(ev('PoolReturned', { subnet: oldSubnet.name, pool: name, ips: current.compiled.spec.ips }, { id: ctx.newId('return'), at: ctx.at, tags: [Tag.subnet(oldSubnet.name), Tag.poolConfig(name)] }));
    tags.push(Tag.subnet(oldSubnet.name));
  }
  if (subnet) {
    events.push(ev('PoolCarved', { subnet: subnet.name, pool: name, ips: pool.spec.ips }, { id: ctx.newId('carve'), at: ctx.at, tags: [Tag.subnet(subnet.name), Tag.poolConfig(name)] }));
    tags.push(Tag.subnet(subnet.name));
  }
  return { events, conditionTags: tags, warnings };
}

export function decideRemovePool(m: AllocatorModel, name: string, ctx: ConfigContext): ConfigDecision {
  const current = m.pools.get(name);
  if (!current) throw new AllocError('PoolNotFound', 'metadata.name', `pool ${name} does not exist`);
  if (current.allocated > 0) {
    throw new AllocError('InUse', 'metadata.name', `pool ${name} still holds ${current.allocated} allocation(s); release them (or let their pods go) before deleting it`);
  }
  const events: DomainEvent[] = [ev('PoolRemoved', { name }, { id: ctx.newId('pool'), at: ctx.at, tags: [Tag.poolConfig(name), Tag.scope(current.compiled.scope)] })];
  const tags = [Tag.poolConfig(name), Tag.pool(name)];
  const subnet = subnetOf(m, current.compiled);
  if (subnet) {
    events.push(ev('PoolReturned', { subnet: subnet.name, pool: name, ips: current.compiled.spec.ips }, { id: ctx.newId('return'), at: ctx.at, tags: [Tag.subnet(subnet.name), Tag.poolConfig(name)] }));
    tags.push(Tag.subnet(subnet.name));
  }
  return { events, conditionTags: tags, warnings: [] };
}

function poolsIn(m: AllocatorModel, s: CompiledSubnet): CompiledPool[] {
  return [...m.pools.values()].map((p) => p.compiled).filter((p) => p.subnet === s.subnet && p.ipVersion === s.ipVersion);
}

export function decideDefineSubnet(m: AllocatorModel, name: string, spec: unknown, ctx: ConfigContext): ConfigDecision {
  if (m.subnets.has(name)) throw new AllocError('AlreadyExists', 'metadata.name', `subnet ${name} already exists`);
  validateName(name);
  const admitted = ctx.admission ? ctx.admission.subnet(m, name, spec, undefined) : spec;
  const { subnet, warnings } = compileSubnet(name, admitted, { strict: ctx.strict ?? false });
  for (const other of m.subnets.values()) {
    if (other.ipVersion === subnet.ipVersion && other.owned.overlaps(subnet.owned)) {
      throw new AllocError('Overlap', 'spec.ips', `overlaps subnet ${other.name}`);
    }
  }
  for (const p of poolsIn(m, subnet)) {
    if (!p.owned.isSubsetOf(subnet.owned)) throw new AllocError('NotInSubnet', 'spec.ips', `existing pool ${p.name} in ${subnet.subnet} has addresses outside these ips`);
  }
  const events: DomainEvent[] = [ev('SubnetDefined', { name, spec: subnet.spec, ...withMeta(ctx) }, { id: ctx.newId('subnet'), at: ctx.at, tags: [Tag.subnet(name), Tag.scope('subnets')] })];
  for (const p of poolsIn(m, subnet)) {
    events.push(ev('PoolCarved', { subnet: name, pool: p.name, ips: p.spec.ips }, { id: ctx.newId('carve'), at: ctx.at, tags: [Tag.subnet(name), Tag.poolConfig(p.name)] }));
  }
  return { events, conditionTags: [Tag.subnet(name), Tag.scope('subnets')], warnings };
}

export function decideChangeSubnet(m: AllocatorModel, name: string, spec: unknown, ctx: ConfigContext): ConfigDecision {
  const current = m.subnets.get(name);
  if (!current) throw new AllocError('SubnetNotFound', 'metadata.name', `subnet ${name} does not exist`);
  const admitted = ctx.admission ? ctx.admission.subnet(m, name, spec, current) : spec;
  const { subnet, warnings } = compileSubnet(name, admitted, { strict: ctx.strict ?? false });
  if (subnet.subnet !== current.subnet) throw new InputError('spec.subnet', `cannot change from ${current.subnet}; define a new subnet instead`);
  for (const p of poolsIn(m, current)) {
    const why = poolFitsSubnet(p, subnet);
    if (why) throw new AllocError('ShrinkBelowAllocations', 'spec.ips', `pool ${p.name} would no longer fit: ${why}`);
  }
  for (const other of m.subnets.values()) {
    if (other.name !== name && other.ipVersion === subnet.ipVersion && other.owned.overlaps(subnet.owned)) throw new AllocError('Overlap', 'spec.ips', `overlaps subnet ${other.name}`);
  }
  return {
    events: [ev('SubnetChanged', { name, spec: subnet.spec, ...withMeta(ctx) }, { id: ctx.newId('subnet'), at: ctx.at, tags: [Tag.subnet(name), Tag.scope('subnets')] })],
    conditionTags: [Tag.subnet(name), Tag.scope('subnets')],
    warnings,
  };
}

export function decideRemoveSubnet(m: AllocatorModel, name: string, ctx: ConfigContext): ConfigDecision {
  const current = m.subnets.get(name);
  if (!current) throw new AllocError('SubnetNotFound', 'metadata.name', `subnet ${name} does not exist`);
  const pools = poolsIn(m, current);
  if (pools.length > 0) throw new AllocError('InUse', 'metadata.name', `subnet ${name} still has pools: ${pools.map((p) => p.name).join(', ')}`);
  return {
    events: [ev('SubnetRemoved', { name }, { id: ctx.newId('subnet'), at: ctx.at, tags: [Tag.subnet(name), Tag.scope('subnets')] })],
    conditionTags: [Tag.subnet(name)],
    warnings: [],
  };
}

export function decideReserve(m: AllocatorModel, name: string, version: unknown, list: unknown, ctx: ConfigContext): ConfigDecision {
  if (m.reservations.has(name)) throw new AllocError('AlreadyExists', 'metadata.name', `reservation ${name} already exists`);
  const { ipVersion, ips } = ctx.admission ? ctx.admission.reservation({ ipVersion: version, ips: list }, undefined) : { ipVersion: version, ips: list };
  if (ipVersion !== 4 && ipVersion !== 6) throw new InputError('spec.ipVersion', 'must be 4 or 6');
  if (!Array.isArray(ips) || ips.length === 0 || !ips.every((x) => typeof x === 'string')) throw new InputError('spec.ips', 'must be a non-empty list of addresses or ranges');
  return reserveDecision(name, ipVersion, ips, ctx);
}

function reserveDecision(name: string, ipVersion: unknown, ips: unknown, ctx: ConfigContext): ConfigDecision {
  if (ipVersion !== 4 && ipVersion !== 6) throw new InputError('spec.ipVersion', 'must be 4 or 6');
  if (!Array.isArray(ips) || ips.length === 0 || !ips.every((x) => typeof x === 'string')) throw new InputError('spec.ips', 'must be a non-empty list of addresses or ranges');
  const set = parseIpList(ips as string[], ipVersion as IpVersion, 'spec.ips');
  const data = { name, ipVersion: ipVersion as IpVersion, ips: set.toStrings(ipVersion as IpVersion), ...withMeta(ctx) };
  return {
    events: [ev('IPReserved', data, { id: ctx.newId('rsv'), at: ctx.at, tags: [Tag.reservation(name), Tag.reservations()] })],
    conditionTags: [Tag.reservation(name)],
    warnings: [],
  };
}

/** A reservation's new ips, ipVersion or labels: one IPReserved replacing it (its uid and creation time stay). */
export function decideChangeReservation(m: AllocatorModel, name: string, ipVersion: unknown, ips: unknown, ctx: ConfigContext): ConfigDecision {
  if (!m.reservations.has(name)) throw new AllocError('ReservationNotFound', 'metadata.name', `reservation ${name} does not exist`);
  return reserveDecision(name, ipVersion, ips, ctx);
}

export function decideUnreserve(m: AllocatorModel, name: string, ctx: ConfigContext): ConfigDecision {
  if (!m.reservations.has(name)) throw new AllocError('ReservationNotFound', 'metadata.name', `reservation ${name} does not exist`);
  return {
    events: [ev('IPUnreserved', { name }, { id: ctx.newId('rsv'), at: ctx.at, tags: [Tag.reservation(name), Tag.reservations()] })],
    conditionTags: [Tag.reservation(name)],
    warnings: [],
  };
}
