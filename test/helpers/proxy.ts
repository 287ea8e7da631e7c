// A loopback TCP proxy in front of etcd that can swallow etcd's answers, to make a committed txn look timed out, or
// cut its client off from etcd altogether (a network partition).
import { createServer, createConnection, type Server, type Socket } from 'node:net';

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
