// Spiderpool's admission webhooks as one object the allocator's config decisions run (ConfigOptions.admission), and
// the defaulting alone for doors that compare a submitted object with what the log holds (re-apply = unchanged).
import type { Admission } from '../../alloc/decide-config.js';
import type { AllocatorModel } from '../../alloc/model.js';
import { compilePool, compileSubnet } from '../../alloc/spec.js';
import type { PoolSpec, SubnetSpec } from '../../alloc/types.js';
import { admitIPPool, defaultIPPool } from './ippool-webhook.js';
import { admitReservedIP } from './reservedip-webhook.js';
import { admitSubnet, defaultSubnet } from './subnet-webhook.js';

export const spiderpoolAdmission: Admission = {
  pool: admitIPPool,
  subnet: admitSubnet,
  reservation: admitReservedIP,
};

/** The normalised spec a SpiderIPPool would be stored with (defaults filled in, compiled); throws as the compiler does. */
export function storedPoolSpec(m: AllocatorModel, name: string, spec: unknown): { spec: PoolSpec; warnings: string[] } {
  const { pool, warnings } = compilePool(name, defaultIPPool(m, spec));
  return { spec: pool.spec, warnings };
}

export function storedSubnetSpec(name: string, spec: unknown): { spec: SubnetSpec; warnings: string[] } {
  const { subnet, warnings } = compileSubnet(name, defaultSubnet(spec));
  return { spec: subnet.spec, warnings };
}
