// Which etcd key guards a tag. Events keep their precise tags (the log, the archive, replay and `ipam check` read
// them); the store maps each tag to the key it compares and writes when it builds a txn:
//   'address': one key per tag (tag/ip:<scope>/<address>), the layout of every log written before this build.
//   'block':   an ip:<scope>/<address> tag maps to its block of GUARD_BLOCK_ADDRESSES addresses
//              (tag/ipblock:<scope>/<base>/<prefix length>, Calico IPAM's per-block CAS); every other tag keeps its key.
// A log records its layout once, when its first store opens it empty (<prefix>layout); a log without that key but
// with commits is an 'address' log (written before layouts existed). A log keeps its layout for good.
import type { Etcd3 } from 'etcd3';
import { formatAddress, parseAddress, parseV4, type Family } from '../net/address.js';
import type { KeyLayout } from './keys.js';

export const TAG_LAYOUTS = ['address', 'block'] as const;
export type TagLayoutName = (typeof TAG_LAYOUTS)[number];

/** Addresses one block guard key covers: a /27 of IPv4, a /123 of IPv6 (Calico's blocks are /26 and /122). */
export const GUARD_BLOCK_ADDRESSES = 32;
const BLOCK_MASK = BigInt(GUARD_BLOCK_ADDRESSES - 1);
const BLOCK_BITS = Math.log2(GUARD_BLOCK_ADDRESSES);

export const IP_BLOCK_KIND = 'ipblock:';

export interface TagLayout {
  readonly name: TagLayoutName;
  /** The guard key's name (under tag/) of a precise tag. */
  guardOf(tag: string): string;
  /** True when the guard key may stand for several tags (a block): in-txn conflicts are then judged on precise tags. */
  isCoarse(key: string): boolean;
}

export const ADDRESS_LAYOUT: TagLayout = { name: 'address', guardOf: (t) => t, isCoarse: () => false };

export const BLOCK_LAYOUT: TagLayout = {
  name: 'block',
  guardOf: (t) => (t.startsWith('ip:') ? (blockOfIpTag(t) ?? t) : t),
  isCoarse: (k) => k.startsWith(IP_BLOCK_KIND),
};

export function tagLayout(name: TagLayoutName): TagLayout {
  return name === 'block' ? BLOCK_LAYOUT : ADDRESS_LAYOUT;
}

/** ip:<scope>/<address> -> ipblock:<scope>/<block base>/<prefix length>; undefined when the address does not parse. */
export function blockOfIpTag(tag: string): string | undefined {
  const slash = tag.lastIndexOf('/');
  if (slash < 3) return undefined;
  // IPv4, the common case, by string: the last octet rounded down (no bigint, no formatting); the rest must parse.
  const dot = tag.lastIndexOf('.');
  if (dot > slash && tag.indexOf(':', slash) < 0) {
    // Text without ':' is what parseAddress hands to the dotted-quad parser: the same answer, without its bigint,
    // object and exception for a refusal.
    const v = parseV4(tag.slice(slash + 1));
    return v < 0 ? undefined : `${IP_BLOCK_KIND}${tag.slice(3, dot + 1)}${v & 255 & ~(GUARD_BLOCK_ADDRESSES - 1)}/${32 - BLOCK_BITS}`;
  }
  let a: { family: Family; value: bigint };
  try {
    a = parseAddress(tag.slice(slash + 1), 'tag');
  } catch {
    return undefined; // not an address: the tag guards itself
  }
  const base = a.value & ~BLOCK_MASK;
  return `${IP_BLOCK_KIND}${tag.slice(3, slash)}/${formatAddress(a.family, base)}/${(a.family === 4 ? 32 : 128) - BLOCK_BITS}`;
}

/** The scope and the addresses (canonical text) a block guard key covers; undefined for any other key name. */
export function blockAddresses(key: string): { scope: string; addresses: string[] } | undefined {
  if (!key.startsWith(IP_BLOCK_KIND)) return undefined;
  const len = key.lastIndexOf('/');
  const at = key.lastIndexOf('/', len - 1);
  if (at < IP_BLOCK_KIND.length) return undefined;
  let a: { family: Family; value: bigint };
  try {
    a = parseAddress(key.slice(at + 1, len), 'block');
  } catch {
    return undefined;
  }
  const addresses: string[] = [];
  for (let i = 0n; i < BigInt(GUARD_BLOCK_ADDRESSES); i++) addresses.push(formatAddress(a.family, a.value + i));
  return { scope: key.slice(IP_BLOCK_KIND.length, at), addresses };
}

export class UnknownTagLayout extends Error {
  readonly code = 'UnknownTagLayout';
  constructor(value: string) {
    super(`the log's tag layout ${JSON.stringify(value)} is not one this build knows (${TAG_LAYOUTS.join(', ')}): run a build at least as new as the one that created the log`);
  }
}

function parseRecorded(value: string): TagLayout {
  let rec: { tagLayout?: unknown; ipBlockAddresses?: unknown };
  try {
    rec = JSON.parse(value) as typeof rec;
  } catch {
    throw new UnknownTagLayout(value);
  }
  if (rec.tagLayout === 'address') return ADDRESS_LAYOUT;
  // Another block size would map tags to other keys than every other writer's: refuse it rather than guess.
  if (rec.tagLayout === 'block' && rec.ipBlockAddresses === GUARD_BLOCK_ADDRESSES) return BLOCK_LAYOUT;
  throw new UnknownTagLayout(value);
}

/** The layout the log at `keys` uses: recorded, or 'address' for a log with commits but no record. */
export async function readTagLayout(client: Etcd3, keys: KeyLayout): Promise<TagLayout | undefined> {
  const [layout, head] = await Promise.all([client.kv.range({ key: Buffer.from(keys.tagLayout) }), client.kv.range({ key: Buffer.from(keys.head), keys_only: true })]);
  if (layout.kvs[0]) return parseRecorded(layout.kvs[0].value.toString());
  return head.kvs[0] ? ADDRESS_LAYOUT : undefined;
}

/** The layout a store writes with; `provisional` when it is 'address' on a log that was empty and records nothing. */
export interface ResolvedLayout {
  readonly layout: TagLayout;
  /**
   * 'address' chosen on an empty log without recording it (so opening writes nothing): until its first commit lands,
   * every txn also compares that the layout key is still absent (a store recording 'block' meanwhile wins).
   */
  readonly provisional: boolean;
}

/**
 * The log's layout. On an empty log (no head, no record) 'block' is recorded first, atomically (two stores opening
 * one empty log agree on whichever recorded first); 'address' is not recorded (absence means it), see provisional.
 */
export async function resolveTagLayout(client: Etcd3, keys: KeyLayout, wanted: TagLayoutName): Promise<ResolvedLayout> {
  for (;;) {
    const known = await readTagLayout(client, keys);
    if (known) return { layout: known, provisional: false };
    if (wanted === 'address') return { layout: ADDRESS_LAYOUT, provisional: true };
    const res = await client.kv.txn({
      compare: [
        { key: Buffer.from(keys.tagLayout), target: 'Version', result: 'Equal', version: 0 },
        { key: Buffer.from(keys.head), target: 'Version', result: 'Equal', version: 0 },
      ],
      success: [{ request_put: { key: Buffer.from(keys.tagLayout), value: Buffer.from(JSON.stringify({ tagLayout: 'block', ipBlockAddresses: GUARD_BLOCK_ADDRESSES })) } }],
    });
    if (res.succeeded) return { layout: BLOCK_LAYOUT, provisional: false };
  }
}

/** The layout a store creates a new log with: IPAM_TAG_LAYOUT when set (to run a suite under the other one), else `fallback`. */
export function defaultTagLayout(fallback: TagLayoutName): TagLayoutName {
  const env = process.env.IPAM_TAG_LAYOUT;
  if (env === undefined || env === '') return fallback;
  if (!(TAG_LAYOUTS as readonly string[]).includes(env)) throw new Error(`IPAM_TAG_LAYOUT: must be one of ${TAG_LAYOUTS.join(', ')}, got ${JSON.stringify(env)}`);
  return env as TagLayoutName;
}
