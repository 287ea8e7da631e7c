// Whereabouts ranges become pools on first use, under Whereabouts' IPPool name. An IPPool is its range (network
// and CIDR); the window a configuration hands out from travels with each ADD, so a pool that exists is used as it
// is, whoever defined it, as long as it is the same range.
import type { Allocator } from '../alloc/allocator.js';
import { isAllocError } from '../alloc/errors.js';
import type { WhereaboutsPool } from '../upstream/whereabouts/pools.js';
import { invalid } from './config.js';

export class RangePools {
  /** Definitions in flight, so concurrent ADDs on a new range define its pool once. */
  private readonly defining = new Map<string, Promise<void>>();

  constructor(private readonly allocator: Allocator) {}

  async ensure(pools: readonly WhereaboutsPool[], at: string): Promise<void> {
    await Promise.all(pools.map((p) => this.ensureOne(p, at)));
  }

  private async ensureOne(p: WhereaboutsPool, at: string): Promise<void> {
    // Two rounds: define if missing, then check what the model holds (ours, or a concurrent writer's).
    for (let round = 0; round < 2; round++) {
      const have = this.allocator.model.pools.get(p.name);
      if (have) {
        if (have.compiled.subnet === p.spec.subnet && have.compiled.ipVersion === p.spec.ipVersion) return;
        throw invalid(
          `${p.range.field}.range`,
          `pool ${p.name} already exists for subnet ${have.compiled.subnet}, not ${p.spec.subnet}; an admin defined it differently: rename or remove it`,
        );
      }
      let defining = this.defining.get(p.name);
      if (!defining) {
        defining = this.define(p, at).finally(() => this.defining.delete(p.name));
        this.defining.set(p.name, defining);
      }
      await defining;
    }
    throw invalid(`${p.range.field}.range`, `pool ${p.name} could not be defined; try again`);
  }

  private async define(p: WhereaboutsPool, at: string): Promise<void> {
    try {
      await this.allocator.definePool(p.name, p.spec, { at });
    } catch (e) {
      if (!isAllocError(e)) throw e;
      if (e.code === 'AlreadyExists') return this.allocator.sync(); // another daemon was first: read its definition
      if (e.code === 'Overlap') {
        const scope = p.spec.scope ?? 'default';
        const hint = p.spec.sharedAddresses
          ? `that pool is not a Whereabouts pool, so it does not share its addresses; ${p.spec.scope === undefined ? 'set ipam.network_name for a separate address scope' : `use another network_name than ${scope}`}`
          : 'set ipam.network_name for a separate address scope';
        throw invalid(`${p.range.field}.range`, `cannot define pool ${p.name}: it ${e.message.replace(/^spec\.ips: /, '')} in address scope ${scope} (${hint})`);
      }
      throw e;
    }
  }
}
