// SpiderSubnet documents (spiderpool.spidernet.io/v2beta1): the subnet's spec and the IPs carved to its pools.
import { nextOrigin, originMeta, sameJson, type ObjectOrigin } from '../events/object-origin.js';
import type { EventType, IpVersion, LoggedEvent, ObjectMeta, SubnetSpec } from '../events/catalogue.js';
import { compileSubnet } from '../src/alloc/spec.js';
import { parseIpList } from '../src/net/ranges.js';
import { encodeControlledIPPools } from '../src/upstream/spiderpool/status.js';
import { Documents, own } from './documents.js';
import { copyJson, ipCount, userMetadata } from './pool-common.js';
import { SPIDERPOOL_API_VERSION } from './spider-ippool.js';
import type { DocumentProjection, K8sObject } from './types.js';

export interface SpiderSubnetStatus {
  /**
   * Pool name -> the subnet IPs carved to it, as v2beta1 has it: a string of JSON, {"<pool>":{"ips":[...]}}, keys
   * sorted; absent when no pool is carved (src/upstream/spiderpool/status.ts).
   */
  readonly controlledIPPools?: string;
  /** Addresses in spec.ips minus spec.excludeIPs (0 when the spec does not compile); saturates at 2^53 - 1. */
  readonly totalIPCount: number;
  /** Addresses carved to pools. */
  readonly allocatedIPCount: number;
}

export type SpiderSubnetObject = K8sObject<SubnetSpec, SpiderSubnetStatus> & {
  readonly metadata: { readonly name: string; readonly labels?: Readonly<Record<string, string>>; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: SubnetSpec;
  readonly status: SpiderSubnetStatus;
};

/** One subnet: its definition (absent until defined) and the IPs carved to each pool. Immutable, replaced per change. */
export interface SubnetRecord {
  readonly name: string;
  readonly spec?: SubnetSpec;
  readonly metadata?: ObjectMeta;
  /** uid, creationTimestamp and generation from the defining event (absent in checkpoints older than origins). */
  readonly origin?: ObjectOrigin;
  /** pool -> its full set of IPs in this subnet; kept for subnets not (yet) defined too. */
  readonly carved: Readonly<Record<string, readonly string[]>>;
}

const HANDLES = ['SubnetDefined', 'SubnetChanged', 'SubnetRemoved', 'PoolCarved', 'PoolReturned'] as const satisfies readonly EventType[];

export function subnetTotalIPCount(name: string, spec: SubnetSpec): number {
  try {
    return ipCount(compileSubnet(name, spec).subnet.owned.size());
  } catch {
    return 0;
  }
}

/** How many addresses a Spiderpool ips list names; 0 when it does not parse. */
export function countIps(ips: readonly string[], family: IpVersion): number {
  try {
    return ipCount(parseIpList(ips, family, 'ips').size());
  } catch {
    return 0;
  }
}

function familyOf(spec: SubnetSpec): IpVersion {
  if (spec.ipVersion === 4 || spec.ipVersion === 6) return spec.ipVersion;
  return typeof spec.subnet === 'string' && spec.subnet.includes(':') ? 6 : 4;
}

function status(spec: SubnetSpec, name: string, carved: Readonly<Record<string, readonly string[]>>): SpiderSubnetStatus {
  let allocated = 0;
  const family = familyOf(spec);
  for (const ips of Object.values(carved)) allocated = Math.min(Number.MAX_SAFE_INTEGER, allocated + countIps(ips, family));
  const controlledIPPools = encodeControlledIPPools(Object.entries(carved).map(([pool, ips]) => [pool, { ips }] as const));
  return { ...(controlledIPPools !== undefined ? { controlledIPPools } : {}), totalIPCount: subnetTotalIPCount(name, spec), allocatedIPCount: allocated };
}

function render(r: SubnetRecord): SpiderSubnetObject {
  const spec = r.spec!; // only defined subnets have objects
  return {
    apiVersion: SPIDERPOOL_API_VERSION,
    kind: 'SpiderSubnet',
    metadata: { name: r.name, ...originMeta(r.origin), ...userMetadata(r) },
    spec,
    status: status(spec, r.name, r.carved),
  };
}

function copyRecord(r: SubnetRecord): SubnetRecord {
  const carved: Record<string, readonly string[]> = {};
  for (const [pool, ips] of Object.entries(r.carved)) carved[pool] = [...ips];
  return { name: r.name, ...(r.spec !== undefined ? { spec: copyJson(r.spec) } : {}), ...(r.metadata !== undefined ? { metadata: copyJson(r.metadata) } : {}), ...(r.origin !== undefined ? { origin: r.origin } : {}), carved };
}

/** SpiderSubnet state: one record per subnet that is defined or has carves. Config events only: small. */
export class SpiderSubnets extends Documents<SubnetRecord> {
  private readonly subnets = new Map<string, SubnetRecord>();
  private defined = 0;

  constructor(json?: unknown) {
    super();
    if (json === undefined) return;
    const list = (json as { subnets?: unknown } | null)?.subnets;
    if (!Array.isArray(list)) throw new Error('spider-subnet: checkpoint has no subnets list');
    for (const raw of list as SubnetRecord[]) this.put(raw.name, copyRecord(raw));
  }

  get size(): number {
    return this.defined;
  }

  protected recordOf(key: string): SubnetRecord | undefined {
    const r = this.subnets.get(key);
    return r?.spec === undefined ? undefined : r;
  }

  protected render(r: SubnetRecord): K8sObject {
    return render(r);
  }

  protected *objectKeys(): Iterable<string> {
    for (const r of this.subnets.values()) if (r.spec !== undefined) yield r.name;
  }

  toJSON(): { subnets: SubnetRecord[] } {
    return { subnets: [...this.subnets.values()] };
  }

  private put(name: string, r: SubnetRecord | undefined): void {
    this.touch(name);
    const was = this.subnets.get(name);
    if (was?.spec !== undefined) this.defined--;
    if (r === undefined || (r.spec === undefined && Object.keys(r.carved).length === 0)) {
      this.subnets.delete(name);
      return;
    }
    if (r.spec !== undefined) this.defined++;
    this.subnets.set(name, r);
  }

  define(name: string, spec: SubnetSpec, metadata: ObjectMeta | undefined, event: { readonly id: string; readonly at: string }): void {
    const was = this.subnets.get(name);
    const carved = was?.carved ?? {};
    const defined = was?.spec !== undefined ? was : undefined;
    const origin = nextOrigin(defined?.origin, event, defined === undefined || !sameJson(defined.spec, spec));
    this.put(name, { name, spec: copyJson(spec), ...(metadata !== undefined ? { metadata: copyJson(metadata) } : {}), origin, carved });
  }

  remove(name: string): void {
    if (this.subnets.has(name)) this.put(name, undefined);
  }

  /** The pool's full set of IPs in the subnet after the change. */
  carve(subnet: string, pool: string, ips: readonly string[]): void {
    const was = this.subnets.get(subnet) ?? { name: subnet, carved: {} };
    this.put(subnet, { ...was, carved: { ...was.carved, [pool]: [...ips] } });
  }

  giveBack(subnet: string, pool: string): void {
    const was = this.subnets.get(subnet);
    if (was === undefined || !own(was.carved, pool)) return;
    const carved = { ...was.carved };
    delete carved[pool];
    this.put(subnet, { ...was, carved });
  }
}

export const spiderSubnetProjection: DocumentProjection<SpiderSubnets> = {
  name: 'spider-subnet',
  version: 2,
  handles: HANDLES,
  initial: () => new SpiderSubnets(),
  restore: (json) => new SpiderSubnets(json),
  apply(state, events: readonly LoggedEvent[]) {
    for (const { event: e } of events) {
      switch (e.type) {
        case 'SubnetDefined':
        case 'SubnetChanged':
          state.define(e.data.name, e.data.spec, e.data.metadata, e);
          break;
        case 'SubnetRemoved':
          state.remove(e.data.name);
          break;
        case 'PoolCarved':
          state.carve(e.data.subnet, e.data.pool, e.data.ips);
          break;
        case 'PoolReturned':
          state.giveBack(e.data.subnet, e.data.pool);
          break;
        default:
          break; // not handled by this projection
      }
    }
    return state;
  },
};

/** The SpiderSubnet projection's state. */
export type SpiderSubnetState = SpiderSubnets;
