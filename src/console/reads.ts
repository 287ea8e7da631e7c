// What the web console shows, read from the allocator's model (live, or replayed to a past revision or time):
// pool and subnet utilization, one pool's address map, endpoints matching a search. Pure functions of the model.
import { parseCidr, formatAddress, networkAddress } from '../net/address.js';
import { parseIpList } from '../net/ranges.js';
import type { AllocatorModel, AllocationRecord, PoolState } from '../alloc/model.js';
import { CellState, type EndpointView, type Holder, type Overview, type PoolMap, type PoolSummary, type SubnetSummary, type Utilization } from './wire.js';

/** Cells per address-map page: a /16 fits on one page (256 x 256). */
export const MAP_PAGE = 65_536;
/** Endpoints answered per search at most. */
export const MAX_ENDPOINT_RESULTS = 200;
/** A pool at or above this share allocated is highlighted as nearly exhausted. */
export const HIGH_UTILIZATION = 0.9;

const rate = (allocated: number, total: bigint): number => (total === 0n ? 0 : Math.min(1, allocated / Number(total)));
const state = (allocated: number, total: bigint): Utilization => (total > 0n && BigInt(allocated) >= total ? 'exhausted' : rate(allocated, total) >= HIGH_UTILIZATION ? 'high' : 'ok');

function reservedIn(model: AllocatorModel, p: PoolState): number {
  let n = 0n;
  for (const r of model.reservations.values()) if (r.ipVersion === p.compiled.ipVersion) n += r.set.intersect(p.compiled.usable).size();
  return Number(n);
}

/** `revision`: every commit at or before it is in the model (the allocator's, for the live one). */
export function overview(model: AllocatorModel, revision = model.revision): Overview {
  const pools: PoolSummary[] = [];
  for (const p of model.pools.values()) {
    const c = p.compiled;
    const reserved = reservedIn(model, p);
    const allocatable = c.usable.size() - BigInt(reserved);
    pools.push({
      name: c.name,
      ipVersion: c.ipVersion,
      subnet: c.subnet,
      total: c.owned.size().toString(),
      allocatable: allocatable.toString(),
      allocated: p.allocated,
      reserved,
      utilization: rate(p.allocated, allocatable),
      state: state(p.allocated, allocatable),
      disabled: Boolean(c.spec.disable),
      isDefault: Boolean(c.spec.default),
    });
  }
  const subnets: SubnetSummary[] = [];
  for (const s of model.subnets.values()) {
    const carved = [...(model.carved.get(s.name)?.keys() ?? [])].filter((n) => model.pools.has(n)).sort();
    const allocated = carved.reduce((acc, n) => acc + model.pools.get(n)!.allocated, 0);
    const total = s.owned.size();
    subnets.push({ name: s.name, ipVersion: s.ipVersion, subnet: s.subnet, total: total.toString(), pools: carved, allocated, utilization: rate(allocated, total), state: state(allocated, total) });
  }
  const byName = <T extends { name: string }>(a: T, b: T) => a.name.localeCompare(b.name);
  return { revision, pools: pools.sort(byName), subnets: subnets.sort(byName) };
}

/** The pool's address map, page by page over its subnet (cells before the subnet's first owned address skipped). */
export function poolMap(model: AllocatorModel, name: string, page: bigint, revision = model.revision): PoolMap | undefined {
  const p = model.pools.get(name);
  if (!p) return undefined;
  const c = p.compiled;
  const cidr = parseCidr(c.subnet, 'subnet', c.ipVersion);
  const span = 1n << BigInt((c.ipVersion === 4 ? 32 : 128) - c.prefixLength);
  const pageSize = BigInt(MAP_PAGE);
  // Start at the page holding the first owned address, so a /64 pool of a few addresses is not 2^48 empty pages.
  const lowest = c.owned.intervals[0]?.[0] ?? networkAddress(cidr);
  const base = networkAddress(cidr) + ((lowest - networkAddress(cidr)) / pageSize) * pageSize;
  const last = networkAddress(cidr) + span - 1n;
  const pages = (last - base) / pageSize + 1n;
  if (page < 0n || page >= pages) throw new RangeError(`page ${page} is outside 0..${pages - 1n}`);
  const first = base + page * pageSize;
  const count = Number(last - first + 1n < pageSize ? last - first + 1n : pageSize);
  // spec.ips less what the pool owns: its excludeIPs (parsed once, by the same rules that compiled the pool).
  const excluded = parseIpList(c.spec.ips, c.ipVersion, 'spec.ips').subtract(c.owned);
  const cells = new Uint8Array(count);
  const counts = { Outside: 0, Free: 0, Allocated: 0, Reserved: 0, Excluded: 0, Infrastructure: 0 };
  const reserved = [...model.reservations.values()].filter((r) => r.ipVersion === c.ipVersion).map((r) => r.set);
  for (let i = 0; i < count; i++) {
    const v = first + BigInt(i);
    let s: CellState;
    if (c.usable.contains(v)) s = reserved.some((r) => r.contains(v)) ? CellState.Reserved : CellState.Free;
    else if (c.owned.contains(v)) s = CellState.Infrastructure; // network, broadcast or gateway
    else if (excluded.contains(v)) s = CellState.Excluded;
    else s = CellState.Outside;
    cells[i] = s;
  }
  const holders: Holder[] = [];
  for (const a of allocationsOf(model, name)) {
    if (a.value < first || a.value >= first + BigInt(count)) continue;
    const cell = Number(a.value - first);
    cells[cell] = CellState.Allocated;
    holders.push(holder(a, cell));
  }
  for (const s of cells) counts[(Object.keys(CellState) as (keyof typeof CellState)[])[s]!]++;
  holders.sort((a, b) => a.cell - b.cell);
  return {
    pool: name,
    ipVersion: c.ipVersion,
    subnet: c.subnet,
    revision,
    first: formatAddress(c.ipVersion, first),
    page: page.toString(),
    pages: pages.toString(),
    cellCount: count,
    cells: Buffer.from(cells).toString('base64'),
    holders,
    counts,
  };
}

function* allocationsOf(model: AllocatorModel, pool: string): Iterable<AllocationRecord> {
  for (const a of model.byId.values()) if (a.pool === pool) yield a;
}

function holder(a: AllocationRecord, cell: number): Holder {
  const e = a.endpoint;
  return { cell, address: a.address, pod: `${e.namespace}/${e.name}`, nic: e.nic, containerID: e.containerID, ...(e.node ? { node: e.node } : {}), allocationId: a.allocationId, since: a.revision };
}

/** Endpoints whose namespace, pod name, container id or an address contains `q` (all when empty), at most `limit`. */
export function searchEndpoints(model: AllocatorModel, q: string, limit = MAX_ENDPOINT_RESULTS): { items: EndpointView[]; truncated: boolean } {
  const needle = q.trim().toLowerCase();
  const items: EndpointView[] = [];
  const keys = [...model.byEndpoint.keys()].sort();
  for (const k of keys) {
    const recs = model.byEndpoint.get(k)!;
    const e = recs[0]!.endpoint;
    const hay = [e.namespace, e.name, `${e.namespace}/${e.name}`, e.containerID, ...recs.map((r) => r.address)];
    if (needle && !hay.some((h) => h.toLowerCase().includes(needle))) continue;
    if (items.length === limit) return { items, truncated: true };
    items.push({
      namespace: e.namespace,
      name: e.name,
      nic: e.nic,
      containerID: e.containerID,
      ...(e.uid ? { uid: e.uid } : {}),
      ...(e.node ? { node: e.node } : {}),
      ...(e.owner ? { owner: `${e.owner.kind}/${e.owner.name}` } : {}),
      addresses: recs.map((r) => ({ address: r.address, prefixLength: r.prefixLength, pool: r.pool, since: r.revision })),
    });
  }
  return { items, truncated: false };
}
