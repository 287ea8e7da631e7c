// Tag builders: one place that spells each tag, so writers and readers agree.
export const DEFAULT_SCOPE = 'default';

export const Tag = {
  ip: (scope: string, address: string) => `ip:${scope}/${address}`,
  endpoint: (namespace: string, pod: string, nic: string) => `ep:${namespace}/${pod}/${nic}`,
  pool: (name: string) => `pool:${name}`,
  poolConfig: (name: string) => `poolcfg:${name}`,
  subnet: (name: string) => `subnet:${name}`,
  reservation: (name: string) => `reserved:${name}`,
  /** Written by every reservation change; checked by allocations so a new reservation never races an allocation. */
  reservations: () => 'reservations',
} as const;
