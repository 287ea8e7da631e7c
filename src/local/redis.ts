// A throw-away redis-server on loopback for tests and benchmarks.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './ports.js';

export class LocalRedis {
  private constructor(
    private readonly proc: ChildProcess,
    readonly port: number,
    private readonly dir: string,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<LocalRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ipam-redis-'));
    const proc = spawn(
      process.env.REDIS_BIN ?? 'redis-server',
      ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    const redis = new LocalRedis(proc, port, dir);
    const deadline = Date.now() + 15_000;
    while (!(await ping(port))) {
      if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not start`);
      await sleep(50);
    }
    return redis;
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode === null) {
      const done = new Promise((r) => this.proc.on('exit', r));
      this.proc.kill('SIGTERM');
      await done;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ port, host: '127.0.0.1' });
    s.setTimeout(500);
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      s.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    s.on('error', () => resolve(false));
    s.on('timeout', () => {
      s.destroy();
      resolve(false);
    });
  });
}
