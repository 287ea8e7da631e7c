// A Whereabouts IPPool or SpiderIPPool written with allocations in it (spec.allocations, status.allocatedIPs) would,
// applied as configuration only, drop them: the addresses of running pods would become free and could be handed out
// twice. Unless the log holds every one of them already, such a write is refused, pointing at `ipam adopt`.
import type { AdoptClaim } from '../alloc/adopt.js';
import type { AllocatorModel } from '../alloc/model.js';
import { InputError } from '../net/errors.js';
import { ipPoolClaims as spiderPoolClaims } from './spiderpool/adopt-claims.js';
import { ipPoolClaims as whereaboutsPoolClaims } from './whereabouts/adopt-claims.js';

type Obj = { metadata?: { name?: unknown; namespace?: unknown }; spec?: unknown; status?: unknown };

/** Claims the object carries that the log does not hold for the same pod (a SpiderIPPool entry names no interface). */
function unheld(m: AllocatorModel, claims: readonly AdoptClaim[]): AdoptClaim[] {
  return claims.filter((c) => {
    const p = m.pools.get(c.pool);
    const id = m.byAddress.get(`${p?.compiled.scope ?? 'default'}/${c.address}`);
    const rec = id !== undefined ? m.byId.get(id) : undefined;
    return !(rec && rec.pool === c.pool && rec.endpoint.namespace === c.endpoint.namespace && rec.endpoint.name === c.endpoint.name);
  });
}

export function refuseDroppedAllocations(m: AllocatorModel, kind: 'IPPool' | 'SpiderIPPool', o: Obj): void {
  const claims = kind === 'IPPool' ? whereaboutsPoolClaims(o, 'object') : spiderPoolClaims(o, 'object', new Map());
  const missing = unheld(m, claims);
  if (missing.length === 0) return;
  const field = kind === 'IPPool' ? 'spec.allocations' : 'status.allocatedIPs';
  const eg = missing.slice(0, 3).map((c) => `${c.address} (${c.endpoint.namespace}/${c.endpoint.name})`).join(', ');
  throw new InputError(
    field,
    `holds ${missing.length} allocation(s) the allocation log does not, e.g. ${eg}; applying the pool alone would free addresses running pods use. Adopt them first: ipam adopt -f FILE (--dry-run shows what it would do)`,
  );
}

/** The claims an object carries (for the controller, which adopts them when it first defines the pool). */
export function claimsOfPool(kind: 'IPPool' | 'SpiderIPPool', o: Obj): AdoptClaim[] {
  return kind === 'IPPool' ? whereaboutsPoolClaims(o, 'object') : spiderPoolClaims(o, 'object', new Map());
}
