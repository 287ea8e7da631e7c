// etcd's own count of slow disk operations (WAL fsyncs and backend commits over 16 ms), read from its /metrics: a
// run whose tail latency jumped can be told apart from one where the disk stalled under etcd.
export interface EtcdStalls {
  readonly fsync: number;
  readonly commit: number;
}

const SLOW = '0.016';

function slowCount(text: string, metric: string): number {
  let total = 0;
  let fast = 0;
  for (const m of text.matchAll(new RegExp(`^${metric}_bucket\\{le="([^"]+)"\\} (\\d+)$`, 'gm'))) {
    if (m[1] === SLOW) fast = Number(m[2]);
    if (m[1] === '+Inf') total = Number(m[2]);
  }
  return total - fast;
}

/** Summed over the members; undefined when a member's metrics cannot be read (TLS, an etcd elsewhere). */
export async function etcdStalls(endpoints: readonly string[]): Promise<EtcdStalls | undefined> {
  let fsync = 0;
  let commit = 0;
  for (const e of endpoints) {
    if (!e.startsWith('http://')) return undefined;
    try {
      const text = await (await fetch(`${e}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
      fsync += slowCount(text, 'etcd_disk_wal_fsync_duration_seconds');
      commit += slowCount(text, 'etcd_disk_backend_commit_duration_seconds');
    } catch {
      return undefined;
    }
  }
  return { fsync, commit };
}

export function stallsBetween(before: EtcdStalls | undefined, after: EtcdStalls | undefined): EtcdStalls | undefined {
  return before && after ? { fsync: after.fsync - before.fsync, commit: after.commit - before.commit } : undefined;
}
