// `ipam adopt -f FILE [--dry-run]`: take over what Whereabouts or Spiderpool already handed out, so running pods keep
// their addresses. The input is what `kubectl get -o yaml` prints: Whereabouts IPPools (spec.allocations) and
// OverlappingRangeIPReservations, SpiderIPPools (status.allocatedIPs), SpiderEndpoints, and the SpiderSubnets /
// SpiderReservedIPs they sit in. Pools not in the log are defined first, by the same rules as `ipam apply`. Every
// claim is checked before anything is written: a conflict (an address claimed twice, held by someone else, outside
// its pool, reserved) is reported and nothing is written (exit 1). Running it again adopts nothing new.
import { parseAllDocuments } from 'yaml';
import { readFileSync } from 'node:fs';
import type { AdoptClaim, AdoptionPlan } from '../../alloc/adopt.js';
import { planAdoption } from '../../alloc/adopt.js';
import type { Allocator } from '../../alloc/allocator.js';
import { compilePool } from '../../alloc/spec.js';
import type { CompiledPool } from '../../alloc/types.js';
import { poolSpecFromIPPool } from '../../upstream/whereabouts/pools.js';
import { parseAddress } from '../../net/address.js';
import { InputError } from '../../net/errors.js';
import { spiderpoolAdmission } from '../../upstream/spiderpool/admission.js';
import { endpointClaims, ipPoolClaims as spiderPoolClaims } from '../../upstream/spiderpool/adopt-claims.js';
import { ipPoolClaims as whereaboutsPoolClaims, overlappingRangeClaim } from '../../upstream/whereabouts/adopt-claims.js';
import { CliError, openDirectAllocator, wantsDirect, type GlobalOptions } from '../connection.js';
import { parseManifests, type Manifest } from '../manifests.js';
import { applyDirect, recordedMetadata } from './apply.js';

export interface AdoptOptions {
  readonly file: string;
  readonly dryRun: boolean;
}

interface Doc {
  readonly kind: string;
  readonly obj: Record<string, unknown> & { metadata?: { name?: unknown; namespace?: unknown } };
  readonly where: string;
  readonly text: string;
}

const DEFINES = new Set(['SpiderSubnet', 'SpiderReservedIP', 'SpiderIPPool', 'IPPool']);
const KNOWN = new Set([...DEFINES, 'SpiderEndpoint', 'OverlappingRangeIPReservation']);

/** Every document (List items too) of a known kind; others are refused naming the document. */
export function readAdoptInput(text: string, file: string): Doc[] {
  const out: Doc[] = [];
  const visit = (v: unknown, where: string) => {
    if (v === null || v === undefined) return;
    if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(where, 'must be a Kubernetes object');
    const o = v as Record<string, unknown>;
    if (o.kind === 'List' || (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items))) {
      (o.items as unknown[]).forEach((item, i) => visit(item, `${where}.items[${i}]`));
      return;
    }
    if (typeof o.kind !== 'string' || !KNOWN.has(o.kind)) throw new InputError(`${where}: kind`, `must be one of ${[...KNOWN].join(', ')} (got ${JSON.stringify(o.kind)})`);
    out.push({ kind: o.kind, obj: o, where, text: JSON.stringify(o) });
  };
  parseAllDocuments(text).forEach((d, i) => {
    if (d.errors.length > 0) throw new InputError(`${file}#${i + 1}`, `not valid YAML: ${d.errors[0]!.message}`);
    visit(d.toJS(), `${file}#${i + 1}`);
  });
  return out;
}

/** The compiled pool each pool name will have: the log's, else the input's definition (as `ipam apply` would store it). */
function poolsOf(a: Allocator, manifests: readonly Manifest[]): (name: string) => CompiledPool | undefined {
  const fromInput = new Map<string, CompiledPool>();
  for (const m of manifests) {
    if (a.model.pools.has(m.name)) continue;
    if (m.kind === 'SpiderIPPool') fromInput.set(m.name, compilePool(m.name, spiderpoolAdmission.pool(a.model, m.name, m.spec, undefined)).pool);
    if (m.kind === 'IPPool') fromInput.set(m.name, compilePool(m.name, poolSpecFromIPPool({ range: m.spec.range }, 'spec')).pool);
  }
  return (name) => a.model.pools.get(name)?.compiled ?? fromInput.get(name);
}

/** Every claim the input makes, SpiderEndpoints enriching their pools' entries. */
export function claimsOf(docs: readonly Doc[], poolFor: (address: string) => string | undefined): AdoptClaim[] {
  const endpoints = docs.filter((d) => d.kind === 'SpiderEndpoint').flatMap((d) => endpointClaims(d.obj, d.where));
  const byPoolIp = new Map(endpoints.map((c) => [`${c.pool}/${c.address}`, c]));
  const out: AdoptClaim[] = [...endpoints];
  for (const d of docs) {
    if (d.kind === 'SpiderIPPool') out.push(...spiderPoolClaims(d.obj, d.where, byPoolIp));
    if (d.kind === 'IPPool') out.push(...whereaboutsPoolClaims(d.obj, d.where));
    if (d.kind === 'OverlappingRangeIPReservation') out.push(overlappingRangeClaim(d.obj, d.where, poolFor));
  }
  return out;
}

/** Plans on the log plus the input's pool definitions: what would be adopted, what is held already, the conflicts. */
export function planInput(a: Allocator, docs: readonly Doc[]): { plan: AdoptionPlan; claims: AdoptClaim[]; manifests: Manifest[] } {
  const manifests = docs.filter((d) => DEFINES.has(d.kind)).flatMap((d) => parseManifests(d.text, d.where));
  const poolOf = poolsOf(a, manifests);
  const names = [...new Set([...a.model.pools.keys(), ...manifests.filter((m) => m.kind === 'SpiderIPPool' || m.kind === 'IPPool').map((m) => m.name)])];
  const poolFor = (address: string) =>
    names.find((n) => {
      const p = poolOf(n);
      if (!p) return false;
      try {
        return p.owned.contains(parseAddress(address, 'address', p.ipVersion).value);
      } catch {
        return false;
      }
    });
  const claims = claimsOf(docs, poolFor);
  return { plan: planAdoption(a.model, claims, poolOf), claims, manifests };
}

const holder = (c: AdoptClaim) => `${c.endpoint.namespace}/${c.endpoint.name}/${c.endpoint.nic}`;

export async function adopt(g: GlobalOptions, o: AdoptOptions): Promise<void> {
  if (!wantsDirect(g)) throw new CliError('ipam adopt works on etcd directly: give --etcd ENDPOINTS (or set ETCD_ENDPOINTS)');
  const text = o.file === '-' ? readFileSync(0, 'utf8') : readFileSync(o.file, 'utf8');
  const docs = readAdoptInput(text, o.file === '-' ? 'stdin' : o.file);
  const d = await openDirectAllocator(g);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const suffix = o.dryRun ? ' (dry run)' : '';
  try {
    const { plan, claims, manifests } = planInput(d.allocator, docs);
    for (const c of plan.conflicts) process.stderr.write(`conflict: ${c.address} (pool ${c.pool}): ${c.why} [${c.sources.join('; ')}]\n`);
    if (plan.conflicts.length > 0) throw new AdoptConflictError(`${plan.conflicts.length} conflict(s); nothing adopted, nothing written. Resolve them in the input (or release the address) and run again.`);
    const meta = await recordedMetadata(d.allocator);
    const at = new Date().toISOString();
    for (const m of manifests) {
      const exists = m.kind === 'SpiderSubnet' ? d.allocator.model.subnets.has(m.name) : m.kind === 'SpiderReservedIP' ? d.allocator.model.reservations.has(m.name) : d.allocator.model.pools.has(m.name);
      if (exists) continue; // the log's definition stands; only allocations are adopted into it
      await applyDirect(d.allocator, m, { file: o.file, dryRun: o.dryRun, validate: 'warn', adopting: true }, meta);
      say(`${m.kind.toLowerCase()}/${m.name} created${suffix}`);
    }
    for (const c of plan.held) say(`${c.address} ${holder(c)} (pool ${c.pool}): already in the log`);
    if (o.dryRun) {
      for (const c of plan.adopt) say(`${c.address} ${holder(c)} (pool ${c.pool}) adopted${suffix} [${c.source}]`);
      say(`${plan.adopt.length} of ${claims.length} claim(s) would be adopted, ${plan.held.length} already held${suffix}`);
      return;
    }
    const r = await d.allocator.adopt(plan.adopt, { at });
    for (const c of r.conflicts) process.stderr.write(`conflict: ${c.address} (pool ${c.pool}): ${c.why} [${c.sources.join('; ')}]\n`);
    if (r.conflicts.length > 0) throw new AdoptConflictError(`${r.conflicts.length} conflict(s) with a concurrent writer after ${r.adopted} adopted; run again to adopt the rest`);
    for (const c of plan.adopt) say(`${c.address} ${holder(c)} (pool ${c.pool}) adopted [${c.source}]`);
    say(`${r.adopted} of ${claims.length} claim(s) adopted, ${plan.held.length} already held`);
  } finally {
    await d.close();
  }
}

/** Conflicts: exit 1 (the input is well-formed; the state refuses it). */
export class AdoptConflictError extends Error {}
