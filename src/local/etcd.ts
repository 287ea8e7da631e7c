// Throw-away etcd servers on loopback for tests, benchmarks and `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { get as httpsGet } from 'node:https';
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
  /** Serve clients over TLS and require client certificates signed by `caFile`. */
  readonly tls?: EtcdServerTls;
}

export interface EtcdServerTls {
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
  /** Client certificate the harness itself uses for health checks. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
}

/** Auto-compaction of every local etcd; a test may pass its own in `extraArgs` (etcd keeps a flag's last value). */
export const LOCAL_COMPACTION = ['--auto-compaction-mode=periodic', '--auto-compaction-retention=1m'] as const;

export class LocalEtcdMember {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(
    readonly spec: EtcdMemberSpec,
    private readonly initialCluster: string,
    private readonly args: readonly string[],
    private readonly binary: string,
    readonly tls?: EtcdServerTls,
  ) {}

  get endpoint(): string {
    return `${this.tls ? 'https' : 'http'}://127.0.0.1:${this.spec.clientPort}`;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }
  get running(): boolean {
    return this.proc !== undefined;
  }

  start(state: 'new' | 'existing' = 'new'): void {
    if (this.proc) return;
    const { name, peerPort, dataDir } = this.spec;
    const peer = `http://127.0.0.1:${peerPort}`;
    const client = this.endpoint;
    const tlsArgs = this.tls ? [`--cert-file=${this.tls.certFile}`, `--key-file=${this.tls.keyFile}`, `--trusted-ca-file=${this.tls.caFile}`, '--client-cert-auth'] : [];
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
        // History older than a minute is compacted away (as kube-apiserver does every 5 min on a cluster's etcd):
        // periodic, not revision mode, which etcd 3.4 runs only every 5 min whatever the write rate. The engine needs no
        // old revisions (ranged reads; a compacted watch re-reads), and tests run under compaction as production does.
        ...LOCAL_COMPACTION,
        ...tlsArgs,
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
    const members = specs.map((s) => new LocalEtcdMember(s, initialCluster, opts.extraArgs ?? [], binary, opts.tls));
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
          if ((await health(m)) === 'true') break;
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

/** GET /health, over TLS with the harness's client certificate when the member requires one. */
async function health(m: LocalEtcdMember): Promise<string | undefined> {
  if (!m.tls) {
    const res = await fetch(`${m.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health;
  }
  const t = m.tls;
  return new Promise((resolve, reject) => {
    const req = httpsGet(
      `${m.endpoint}/health`,
      { ca: readFileSync(t.caFile), cert: readFileSync(t.clientCertFile), key: readFileSync(t.clientKeyFile), timeout: 1000 },
      (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => {
          try {
            resolve((JSON.parse(body) as { health?: string }).health);
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
