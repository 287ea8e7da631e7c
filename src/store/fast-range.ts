// Range requests for the log reader over etcd3's own pooled channel (TLS, auth, retries as every other call), with
// a hand-written RangeRequest encoding and a RangeResponse decoding that keeps each key and value as a view of the
// response buffer: etcd3's generic path decodes through protobufjs into fresh Buffers and revision strings, which
// cost the reader more CPU than etcd spent serving the page. Field numbers: etcd's api/etcdserverpb/rpc.proto.
import type { Etcd3 } from 'etcd3';
import { Reader, Writer, lenField, readHeaderRevision, readKeyValue, varintSize, type WireKeyValue } from './proto.js';

export interface WireRange {
  readonly key: Buffer;
  readonly rangeEnd?: Buffer;
  /** At most this many keys (0: no limit). */
  readonly limit?: number;
  readonly minModRevision?: number;
  readonly maxModRevision?: number;
}

export interface WireRangeResponse {
  /** The store's revision when etcd served the range. */
  readonly revision: number;
  /** Views of one response buffer: a caller keeping one for long copies it (the page is released with it). */
  readonly kvs: WireKeyValue[];
  /** More keys in the range than `limit` let through. */
  readonly more: boolean;
}

type Callback = (err: Error | null, res?: WireRangeResponse) => void;
interface GrpcClient {
  makeUnaryRequest(path: string, ser: (b: Buffer) => Buffer, de: (b: Buffer) => WireRangeResponse, arg: Buffer, md: unknown, opts: unknown, cb: Callback): unknown;
}
interface Pool {
  exec(service: string, method: string, payload: unknown): Promise<unknown>;
  withConnection<T>(service: string, fn: (c: { client: GrpcClient }) => Promise<T> | T): Promise<T>;
}

const METHOD = 'rangeEncoded';
const patched = new WeakSet<object>();
const ready = new WeakMap<object, Promise<void>>();

export function encodeRange(r: WireRange): Buffer {
  const ints: [number, number | undefined][] = [
    [3, r.limit],
    [10, r.minModRevision],
    [11, r.maxModRevision],
  ];
  let total = lenField(1, r.key.length) + (r.rangeEnd ? lenField(2, r.rangeEnd.length) : 0);
  for (const [f, v] of ints) if (v) total += varintSize(f << 3) + varintSize(v);
  const w = new Writer(Buffer.allocUnsafe(total));
  w.bytes(1, r.key);
  if (r.rangeEnd) w.bytes(2, r.rangeEnd);
  for (const [f, v] of ints) {
    if (!v) continue;
    w.tag(f, 0);
    w.varint(v);
  }
  return w.buf;
}

export function decodeRangeResponse(buf: Buffer): WireRangeResponse {
  const r = new Reader(buf);
  let revision = 0;
  let more = false;
  const kvs: WireKeyValue[] = [];
  while (r.pos < r.end) {
    const t = r.varint();
    const f = t >> 3;
    if (f === 1) revision = readHeaderRevision(r.sub());
    else if (f === 2) kvs.push(readKeyValue(r.sub()));
    else if (f === 3 && (t & 7) === 0) more = r.varint() !== 0;
    else r.skip(t & 7);
  }
  return { revision, kvs, more };
}

/** Raw ranges on one client's pool (the method is installed once per gRPC client class). */
export class FastRange {
  private readonly pool: Pool;

  constructor(client: Etcd3) {
    // etcd3 keeps its connection pool private; fast-txn.ts reaches into it the same way.
    this.pool = (client as unknown as { pool: Pool }).pool;
  }

  private install(): Promise<void> {
    let p = ready.get(this.pool);
    if (!p) {
      p = this.pool.withConnection('KV', ({ client }) => {
        const proto = Object.getPrototypeOf(client) as Record<string, unknown>;
        if (patched.has(proto)) return;
        proto[METHOD] = function (this: GrpcClient, arg: Buffer, md: unknown, opts: unknown, cb: Callback) {
          return this.makeUnaryRequest('/etcdserverpb.KV/Range', (b) => b, decodeRangeResponse, arg, md, opts, cb);
        };
        patched.add(proto);
      });
      ready.set(this.pool, p);
      p.catch(() => ready.delete(this.pool)); // no connection yet: the next call tries again
    }
    return p;
  }

  async range(r: WireRange): Promise<WireRangeResponse> {
    await this.install();
    return (await this.pool.exec('KV', METHOD, encodeRange(r))) as WireRangeResponse;
  }
}
