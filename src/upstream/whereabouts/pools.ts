// Whereabouts' IPPools as the engine's pools: one pool per (network_name, normalised range), named as
// pkg/storage/kubernetes.IPPoolName names it; range_start, range_end and exclude are per network configuration,
// not per pool (two networks on one /24 with different windows share its IPPool and its addresses).
import { PoolOrder, type PoolSpec } from '../../../events/catalogue.js';
import { validateName } from '../../alloc/spec.js';
import type { RangeRequest } from '../../alloc/types.js';
import { formatAddress } from '../../net/address.js';
import { InputError } from '../../net/errors.js';
import { MAX_POOL_ADDRESSES } from '../../net/offset-map.js';
import { parseWhereaboutsIpam, type WhereaboutsIpam, type WhereaboutsRange } from './config.js';

/** A range's pool: the name Whereabouts gives its IPPool and the spec a CNI call defines it with when it is new. */
export interface WhereaboutsPool {
  readonly name: string;
  readonly spec: PoolSpec;
  readonly range: WhereaboutsRange;
}

/** IPPoolName: "<network_name>-<range>" with ':' and '/' as '-' (normalizeRange; a range ending in ':' gets a 0). */
export function whereaboutsPoolName(cidrText: string, networkName: string | undefined): string {
  const range = (cidrText.endsWith(':') ? `${cidrText}0` : cidrText).replace(/[:/]/g, '-');
  const name = networkName ? `${networkName}-${range}` : range;
  return inputName(name, networkName ? 'ipam.network_name' : 'ipam.range');
}

/**
 * Scope: with overlapping ranges (the default) every range of a network shares the network's address scope, so an
 * address is held once across them (OverlappingRangeIPReservation, keyed by network_name and address). Without,
 * each IPPool is its own scope: Whereabouts then lets overlapping ranges hand out the same address.
 */
function scopeOf(name: string, wb: WhereaboutsIpam): string | undefined {
  if (!wb.overlappingRanges) return `whereabouts-${name}`;
  return wb.networkName;
}

export function whereaboutsPools(wb: WhereaboutsIpam): WhereaboutsPool[] {
  const seen = new Map<string, string>();
  return wb.ranges.map((r) => {
    const name = whereaboutsPoolName(r.cidr.text, wb.networkName);
    const before = seen.get(name);
    if (before !== undefined) throw new InputError(`${r.field}.range`, `is the same IPPool (${name}) as ${before}.range; give each range once`);
    seen.set(name, r.field);
    return { name, spec: poolSpecOf(name, r, wb), range: r };
  });
}

function poolSpecOf(name: string, r: WhereaboutsRange, wb: WhereaboutsIpam): PoolSpec {
  const fam = r.family;
  let lo = r.cidr.first + 1n;
  let hi = r.cidr.last - 1n;
  // Until pools index more than 2^24 addresses, a larger range's pool holds only this configuration's window.
  if (hi - lo + 1n > BigInt(MAX_POOL_ADDRESSES)) [lo, hi] = [r.first, r.last];
  if (hi - lo + 1n > BigInt(MAX_POOL_ADDRESSES)) {
    throw new InputError(
      `${r.field}.range`,
      `${r.cidr.text} holds ${hi - lo + 1n} usable addresses; at most ${MAX_POOL_ADDRESSES} fit one pool (narrow it with range_start/range_end)`,
    );
  }
  const scope = scopeOf(name, wb);
  return {
    ipVersion: fam,
    subnet: r.cidr.text,
    ips: [lo === hi ? formatAddress(fam, lo) : `${formatAddress(fam, lo)}-${formatAddress(fam, hi)}`],
    ...(scope !== undefined ? { scope } : {}),
    order: wb.order,
    ...(wb.overlappingRanges ? { sharedAddresses: true } : {}),
  };
}

/** The allocation request's ranges: one address from each range's pool, inside the range's window. */
export function rangeRequests(pools: readonly WhereaboutsPool[]): RangeRequest[] {
  return pools.map((p) => ({ pool: p.name, field: `${p.range.field}.range`, within: p.range.window }));
}

/** A Whereabouts IPPool object's spec (`range`, plus the scope a write keeps) as the pool it stands for. */
export function poolSpecFromIPPool(spec: unknown, field = 'spec', scope?: string): PoolSpec {
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new InputError(field, 'must be an object {range, allocations}');
  const range = (spec as Record<string, unknown>).range;
  if (typeof range !== 'string' || range === '') throw new InputError(`${field}.range`, 'is required: a CIDR such as 192.168.2.0/24');
  const wb = parseWhereaboutsIpam({ range, order: PoolOrder.Lowest }, field);
  const r = wb.ranges[0]!;
  const name = whereaboutsPoolName(r.cidr.text, undefined);
  const out = poolSpecOf(name, r, { ...wb, ...(scope !== undefined && scope !== 'default' ? { networkName: scope } : {}) });
  return out;
}

function inputName(name: string, field: string): string {
  return validateName(name, field);
}
