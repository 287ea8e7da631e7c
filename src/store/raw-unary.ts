// Pre-encoded unary KV requests over etcd3's own pooled channel, so TLS, auth tokens, the circuit breaker and the
// global retry policy (including its resends, which the store is built to survive) all still apply. etcd3 keeps its
// connection pool private; this is the one place that reaches into it (fast-txn.ts and fast-range.ts use it).
import type { Etcd3 } from 'etcd3';

type Callback = (err: Error | null, res?: unknown) => void;
interface GrpcClient {
  makeUnaryRequest(path: string, ser: (b: Buffer) => Buffer, de: (b: Buffer) => unknown, arg: Buffer, md: unknown, opts: unknown, cb: Callback): unknown;
}
interface Pool {
  exec(service: string, method: string, payload: unknown): Promise<unknown>;
  withConnection<T>(service: string, fn: (c: { client: GrpcClient }) => Promise<T> | T): Promise<T>;
}

/** Per pool, per method: the install of the method on the pool's gRPC client class (once; again after a failure). */
const installed = new WeakMap<Pool, Map<string, Promise<void>>>();

export class RawUnary<R> {
  private readonly pool: Pool;

  /** `method`: the name installed on the gRPC client class; `path`: the gRPC method, e.g. /etcdserverpb.KV/Txn. */
  constructor(
    client: Etcd3,
    private readonly method: string,
    private readonly path: string,
    private readonly decode: (b: Buffer) => R,
  ) {
    this.pool = (client as unknown as { pool: Pool }).pool;
  }

  private install(): Promise<void> {
    let byMethod = installed.get(this.pool);
    if (!byMethod) installed.set(this.pool, (byMethod = new Map()));
    let p = byMethod.get(this.method);
    if (!p) {
      const { method, path, decode } = this;
      p = this.pool.withConnection('KV', ({ client }) => {
        const proto = Object.getPrototypeOf(client) as Record<string, unknown>;
        if (typeof proto[method] === 'function') return;
        proto[method] = function (this: GrpcClient, arg: Buffer, md: unknown, opts: unknown, cb: Callback) {
          return this.makeUnaryRequest(path, (b) => b, decode, arg, md, opts, cb);
        };
      });
      byMethod.set(this.method, p);
      p.catch(() => byMethod.delete(this.method)); // no connection yet: the next call tries again
    }
    return p;
  }

  async call(payload: Buffer): Promise<R> {
    await this.install();
    return (await this.pool.exec('KV', this.method, payload)) as R;
  }
}
