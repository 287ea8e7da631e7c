// Range requests for the log reader over etcd3's own pooled channel (raw-unary.ts: TLS, auth, retries as every other call), with
// a hand-written RangeRequest encoding and a RangeResponse decoding that keeps each key and value as a view of the
// response buffer: etcd3's generic path decodes through protobufjs into fresh Buffers and revision strings, which
// cost the reader more CPU than etcd spent serving the page. Field numbers: etcd's api/etcdserverpb/rpc.proto.
import type { Etcd3 } from 'etcd3';
import { RawUnary } from './raw-unary.js';
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

/** Raw ranges on one client's pool (raw-unary.ts). */
export class FastRange {
  private readonly wire: RawUnary<WireRangeResponse>;

  constructor(client: Etcd3) {
    this.wire = new RawUnary(client, 'rangeEncoded', '/etcdserverpb.KV/Range', decodeRangeResponse);
  }

  range(r: WireRange): Promise<WireRangeResponse> {
    return this.wire.call(encodeRange(r));
  }
}
