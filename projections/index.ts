// Every projection the engine maintains.
import { calicoWorkloadEndpointProjection } from './calico-workload-endpoint.js';
import type { AnyProjection } from './runtime.js';
import { spiderEndpointProjection } from './spider-endpoint.js';
import { spiderIPPoolProjection } from './spider-ippool.js';
import { spiderReservedIPProjection } from './spider-reservedip.js';
import { spiderSubnetProjection } from './spider-subnet.js';
import { whereaboutsIPPoolProjection } from './whereabouts-ippool.js';

export const ALL_PROJECTIONS: readonly AnyProjection[] = [
  spiderSubnetProjection,
  spiderIPPoolProjection,
  whereaboutsIPPoolProjection,
  spiderEndpointProjection,
  calicoWorkloadEndpointProjection,
  spiderReservedIPProjection,
];

export { calicoWorkloadEndpointProjection, spiderEndpointProjection, spiderIPPoolProjection, spiderReservedIPProjection, spiderSubnetProjection, whereaboutsIPPoolProjection };
