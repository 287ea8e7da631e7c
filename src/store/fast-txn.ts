// Sends pre-encoded Txn requests over etcd3's own pooled channel, so TLS, auth tokens, the circuit breaker and the
// global retry policy (including its resends, which the store is built to survive) all still apply.
import type { Etcd3 } from 'etcd3';
import { decodeTxnResponse, encodeTxn, type WireTxn, type WireTxnResponse } from './proto.js';

type Callback = (err: Error | null, res?: WireTxnResponse) => void;
interface GrpcClient {
  makeUnaryRequest(path: string, ser: (b: Buffer) => Buffer, de: (b: Buffer) => WireTxnResponse, arg: Buffer, md: unknown, opts: unknown, cb: Callback): unknown;
}
interface Pool {
  exec(service: string, method: string, payload: unknown): Promise<unknown>;
  withConnection<T>(service: string, fn: (c: { client: GrpcClient }) => Promise<T> | T): Promise<T>;
}

const METHOD = 'txnEncoded';
const patched = new WeakSet<object>();

export class FastTxn {
  private readonly pool: Pool;
  private ready: Promise<void> | undefined;

  constructor(client: Etcd3) {
    // etcd3 keeps its connection pool private; this is the one place that reaches into it.
    this.pool = (client as unknown as { pool: Pool }).pool;
  }

  private install(): Promise<void> {
    this.ready ??= this.pool.withConnection('KV', ({ client }) => {
      const proto = Object.getPrototypeOf(client) as Record<string, unknown>;
      if (patched.has(proto)) return;
      proto[METHOD] = function (this: GrpcClient, arg: Buffer, md: unknown, opts: unknown, cb: Callback) {
        return this.makeUnaryRequest('/etcdserverpb.KV/Txn', (b) => b, decodeTxnResponse, arg, md, opts, cb);
      };
      patched.add(proto);
    });
    return this.ready;
  }

  async txn(t: WireTxn): Promise<WireTxnResponse> {
    await this.install();
    return (await this.pool.exec('KV', METHOD, encodeTxn(t))) as WireTxnResponse;
  }
}
