// Spiderpool's own IPAM settings in a network configuration (cmd/spiderpool/cmd/cni_types.go, IPAMConfig), so a
// config written for `"type": "spiderpool"` works unchanged with this plugin: default_ipv4_ippool and
// default_ipv6_ippool are the CNI-configuration level of pool selection, clean_gateway drops the gateway from the
// result; log settings and the agent's socket path are Spiderpool's own plumbing, accepted and ignored.
import type { PoolNames } from './selection-annotations.js';

export const SPIDERPOOL_IPAM_KEYS = [
  'default_ipv4_ippool',
  'default_ipv6_ippool',
  'clean_gateway',
  'match_master_subnet',
  'log_level',
  'log_file_path',
  'log_file_max_size',
  'log_file_max_age',
  'log_file_max_count',
  'ipam_unix_socket_path',
] as const;

export interface SpiderpoolNetConf {
  readonly pools?: PoolNames;
  readonly cleanGateway: boolean;
}

/** Reads the Spiderpool keys of `ipam`; `bad(field, reason)` makes the caller's error (CNI error 7 naming the field). */
export function parseSpiderpoolIpam(ipam: Readonly<Record<string, unknown>>, bad: (field: string, reason: string) => Error, checkName: (name: string, field: string) => void): SpiderpoolNetConf {
  const list = (key: 'default_ipv4_ippool' | 'default_ipv6_ippool'): string[] | undefined => {
    const v = ipam[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === '')) throw bad(`ipam.${key}`, `must be a list of pool names, got ${JSON.stringify(v).slice(0, 80)}`);
    v.forEach((n, i) => checkName(n as string, `ipam.${key}[${i}]`));
    return v as string[];
  };
  const ipv4 = list('default_ipv4_ippool');
  const ipv6 = list('default_ipv6_ippool');
  for (const key of ['clean_gateway', 'match_master_subnet'] as const) {
    const v = ipam[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw bad(`ipam.${key}`, `must be true or false, got ${JSON.stringify(v)}`);
  }
  // Matching the SR-IOV PF's subnet needs the pod's netns and the PF's addresses: not done here, so never pretend.
  if (ipam.match_master_subnet === true) throw bad('ipam.match_master_subnet', 'is not supported by this plugin (it needs the SR-IOV PF subnet of the pod netns); leave it false');
  const pools = ipv4?.length || ipv6?.length ? { ...(ipv4?.length ? { ipv4 } : {}), ...(ipv6?.length ? { ipv6 } : {}) } : undefined;
  return { ...(pools ? { pools } : {}), cleanGateway: ipam.clean_gateway === true };
}
