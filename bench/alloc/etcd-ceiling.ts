// The store's limit on this machine: raw puts of small keys in full txns, several txns in flight. No condition, no
// read: nothing an allocator writing to this etcd can beat.
import { randomBytes } from 'node:crypto';
import { openEtcd } from '../../src/store/connect.js';

export interface CeilingOptions {
  /** Keys to write in total. */
  keys: number;
  /** Txns in flight. */
  concurrency: number;
  /** Puts per txn (etcd's --max-txn-ops, 128 by default). */
  txnOps: number;
  /** Delete the keys afterwards (default true). */
  cleanup?: boolean;
}

/**
 * Keys of the unmeasured run before a process's first measurement. The client's side of the ceiling (etcd3's
 * generic txn path) is cold in a fresh process: 30-44 us of Node CPU per key in the first run against 13-16 warm
 * (2026-12-01, 6 runs in one process vs 4 fresh processes, one etcd), so the first ceiling of every `bench alloc`
 * run came out ~35% low and paired the first round with too low a ceiling.
 */
export const CEILING_WARMUP_KEYS = 10_000;
let warmed = false;

export async function measureEtcdCeiling(endpoints: string[], prefix: string, opts: CeilingOptions): Promise<{ keysPerSec: number; seconds: number }> {
  if (!(opts.keys > 0 && opts.concurrency > 0 && opts.txnOps > 0)) throw new Error('keys, concurrency and txnOps must be positive');
  if (!warmed) {
    warmed = true;
    await putKeys(endpoints, `${prefix}ceiling-warmup-`, { ...opts, keys: CEILING_WARMUP_KEYS });
  }
  return putKeys(endpoints, prefix, opts);
}

async function putKeys(endpoints: string[], prefix: string, opts: CeilingOptions): Promise<{ keysPerSec: number; seconds: number }> {
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const base = `${prefix}ceiling-${randomBytes(4).toString('hex')}/`;
  // ~200 bytes, like an allocation record; distinct per key so nothing is deduplicated anywhere.
  const filler = randomBytes(80).toString('hex');
  const value = (i: number) => Buffer.from(`{"i":${i},"pod":"bench/deploy-${i >> 4}-${i & 15}","f":"${filler.slice(0, 200 - 40)}"}`);
  try {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < opts.keys) {
          const from = next;
          const to = Math.min(opts.keys, from + opts.txnOps);
          next = to;
          const success = [];
          for (let i = from; i < to; i++) success.push({ request_put: { key: Buffer.from(`${base}${i}`), value: value(i) } });
          const res = await client.kv.txn({ success });
          if (!res.succeeded) throw new Error('unconditional txn did not succeed');
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { keysPerSec: Math.round(opts.keys / seconds), seconds: Math.round(seconds * 1000) / 1000 };
  } finally {
    if (opts.cleanup ?? true) await client.delete().prefix(base).catch(() => undefined);
    client.close();
  }
}
