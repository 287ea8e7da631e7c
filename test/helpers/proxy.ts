// A loopback TCP proxy in front of etcd that can swallow etcd's answers, to make a committed txn look timed out, or
// cut its client off from etcd altogether (a network partition).
import { createServer, createConnection, type Server, type Socket } from 'node:net';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore, type EventStoreOptions } from '../../src/store/event-store.js';
import { freshPrefix, sharedEtcd } from './store.js';

export class FlakyProxy {
  private server: Server;
  private sockets = new Set<Socket>();
  /** While true, bytes from etcd to the client are dropped. */
  blackhole = false;
  droppedBytes = 0;
  port = 0;

  private constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      if (this.partitioned) return void client.destroy();
      const upstream = createConnection(this.target);
      this.sockets.add(client).add(upstream);
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => {
        if (this.blackhole) this.droppedBytes += d.length;
        else client.write(d);
      });
      const close = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      client.on('close', close).on('error', close);
      upstream.on('close', close).on('error', close);
    });
  }

  static async start(targetUrl: string): Promise<FlakyProxy> {
    const u = new URL(targetUrl);
    const p = new FlakyProxy({ host: u.hostname, port: Number(u.port) });
    await new Promise<void>((r) => p.server.listen(0, '127.0.0.1', () => r()));
    p.port = (p.server.address() as { port: number }).port;
    return p;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** While true, no connection gets through (set by partition(), cleared by heal()). */
  private partitioned = false;

  /** Cuts the client off from etcd: open connections are cut and new ones refused until heal(). */
  partition(): void {
    this.partitioned = true;
    this.cutAll();
  }

  heal(): void {
    this.partitioned = false;
  }

  /** Cuts every open connection (the client sees its call fail and reconnects). */
  cutAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/**
 * Runs `append` on a fresh store whose etcd answers are swallowed (by a FlakyProxy) until etcd has applied the txn,
 * then cuts the connection so etcd3's retry policy resends it: the store must find its own first commit. Waits for
 * the record in etcd and for swallowed bytes, not a fixed delay (too short on a loaded machine).
 */
export async function appendWithLostAnswer<T>(
  opts: EventStoreOptions,
  append: (store: EventStore, r0: number) => Promise<T>,
): Promise<{ result: T; store: EventStore; answerLost: boolean; close(): Promise<void> }> {
  const { endpoints } = await sharedEtcd();
  const proxy = await FlakyProxy.start(endpoints[0]!);
  const client = openEtcd({ endpoints: [proxy.url], callTimeoutMs: 1500 });
  const prefix = freshPrefix();
  const store = new EventStore(client, { ...opts, prefix });
  const r0 = await store.open();
  const direct = openEtcd({ endpoints });
  proxy.blackhole = true;
  const pending = append(store, r0);
  const committed = async () => (await direct.getAll().prefix(`${prefix}log/`).count()) > 0;
  for (const deadline = Date.now() + 20_000; !(proxy.droppedBytes > 0 && (await committed())) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
  proxy.cutAll();
  proxy.blackhole = false;
  const result = await pending;
  direct.close();
  return {
    result,
    store,
    answerLost: proxy.droppedBytes > 0,
    async close() {
      await store.close();
      client.close();
      await proxy.close();
    },
  };
}
