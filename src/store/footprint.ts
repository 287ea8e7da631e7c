// How much of etcd the engine occupies: keys and bytes under its prefix, and etcd's own db size against its quota.
// Bounded cost: key counts are count-only ranges (etcd counts, nothing is sent); bytes come from reading at most
// `maxScanKeys` keys or `maxScanBytes` bytes, in small pages, and are extrapolated beyond that (`prefixBytesExact: false`).
import type { Etcd3 } from 'etcd3';
import type { KeyLayout } from './keys.js';

/** etcd's default --quota-backend-bytes (2 GiB): what a cluster's etcd has unless its operator changed it. */
export const DEFAULT_ETCD_QUOTA_BYTES = 2 * 1024 * 1024 * 1024;
export const DEFAULT_MAX_SCAN_KEYS = 10_000;
/**
 * Bytes read per measurement at most. Log records are ~6 KB each (a txn's members): 10,000 keys of a large log were
 * ~60 MB of response buffers every minute (the daemon's unexplained "external" memory, garbage until a full GC).
 */
export const DEFAULT_MAX_SCAN_BYTES = 1024 * 1024;
/** Keys per range request of the scan, doubling from the first: a page of log records stays well under a MiB. */
const FIRST_PAGE = 8;
const PAGE = 64;

export interface Footprint {
  /** Keys under the prefix, and per section. */
  readonly prefixKeys: number;
  readonly logKeys: number;
  readonly tagKeys: number;
  /** Key + value bytes under the prefix (exact when prefixBytesExact, else extrapolated from the keys read). */
  readonly prefixBytes: number;
  readonly prefixBytesExact: boolean;
  /** etcd's backend size, allocated and in use (maintenance Status); undefined when etcd does not say. */
  readonly dbSizeBytes: number | undefined;
  readonly dbSizeInUseBytes: number | undefined;
  /** etcd's quota: from its /metrics when reachable, else the configured value. */
  readonly quotaBytes: number;
  readonly quotaFrom: 'etcd-metrics' | 'configured';
}

export interface FootprintOptions {
  /** The quota when etcd's /metrics cannot tell (serve --etcd-quota-bytes; default 2 GiB). */
  readonly quotaBytes?: number;
  /** etcd client URLs whose /metrics may give etcd_server_quota_backend_bytes (plain http only). */
  readonly metricsEndpoints?: readonly string[];
  readonly maxScanKeys?: number;
  /** Stop the byte scan once this many key + value bytes were read (default DEFAULT_MAX_SCAN_BYTES). */
  readonly maxScanBytes?: number;
}

/** Measures the footprint once; the lifecycle's byte budget can take this as an injected function. */
export async function footprint(client: Etcd3, keys: KeyLayout, opts: FootprintOptions = {}): Promise<Footprint> {
  const [prefixKeys, logKeys, tagKeys, bytes, status, quota] = await Promise.all([
    countUnder(client, keys.prefix),
    countUnder(client, keys.logPrefix),
    countUnder(client, keys.tagPrefix),
    scanBytes(client, keys.prefix, opts.maxScanKeys ?? DEFAULT_MAX_SCAN_KEYS, opts.maxScanBytes ?? DEFAULT_MAX_SCAN_BYTES),
    client.maintenance.status().catch(() => undefined),
    quotaFromMetrics(opts.metricsEndpoints ?? []),
  ]);
  const exact = bytes.keys >= prefixKeys;
  return {
    prefixKeys,
    logKeys,
    tagKeys,
    prefixBytes: exact || bytes.keys === 0 ? bytes.bytes : Math.round((bytes.bytes / bytes.keys) * prefixKeys),
    prefixBytesExact: exact,
    dbSizeBytes: status ? Number(status.dbSize) : undefined,
    dbSizeInUseBytes: status && status.dbSizeInUse !== undefined ? Number(status.dbSizeInUse) : undefined,
    quotaBytes: quota ?? opts.quotaBytes ?? DEFAULT_ETCD_QUOTA_BYTES,
    quotaFrom: quota !== undefined ? 'etcd-metrics' : 'configured',
  };
}

export function rangeEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1]! += 1; // prefixes end in "/": never 0xff
  return end;
}

async function countUnder(client: Etcd3, prefix: string): Promise<number> {
  const res = await client.kv.range({ key: Buffer.from(prefix), range_end: rangeEnd(prefix), count_only: true });
  return Number(res.count);
}

/** Key + value bytes of the first keys under the prefix, in pages, until `max` keys or `maxBytes` bytes were read. */
async function scanBytes(client: Etcd3, prefix: string, max: number, maxBytes: number): Promise<{ keys: number; bytes: number }> {
  const end = rangeEnd(prefix);
  let from = Buffer.from(prefix);
  let keys = 0;
  let bytes = 0;
  for (let page = FIRST_PAGE; keys < max && bytes < maxBytes; page = Math.min(PAGE, page * 2)) {
    const res = await client.kv.range({ key: from, range_end: end, limit: Math.min(page, max - keys) });
    for (const kv of res.kvs) bytes += kv.key.length + kv.value.length;
    keys += res.kvs.length;
    if (!res.more || res.kvs.length === 0) break;
    from = Buffer.concat([res.kvs[res.kvs.length - 1]!.key, Buffer.from([0])]);
  }
  return { keys, bytes };
}

/** etcd_server_quota_backend_bytes from the first member whose /metrics answers (an etcd behind TLS: undefined). */
async function quotaFromMetrics(endpoints: readonly string[]): Promise<number | undefined> {
  for (const e of endpoints) {
    if (!e.startsWith('http://')) continue;
    try {
      const res = await fetch(`${e.replace(/\/$/, '')}/metrics`, { signal: AbortSignal.timeout(2000) });
      const m = /^etcd_server_quota_backend_bytes ([0-9.e+]+)$/m.exec(await res.text());
      if (m) return Number(m[1]);
    } catch {
      // not reachable: the next member, else the configured quota
    }
  }
  return undefined;
}
