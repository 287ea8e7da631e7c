// The baseline: what Spiderpool and Whereabouts do. The whole pool is ONE etcd key holding a JSON document
// { allocated: { [address]: podRef } }. Allocate = read it (value + mod_revision), take the lowest free address,
// write the whole document back conditioned on the revision read; on conflict re-read at once and try again
// (no lock, no backoff). Every allocation rewrites the whole pool, and all writers race for one key.
import { randomBytes } from 'node:crypto';
import type { Etcd3 } from 'etcd3';
import { openEtcd } from '../../src/store/connect.js';
import { podRef, type AllocOutcome, type Allocator, type AllocatorContext, type AllocatorFactory } from './types.js';

export interface PoolDocument {
  allocated: Record<string, string>;
}

/** An IPv4 pool: `first`..`last` are the usable addresses (network and broadcast excluded), as 32-bit numbers. */
export interface Ipv4Pool {
  cidr: string;
  network: number;
  first: number;
  last: number;
  size: number;
}

/** Parses an IPv4 CIDR between /16 and /30 (the bench's range: JSON pool documents of a /16 are already MiBs). */
export function parseIpv4Pool(cidr: string): Ipv4Pool {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr.trim());
  if (!m) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const octets = m.slice(1, 5).map(Number);
  if (octets.some((o) => o > 255)) throw new Error(`not an IPv4 CIDR: ${cidr}`);
  const bits = Number(m[5]);
  if (bits < 16 || bits > 30) throw new Error(`pool prefix must be /16../30, got /${bits}`);
  const addr = octets.reduce((a, o) => a * 256 + o, 0);
  const span = 2 ** (32 - bits);
  const network = addr - (addr % span);
  return { cidr, network, first: network + 1, last: network + span - 2, size: span - 2 };
}

export function ipv4ToString(n: number): string {
  return `${Math.floor(n / 2 ** 24) % 256}.${Math.floor(n / 2 ** 16) % 256}.${Math.floor(n / 2 ** 8) % 256}.${n % 256}`;
}

export function ipv4ToNumber(s: string): number {
  const p = s.split('.').map(Number);
  if (p.length !== 4 || p.some((o) => !Number.isInteger(o) || o < 0 || o > 255)) throw new Error(`not an IPv4 address: ${s}`);
  return p.reduce((a, o) => a * 256 + o, 0);
}

/** The lowest usable address of `pool` not in `allocated`, or undefined when the pool is full. */
export function lowestFree(pool: Ipv4Pool, allocated: Record<string, string>): string | undefined {
  for (let n = pool.first; n <= pool.last; n++) {
    const a = ipv4ToString(n);
    if (!Object.hasOwn(allocated, a)) return a;
  }
  return undefined;
}

export class PoolCasAllocator implements Allocator {
  private closed = false;
  /** Successful writes and lost races over the allocator's life. */
  readonly stats = { writes: 0, conflicts: 0 };

  constructor(
    private readonly client: Etcd3,
    readonly key: string,
    readonly pool: Ipv4Pool,
    private readonly maxRetries = 100_000,
  ) {}

  async allocate(requester: number, seq: number): Promise<AllocOutcome | 'exhausted'> {
    const ref = podRef(requester, seq);
    for (let conflicts = 0; conflicts <= this.maxRetries; conflicts++) {
      if (this.closed) throw new Error('pool-cas allocator closed');
      const { doc, modRevision } = await this.read();
      const address = lowestFree(this.pool, doc.allocated);
      if (address === undefined) return 'exhausted';
      doc.allocated[address] = ref;
      const value = JSON.stringify(doc);
      const cmp = modRevision === undefined ? this.client.if(this.key, 'Version', '==', 0) : this.client.if(this.key, 'Mod', '==', modRevision);
      const res = await cmp.then(this.client.put(this.key).value(value)).commit();
      if (res.succeeded) {
        this.stats.writes++;
        return { address, conflicts };
      }
      this.stats.conflicts++; // someone wrote the pool since our read: re-read immediately
    }
    throw new Error(`pool-cas: gave up after ${this.maxRetries} conflicts`);
  }

  /** The pool document as stored now, and its mod_revision (undefined when the key does not exist yet). */
  async read(): Promise<{ doc: PoolDocument; modRevision: string | undefined }> {
    const kv = (await this.client.kv.range({ key: Buffer.from(this.key) })).kvs[0];
    if (!kv) return { doc: { allocated: {} }, modRevision: undefined };
    return { doc: JSON.parse(kv.value.toString()) as PoolDocument, modRevision: kv.mod_revision };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
  }
}

/** Opens a PoolCasAllocator (its `key` and `read()` let tests and the bench inspect the final pool document). */
export const poolCasFactory = {
  name: 'pool-cas',
  async open(ctx: AllocatorContext): Promise<PoolCasAllocator> {
    const pool = parseIpv4Pool(ctx.poolCidr);
    const client = openEtcd({ endpoints: ctx.endpoints, callTimeoutMs: 30_000 });
    const key = `${ctx.prefix}pool-cas/${randomBytes(4).toString('hex')}`;
    return new PoolCasAllocator(client, key, pool);
  },
} satisfies AllocatorFactory;
