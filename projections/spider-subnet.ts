// SpiderSubnet documents (spiderpool.spidernet.io/v2beta1): the subnet's spec and the IPs carved to its pools.
import { produce, type Draft } from 'immer';
import type { EventType, IpVersion, LoggedEvent, SubnetSpec } from '../events/catalogue.js';
import { compileSubnet } from '../src/alloc/spec.js';
import { parseIpList } from '../src/net/ranges.js';
import { copyJson } from './pool-common.js';
import { SPIDERPOOL_API_VERSION } from './spider-ippool.js';
import type { DocumentState, K8sObject, Projection } from './types.js';

/** Spiderpool's PoolIPPreAllocation. */
export interface SpiderSubnetPoolIPs {
  readonly ips: readonly string[];
}

export interface SpiderSubnetStatus {
  /** Pool name -> the subnet IPs carved to it. */
  readonly controlledIPPools: Readonly<Record<string, SpiderSubnetPoolIPs>>;
  /** Addresses in spec.ips minus spec.excludeIPs (0 when the spec does not compile). */
  readonly totalIPCount: number;
  /** Addresses carved to pools. */
  readonly allocatedIPCount: number;
}

export type SpiderSubnetObject = K8sObject<SubnetSpec, SpiderSubnetStatus> & {
  readonly metadata: { readonly name: string };
  readonly spec: SubnetSpec;
  readonly status: SpiderSubnetStatus;
};

export interface SpiderSubnetState extends DocumentState<SpiderSubnetObject> {
  /** subnet -> pool -> carved IPs; kept for subnets not (yet) defined too, so the order of events does not matter. */
  readonly carved: Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;
}

const HANDLES = ['SubnetDefined', 'SubnetChanged', 'SubnetRemoved', 'PoolCarved', 'PoolReturned'] as const satisfies readonly EventType[];

export function subnetTotalIPCount(name: string, spec: SubnetSpec): number {
  try {
    return Number(compileSubnet(name, spec).subnet.owned.size());
  } catch {
    return 0;
  }
}

/** How many addresses a Spiderpool ips list names; 0 when it does not parse. */
export function countIps(ips: readonly string[], family: IpVersion): number {
  try {
    return Number(parseIpList(ips, family, 'ips').size());
  } catch {
    return 0;
  }
}

function familyOf(spec: SubnetSpec): IpVersion {
  if (spec.ipVersion === 4 || spec.ipVersion === 6) return spec.ipVersion;
  return typeof spec.subnet === 'string' && spec.subnet.includes(':') ? 6 : 4;
}

function status(spec: SubnetSpec, name: string, carved: Readonly<Record<string, readonly string[]>> | undefined): SpiderSubnetStatus {
  const controlledIPPools: Record<string, SpiderSubnetPoolIPs> = {};
  let allocated = 0;
  const family = familyOf(spec);
  for (const [pool, ips] of Object.entries(carved ?? {})) {
    controlledIPPools[pool] = { ips: [...ips] };
    allocated += countIps(ips, family);
  }
  return { controlledIPPools, totalIPCount: subnetTotalIPCount(name, spec), allocatedIPCount: allocated };
}

/** Re-renders one subnet's object from its spec and the carve index (config events only: O(pools of the subnet)). */
function refresh(d: Draft<SpiderSubnetState>, name: string, spec: SubnetSpec | undefined): void {
  if (spec === undefined) {
    const obj = d.objects[name];
    if (obj === undefined) return; // not defined (yet): the carve index keeps what it will show
    obj.status = status(obj.spec as SubnetSpec, name, d.carved[name]) as Draft<SpiderSubnetStatus>;
    return;
  }
  d.objects[name] = {
    apiVersion: SPIDERPOOL_API_VERSION,
    kind: 'SpiderSubnet',
    metadata: { name },
    spec: copyJson(spec),
    status: status(spec, name, d.carved[name]),
  } as Draft<SpiderSubnetObject>;
}

export const spiderSubnetProjection: Projection<SpiderSubnetState> = {
  name: 'spider-subnet',
  version: 1,
  handles: HANDLES,
  initial: () => ({ objects: {}, carved: {} }),
  apply(state, events: readonly LoggedEvent[]) {
    if (events.length === 0) return state;
    return produce(state, (d) => {
      (d as { carved?: object }).carved ??= {}; // a bare DocumentState ({objects} only) starts with no carves
      for (const { event: e } of events) {
        switch (e.type) {
          case 'SubnetDefined':
          case 'SubnetChanged':
            refresh(d, e.data.name, e.data.spec);
            break;
          case 'SubnetRemoved':
            delete d.objects[e.data.name];
            delete d.carved[e.data.name];
            break;
          case 'PoolCarved':
            // The pool's full set of IPs in the subnet after the change.
            (d.carved[e.data.subnet] ??= {})[e.data.pool] = [...e.data.ips];
            refresh(d, e.data.subnet, undefined);
            break;
          case 'PoolReturned': {
            const pools = d.carved[e.data.subnet];
            if (pools === undefined || !Object.prototype.hasOwnProperty.call(pools, e.data.pool)) break;
            delete pools[e.data.pool];
            if (Object.keys(pools).length === 0) delete d.carved[e.data.subnet];
            refresh(d, e.data.subnet, undefined);
            break;
          }
          default:
            break; // not handled by this projection
        }
      }
    });
  },
};
