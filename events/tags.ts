// Tag builders: one place that spells each tag, so writers and readers agree.
export const DEFAULT_SCOPE = 'default';

export const Tag = {
  ip: (scope: string, address: string) => `ip:${scope}/${address}`,
  endpoint: (namespace: string, pod: string, nic: string) => `ep:${namespace}/${pod}/${nic}`,
  pool: (name: string) => `pool:${name}`,
  poolConfig: (name: string) => `poolcfg:${name}`,
  subnet: (name: string) => `subnet:${name}`,
  /** Touched by every pool definition change in an address scope, so two overlapping definitions cannot both land. */
  scope: (scope: string) => `scope:${scope}`,
  reservation: (name: string) => `reserved:${name}`,
  /** Written by every reservation change; checked by allocations so a new reservation never races an allocation. */
  reservations: () => 'reservations',
} as const;
