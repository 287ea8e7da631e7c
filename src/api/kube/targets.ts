// What a write to each resource becomes in the allocator: SpiderIPPool and Whereabouts IPPool are views of one
// engine pool, SpiderSubnet of a subnet, SpiderReservedIP of a reservation.
//
// Whereabouts IPPools are namespaced upstream, but the engine's pool names are cluster-wide: every pool is served as
// the IPPool <pool> in namespace kube-system (WHEREABOUTS_NAMESPACE, where Whereabouts keeps its pools), and writes
// in any other namespace are refused. spec.range is the pool's subnet; spec.allocations is the allocation log's view
// and is ignored on writes (a warning says so).
import type { PoolSpec } from '../../../events/catalogue.js';
import { poolTotalIPCount } from '../../../projections/spider-ippool.js';
import { subnetTotalIPCount } from '../../../projections/spider-subnet.js';
import { WHEREABOUTS_NAMESPACE } from '../../../projections/whereabouts-ippool.js';
import type { K8sObject } from '../../../projections/types.js';
import type { Allocator, ConfigOptions, ConfigResult } from '../../alloc/allocator.js';
import { compilePool, compileSubnet, validateName } from '../../alloc/spec.js';
import type { AllocatorModel } from '../../alloc/model.js';
import { spiderpoolAdmission } from '../../upstream/spiderpool/admission.js';
import { refuseDroppedAllocations } from '../../upstream/adopt-guard.js';
import { poolSpecFromIPPool } from '../../upstream/whereabouts/pools.js';
import { parseCidr } from '../../net/address.js';
import { InputError } from '../../net/errors.js';
import { isRecord, stableJson, unknownFields } from './meta.js';
import { groupVersion, type ResourceDef, type WriteTarget } from './resources.js';

/** A submitted spec, checked without touching the allocator. */
export interface CompiledWrite {
  /** What the allocator is given. */
  readonly spec: unknown;
  /** Unknown fields (dotted paths) and other warnings. */
  readonly unknown: readonly string[];
  readonly warnings: readonly string[];
  /** Whether the spec is what the allocator holds already. */
  same(current: K8sObject): boolean;
  /** The object as it would be after the write (dryRun answers, and the fallback answer of a write). */
  preview(def: ResourceDef, name: string, namespace: string | undefined, metadata: Record<string, unknown>, current?: K8sObject): K8sObject;
}

export interface Target {
  /** Writes that must not interleave (an engine object can have two views). */
  lockKey(name: string): string;
  /** The only namespace writes are served in, for namespaced views of cluster-wide objects. */
  readonly namespace?: string;
  compile(name: string, body: Record<string, unknown>, allocator: Allocator): CompiledWrite;
  define(a: Allocator, name: string, w: CompiledWrite, o: ConfigOptions): Promise<ConfigResult>;
  change?(a: Allocator, name: string, w: CompiledWrite, o: ConfigOptions): Promise<ConfigResult>;
  remove(a: Allocator, name: string, o: ConfigOptions): Promise<ConfigResult>;
}

const UNKNOWN = /^(.*): unknown field, ignored$/;

/** Whether an allocator warning is about an unknown field (reported per fieldValidation instead). */
export const isUnknownFieldWarning = (w: string) => UNKNOWN.test(w);

/** Splits a compiler's warnings into unknown fields and the rest. */
function split(warnings: readonly string[]): { unknown: string[]; warnings: string[] } {
  const unknown: string[] = [];
  const rest: string[] = [];
  for (const w of warnings) {
    const m = UNKNOWN.exec(w);
    if (m) unknown.push(m[1]!);
    else rest.push(w);
  }
  return { unknown, warnings: rest };
}

const envelope = (def: ResourceDef, name: string, namespace: string | undefined, metadata: Record<string, unknown>) => ({
  apiVersion: groupVersion(def),
  kind: def.kind,
  metadata: {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(isRecord(metadata.labels) ? { labels: metadata.labels } : {}),
    ...(isRecord(metadata.annotations) ? { annotations: metadata.annotations } : {}),
  },
});

type Writes = Pick<Target, 'define' | 'change' | 'remove'>;

const poolWrites: Writes = {
  define: (a, name, w, o) => a.definePool(name, w.spec, o),
  change: (a, name, w, o) => a.changePool(name, w.spec, o),
  remove: (a, name, o) => a.removePool(name, o),
};

// Spiderpool's kinds go through Spiderpool's webhooks (defaulting, refusals) inside the allocator's decision.
const admitted = { admission: spiderpoolAdmission };
const spiderPoolWrites: Writes = {
  define: (a, name, w, o) => a.definePool(name, w.spec, { ...o, ...admitted }),
  change: (a, name, w, o) => a.changePool(name, w.spec, { ...o, ...admitted }),
  remove: (a, name, o) => a.removePool(name, o),
};

/**
 * A resource whose spec is the engine object's spec (SpiderIPPool: a pool, SpiderSubnet: a subnet): the body's spec
 * goes to the allocator as written, checked by `compileSpec`; the preview keeps the current status (or `emptyStatus`)
 * with the new total.
 */
function specTarget<S>(
  lock: string,
  compileSpec: (m: AllocatorModel, name: string, spec: unknown) => { spec: S; warnings: readonly string[] },
  emptyStatus: object,
  totalIPCount: (name: string, spec: S) => number,
  writes: Writes,
): Target {
  return {
    lockKey: (name) => `${lock}/${name}`,
    compile(name, body, allocator) {
      if (lock === 'pool') refuseDroppedAllocations(allocator.model, 'SpiderIPPool', body);
      const { spec, warnings } = compileSpec(allocator.model, name, body.spec);
      return {
        spec: body.spec,
        ...split(warnings),
        same: (current) => stableJson(current.spec) === stableJson(spec),
        preview: (def, n, ns, metadata, current) => ({
          ...envelope(def, n, ns, metadata),
          spec,
          status: { ...((current?.status as object | undefined) ?? emptyStatus), totalIPCount: totalIPCount(n, spec) },
        }),
      };
    },
    ...writes,
  };
}

/** The spec as Spiderpool's webhooks would store it (create or update), compiled: what the allocator will hold. */
const poolTarget = specTarget(
  'pool',
  (m, name, spec) => {
    validateName(name);
    const { pool, warnings } = compilePool(name, spiderpoolAdmission.pool(m, name, spec, m.pools.get(name)?.compiled));
    return { spec: pool.spec, warnings };
  },
  { allocatedIPCount: 0 }, // v2beta1: no allocatedIPs string while nothing is allocated
  poolTotalIPCount,
  spiderPoolWrites,
);

const subnetTarget = specTarget(
  'subnet',
  (m, name, spec) => {
    validateName(name);
    const { subnet, warnings } = compileSubnet(name, spiderpoolAdmission.subnet(m, name, spec, m.subnets.get(name)));
    return { spec: subnet.spec, warnings };
  },
  { allocatedIPCount: 0 },
  subnetTotalIPCount,
  {
    define: (a, name, w, o) => a.defineSubnet(name, w.spec, { ...o, ...admitted }),
    change: (a, name, w, o) => a.changeSubnet(name, w.spec, { ...o, ...admitted }),
    remove: (a, name, o) => a.removeSubnet(name, o),
  },
);

/** Kept from the current pool when a Whereabouts write changes its range. */
const POOL_ONLY_FIELDS = ['default', 'disable', 'namespaceAffinity', 'namespaceName', 'nodeAffinity', 'nodeName', 'podAffinity', 'multusName', 'scope', 'vlan'] as const;

function whereaboutsSpec(spec: Record<string, unknown>, current: PoolSpec | undefined): PoolSpec {
  if (typeof spec.range !== 'string') throw new InputError('spec.range', 'is required: a CIDR such as 192.168.2.0/24');
  // Same range as the pool's subnet: the addresses stay as they are (the IPPool shows the subnet, not the ips).
  if (current && !spec.range.includes('-')) {
    const cidr = parseCidr(spec.range, 'spec.range');
    if (cidr.text === current.subnet && !cidr.hostBitsSet) return current;
  }
  const addresses = poolSpecFromIPPool({ range: spec.range }, 'spec', current?.scope);
  const kept: Record<string, unknown> = {};
  for (const k of POOL_ONLY_FIELDS) if (current?.[k] !== undefined) kept[k] = current[k];
  const sameSubnet = current?.subnet === addresses.subnet;
  return {
    ...(kept as Partial<PoolSpec>),
    ...addresses,
    ...(sameSubnet && current?.gateway ? { gateway: current.gateway } : {}),
    ...(sameSubnet && current?.routes ? { routes: current.routes } : {}),
  } as PoolSpec;
}

const whereaboutsTarget: Target = {
  lockKey: (name) => `pool/${name}`,
  namespace: WHEREABOUTS_NAMESPACE,
  compile(name, body, allocator) {
    if (!isRecord(body.spec)) throw new InputError('spec', 'must be an object {range, allocations}');
    const current = allocator.model.pools.get(name)?.compiled.spec;
    refuseDroppedAllocations(allocator.model, 'IPPool', body);
    const spec = whereaboutsSpec(body.spec, current);
    const { warnings } = compilePool(name, spec);
    const unknown = unknownFields(body.spec, ['range', 'allocations'], 'spec');
    const extra = [...warnings];
    if (isRecord(body.spec.allocations) && Object.keys(body.spec.allocations).length > 0) {
      extra.push('spec.allocations: written by the allocator from the allocation log; ignored (every entry is in the log already)');
    }
    return {
      spec,
      unknown,
      warnings: extra,
      same: () => current !== undefined && stableJson(current) === stableJson(spec),
      preview: (def, n, ns, metadata, cur) => ({
        ...envelope(def, n, ns, metadata),
        spec: { range: spec.subnet, allocations: ((cur?.spec as { allocations?: object } | undefined)?.allocations ?? {}) },
      }),
    };
  },
  ...poolWrites,
};

const reservationTarget: Target = {
  lockKey: (name) => `reservation/${name}`,
  compile(name, body, allocator) {
    if (!isRecord(body.spec)) throw new InputError('spec', 'must be an object {ipVersion, ips}');
    const current = allocator.model.reservations.get(name);
    const spec = { ...body.spec, ...spiderpoolAdmission.reservation({ ipVersion: body.spec.ipVersion, ips: body.spec.ips }, current) };
    return {
      spec,
      unknown: unknownFields(spec, ['ipVersion', 'ips'], 'spec'),
      warnings: [],
      same: (current) => stableJson(current.spec) === stableJson({ ipVersion: spec.ipVersion, ips: spec.ips }),
      preview: (def, n, ns, metadata) => ({ ...envelope(def, n, ns, metadata), spec: { ipVersion: spec.ipVersion, ips: spec.ips } }),
    };
  },
  define: (a, name, w, o) => {
    const spec = w.spec as Record<string, unknown>;
    return a.reserve(name, spec.ipVersion, spec.ips, { ...o, ...admitted });
  },
  change: (a, name, w, o) => {
    const spec = w.spec as Record<string, unknown>;
    return a.changeReservation(name, spec.ipVersion, spec.ips, o);
  },
  remove: (a, name, o) => a.unreserve(name, o),
};

export const TARGETS: { readonly [T in WriteTarget]: Target } = {
  pool: poolTarget,
  subnet: subnetTarget,
  'whereabouts-pool': whereaboutsTarget,
  reservation: reservationTarget,
};
