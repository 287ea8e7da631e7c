// A small projection for the CRD sources: the labels and annotations last recorded for each pool and subnet, so
// re-applying an unchanged object (same spec, same metadata) writes nothing. The allocator's model keeps specs only.
import type { EventType, ObjectMeta } from '../../events/catalogue.js';
import type { Projection } from '../../projections/types.js';

export interface ConfigMetadataState {
  readonly pools: Readonly<Record<string, ObjectMeta>>;
  readonly subnets: Readonly<Record<string, ObjectMeta>>;
}

const HANDLES = ['PoolDefined', 'PoolChanged', 'PoolRemoved', 'SubnetDefined', 'SubnetChanged', 'SubnetRemoved'] as const satisfies readonly EventType[];

export const configMetadataProjection: Projection<ConfigMetadataState> = {
  name: 'k8s-config-metadata',
  version: 1,
  handles: HANDLES,
  initial: () => ({ pools: {}, subnets: {} }),
  apply(state, events) {
    let pools = state.pools;
    let subnets = state.subnets;
    for (const { event: e } of events) {
      switch (e.type) {
        case 'PoolDefined':
        case 'PoolChanged':
          pools = { ...pools, [e.data.name]: e.data.metadata ?? {} };
          break;
        case 'PoolRemoved': {
          const { [e.data.name]: _gone, ...rest } = pools;
          pools = rest;
          break;
        }
        case 'SubnetDefined':
        case 'SubnetChanged':
          subnets = { ...subnets, [e.data.name]: e.data.metadata ?? {} };
          break;
        case 'SubnetRemoved': {
          const { [e.data.name]: _gone, ...rest } = subnets;
          subnets = rest;
          break;
        }
        default:
          break;
      }
    }
    return pools === state.pools && subnets === state.subnets ? state : { pools, subnets };
  },
};
