// Requested addresses as the CNI conventions carry them (CONVENTIONS.md): the `ips` capability
// (runtimeConfig.ips, what Multus passes from a network selection element's "ips") and the `IP` CNI_ARGS key, each a
// list of addresses with or without a prefix length. At most one per family; a prefix, when given, must be the pool's.
import { parseAddress } from '../net/address.js';
import { invalid } from './config.js';

export interface RequestedAddress {
  readonly address: string;
  /** The prefix length written, if any (checked against the pool's once it is known). */
  readonly prefixLength?: number;
  /** Where it came from, for errors. */
  readonly source: string;
}

export interface Requested {
  readonly ipv4?: RequestedAddress;
  readonly ipv6?: RequestedAddress;
}

/** runtimeConfig.ips, else CNI_ARGS IP; undefined when neither asks for an address. */
export function requestedAddresses(raw: Readonly<Record<string, unknown>>, ipArg: string | undefined): Requested | undefined {
  const rc = raw.runtimeConfig;
  const ips = typeof rc === 'object' && rc !== null && !Array.isArray(rc) ? (rc as Record<string, unknown>).ips : undefined;
  if (ips !== undefined && ips !== null) {
    if (!Array.isArray(ips) || ips.some((x) => typeof x !== 'string')) throw invalid('runtimeConfig.ips', `must be a list of addresses such as "10.1.2.3/24", got ${JSON.stringify(ips).slice(0, 80)}`);
    if (ips.length > 0) return parseList(ips as string[], 'runtimeConfig.ips');
  }
  if (ipArg !== undefined) return parseList(ipArg.split(','), 'CNI_ARGS IP');
  return undefined;
}

export function parseList(items: readonly string[], source: string): Requested {
  const out: { ipv4?: RequestedAddress; ipv6?: RequestedAddress } = {};
  items.forEach((text, i) => {
    const field = items.length > 1 ? `${source}[${i}]` : source;
    const slash = text.indexOf('/');
    const addr = slash < 0 ? text.trim() : text.slice(0, slash).trim();
    let family: 4 | 6;
    try {
      family = parseAddress(addr, field).family;
    } catch {
      throw invalid(field, `${JSON.stringify(text)} is not an IP address (with an optional prefix length, e.g. 10.1.2.3/24)`);
    }
    let prefixLength: number | undefined;
    if (slash >= 0) {
      const p = text.slice(slash + 1);
      prefixLength = /^[0-9]{1,3}$/.test(p) ? Number(p) : NaN;
      if (!(prefixLength >= 0 && prefixLength <= (family === 4 ? 32 : 128))) throw invalid(field, `${JSON.stringify(text)} has an invalid prefix length`);
    }
    const key = family === 4 ? 'ipv4' : 'ipv6';
    if (out[key]) throw invalid(field, `asks for a second IPv${family} address (${addr} after ${out[key]!.address}); an interface gets at most one per family`);
    out[key] = { address: addr, ...(prefixLength !== undefined ? { prefixLength } : {}), source: field };
  });
  return out;
}
