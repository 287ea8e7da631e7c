// Throw-away etcd servers on loopback for tests, benchmarks and `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './ports.js';

export interface EtcdMemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
}

export interface LocalEtcdOptions {
  /** Members in the cluster (1 or 3 usually). */
  readonly members?: number;
  /** Parent folder for data dirs; default the OS temp dir. */
  readonly baseDir?: string;
  /** Extra etcd flags, e.g. ['--max-txn-ops=256']. */
  readonly extraArgs?: readonly string[];
  readonly binary?: string;
  /** Keep data here (single member) and do not delete it on stop, e.g. for `npm start`. */
  readonly persistentDir?: string;
}

export class LocalEtcdMember {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(
    readonly spec: EtcdMemberSpec,
    private readonly initialCluster: string,
    private readonly args: readonly string[],
    private readonly binary: string,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.spec.clientPort}`;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  get running(): boolean {
    return this.proc !== undefined;
  }

  start(state: 'new' | 'existing' = 'new'): void {
    if (this.proc) return;
    const { name, clientPort, peerPort, dataDir } = this.spec;
    const peer = `http://127.0.0.1:${peerPort}`;
    const client = `http://127.0.0.1:${clientPort}`;
    const proc = spawn(
      this.binary,
      [
        `--name=${name}`,
        `--data-dir=${dataDir}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${this.initialCluster}`,
        `--initial-cluster-state=${existsSync(join(dataDir, 'member')) ? 'existing' : state}`,
        '--initial-cluster-token=ipam-local',
        '--logger=zap',
        '--log-level=error',
        ...this.args,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => {
      proc.on('exit', (code, signal) => {
        if (this.proc === proc) this.proc = undefined;
        if (code && code !== 0 && process.env.IPAM_DEBUG) {
          process.stderr.write(`etcd ${name} exited ${code ?? signal}: ${stderr}\n`);
        }
        resolve();
      });
    });
  }

  /** Stops the member: SIGTERM (graceful) or SIGKILL (crash). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p) return;
    p.kill(signal);
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }
}

export class LocalEtcd {
  private constructor(
    readonly members: readonly LocalEtcdMember[],
    private readonly root: string,
    private readonly keep: boolean,
  ) {}

  static async start(opts: LocalEtcdOptions = {}): Promise<LocalEtcd> {
    const n = opts.members ?? 1;
    if (opts.persistentDir) mkdirSync(opts.persistentDir, { recursive: true });
    const root = opts.persistentDir ?? mkdtempSync(join(opts.baseDir ?? tmpdir(), 'ipam-etcd-'));
    const specs: EtcdMemberSpec[] = [];
    for (let i = 0; i < n; i++) {
      specs.push({ name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir: join(root, `m${i}`) });
    }
    const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peerPort}`).join(',');
    const binary = opts.binary ?? process.env.ETCD_BIN ?? 'etcd';
    const members = specs.map((s) => new LocalEtcdMember(s, initialCluster, opts.extraArgs ?? [], binary));
    const etcd = new LocalEtcd(members, root, opts.persistentDir !== undefined);
    for (const m of members) m.start('new');
    await etcd.waitHealthy();
    return etcd;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** Waits until every running member answers /health with a leader. */
  async waitHealthy(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const m of this.members.filter((x) => x.running)) {
      for (;;) {
        try {
          const res = await fetch(`${m.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
          const body = (await res.json()) as { health?: string };
          if (body.health === 'true') break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) throw new Error(`etcd member ${m.spec.name} at ${m.endpoint} did not become healthy in ${timeoutMs} ms`);
        await sleep(50);
      }
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop('SIGTERM')));
    if (!this.keep) rmSync(this.root, { recursive: true, force: true });
  }
}
