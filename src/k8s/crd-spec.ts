// Pure: what a custom resource asks of the allocator (define, change, nothing), compared with what the log holds.
import type { IpVersion, ObjectMeta } from '../../events/catalogue.js';
import type { AllocatorModel } from '../alloc/model.js';
import { compilePool, compileSubnet } from '../alloc/spec.js';
import { poolSpecFromIPPool } from '../upstream/whereabouts/pools.js';
import { InputError } from '../net/errors.js';
import { parseIpList } from '../net/ranges.js';
import { sameJson } from './canonical.js';
import type { ConfigMetadataState } from './config-metadata.js';
import type { KubeObject, ResourceKind } from './resources.js';

export type ConfigTarget = 'pool' | 'subnet' | 'reservation';

export interface DesiredConfig {
  readonly target: ConfigTarget;
  /** Pool, subnet or reservation name. */
  readonly name: string;
  /** Pool or subnet spec as the user wrote it (or as Whereabouts' range translates). */
  readonly spec?: unknown;
  readonly reservation?: { readonly ipVersion: unknown; readonly ips: unknown };
  readonly metadata: ObjectMeta;
}

export type ConfigPlan = { readonly action: 'define' | 'change'; readonly desired: DesiredConfig } | { readonly action: 'none' };

export function targetOf(kind: ResourceKind): ConfigTarget {
  if (kind.kind === 'SpiderSubnet') return 'subnet';
  if (kind.kind === 'SpiderReservedIP') return 'reservation';
  return 'pool';
}

/** Labels and annotations without empty maps (an empty map and none are the same). */
export function userMetadata(o: KubeObject): ObjectMeta {
  const labels = o.metadata?.labels;
  const annotations = o.metadata?.annotations;
  return {
    ...(labels && Object.keys(labels).length > 0 ? { labels: { ...labels } } : {}),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
  };
}

function specRecord(o: KubeObject): Record<string, unknown> {
  const s = o.spec;
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new InputError('spec', 'is required: an object');
  return s as Record<string, unknown>;
}

export function desiredFromObject(kind: ResourceKind, o: KubeObject): DesiredConfig {
  const name = o.metadata?.name;
  if (!name) throw new InputError('metadata.name', 'is required');
  const metadata = userMetadata(o);
  const target = targetOf(kind);
  if (target === 'reservation') {
    const s = specRecord(o);
    return { target, name, reservation: { ipVersion: s.ipVersion, ips: s.ips }, metadata };
  }
  if (kind.kind === 'IPPool') {
    // A Whereabouts IPPool names only its range; allocations in it are Whereabouts' own and are not imported.
    const s = specRecord(o);
    return { target, name, spec: poolSpecFromIPPool({ range: s.range }, 'spec'), metadata };
  }
  return { target, name, spec: o.spec, metadata };
}

/** Define when absent, change when the spec or metadata differs, nothing when both are as recorded. */
export function planConfig(m: AllocatorModel, recorded: ConfigMetadataState, d: DesiredConfig): ConfigPlan {
  switch (d.target) {
    case 'pool': {
      const current = m.pools.get(d.name);
      if (!current) return { action: 'define', desired: d };
      const spec = compilePool(d.name, d.spec).pool.spec;
      const same = sameJson(spec, current.compiled.spec) && sameJson(d.metadata, recorded.pools[d.name] ?? {});
      return same ? { action: 'none' } : { action: 'change', desired: d };
    }
    case 'subnet': {
      const current = m.subnets.get(d.name);
      if (!current) return { action: 'define', desired: d };
      const spec = compileSubnet(d.name, d.spec).subnet.spec;
      const same = sameJson(spec, current.spec) && sameJson(d.metadata, recorded.subnets[d.name] ?? {});
      return same ? { action: 'none' } : { action: 'change', desired: d };
    }
    case 'reservation': {
      const current = m.reservations.get(d.name);
      if (!current) return { action: 'define', desired: d };
      const { ipVersion, ips } = reservationOf(d);
      return ipVersion === current.ipVersion && sameJson(ips, current.ips) ? { action: 'none' } : { action: 'change', desired: d };
    }
  }
}

/** A reservation's family and normalised ranges; throws naming the field at fault. */
function reservationOf(d: DesiredConfig): { ipVersion: IpVersion; ips: string[] } {
  const r = d.reservation!;
  if (r.ipVersion !== 4 && r.ipVersion !== 6) throw new InputError('spec.ipVersion', 'must be 4 or 6');
  if (!Array.isArray(r.ips) || r.ips.length === 0 || !r.ips.every((x) => typeof x === 'string')) throw new InputError('spec.ips', 'must be a non-empty list of addresses or ranges');
  return { ipVersion: r.ipVersion, ips: parseIpList(r.ips as string[], r.ipVersion, 'spec.ips').toStrings(r.ipVersion) };
}
