// Sends pre-encoded Txn requests over etcd3's own pooled channel (raw-unary.ts).
import type { Etcd3 } from 'etcd3';
import { decodeTxnResponse, encodeTxn, type WireTxn, type WireTxnResponse } from './proto.js';
import { RawUnary } from './raw-unary.js';

export class FastTxn {
  private readonly wire: RawUnary<WireTxnResponse>;

  constructor(client: Etcd3) {
    this.wire = new RawUnary(client, 'txnEncoded', '/etcdserverpb.KV/Txn', decodeTxnResponse);
  }

  txn(t: WireTxn): Promise<WireTxnResponse> {
    return this.wire.call(encodeTxn(t));
  }
}
