// Whereabouts-style ranges become pools on first use, under Whereabouts' IPPool name. A pool of that name defined
// differently (another network config, or an admin) is never changed from a CNI call: the ADD fails, naming the field.
import type { PoolSpec } from '../../events/catalogue.js';
import type { Allocator } from '../alloc/allocator.js';
import { isAllocError } from '../alloc/errors.js';
import { compilePool } from '../alloc/spec.js';
import { invalid } from './config.js';

export interface RangePool {
  readonly name: string;
  readonly spec: PoolSpec;
}

const MAX_CACHED = 1024;

export class RangePools {
  /** Definitions in flight, so concurrent ADDs on a new range define its pool once. */
  private readonly defining = new Map<string, Promise<void>>();
  /** name + input spec -> the normalised spec as the model holds it (compiling per ADD would cost more than the ADD). */
  private readonly normalised = new Map<string, string>();

  constructor(private readonly allocator: Allocator) {}

  async ensure(pools: readonly RangePool[], at: string): Promise<void> {
    await Promise.all(pools.map((p) => this.ensureOne(p, at)));
  }

  private async ensureOne(p: RangePool, at: string): Promise<void> {
    const want = this.normalisedSpec(p);
    // Two rounds: define if missing, then compare with what the model holds (ours, or a concurrent writer's).
    for (let round = 0; round < 2; round++) {
      const have = this.allocator.model.pools.get(p.name);
      if (have) {
        if (JSON.stringify(have.compiled.spec) === want) return;
        throw invalid(
          'ipam.range',
          `pool ${p.name} already exists for subnet ${have.compiled.subnet} with ips ${have.compiled.spec.ips.join(', ')}` +
            `${have.compiled.spec.excludeIPs?.length ? ` excluding ${have.compiled.spec.excludeIPs.join(', ')}` : ''}; this network asks for ` +
            `ips ${p.spec.ips.join(', ')}${p.spec.excludeIPs?.length ? ` excluding ${p.spec.excludeIPs.join(', ')}` : ''}` +
            ' (and its gateway and routes must match too). Use the same range settings, set ipam.network_name for a separate pool, or have an admin change the pool',
        );
      }
      let defining = this.defining.get(p.name);
      if (!defining) {
        defining = this.define(p, at).finally(() => this.defining.delete(p.name));
        this.defining.set(p.name, defining);
      }
      await defining;
    }
    throw invalid('ipam.range', `pool ${p.name} could not be defined; try again`);
  }

  private async define(p: RangePool, at: string): Promise<void> {
    try {
      await this.allocator.definePool(p.name, p.spec, { at });
    } catch (e) {
      if (!isAllocError(e)) throw e;
      if (e.code === 'AlreadyExists') return this.allocator.sync(); // another daemon was first: read its definition
      if (e.code === 'Overlap') throw invalid('ipam.range', `cannot define pool ${p.name}: it ${e.message.replace(/^spec\.ips: /, '')} in the same address scope (set ipam.network_name for a separate scope)`);
      throw e;
    }
  }

  private normalisedSpec(p: RangePool): string {
    const key = `${p.name}\n${JSON.stringify(p.spec)}`;
    let s = this.normalised.get(key);
    if (s === undefined) {
      s = JSON.stringify(compilePool(p.name, p.spec).pool.spec);
      if (this.normalised.size >= MAX_CACHED) this.normalised.clear();
      this.normalised.set(key, s);
    }
    return s;
  }
}
