// Throw-away etcd servers on loopback for tests, benchmarks and `npm start`.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { get as httpGet, type ClientRequest, type IncomingMessage } from 'node:http';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './ports.js';
import { isAlive, processId, readProcessId, writeProcessId } from '../daemon/lock.js';

export interface EtcdMemberSpec {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  /** Serve clients and peers on unix sockets in this (0700) folder instead of loopback ports. */
  readonly socketDir?: string;
}

// etcd 3.4 takes unix URLs only as unix://HOST:PORT and makes the socket file "HOST:PORT" in its working directory.
const CLIENT_SOCKET = 'etcd-client:1';
const PEER_SOCKET = 'etcd-peer:2';

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
  /**
   * Listen on unix sockets in the data dir (mode 0700) instead of loopback ports (single member): only the owner
   * can connect, no port is visible to other users. `ipam serve`'s local etcd runs so.
   */
  readonly ownerOnly?: boolean;
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

/**
 * Go's GC settings of every local etcd (the environment's own GOGC wins). etcd's live heap here is a few MB,
 * so with Go's default (GOGC=100) it collects ~6.5 times a second at 500 puts/s, each cycle ~4-10 ms of concurrent
 * marking that takes one of the two cores; GOGC=400 collects ~1.5 times a second, and etcd alone's open-loop p99 / p50
 * was lower in every paired run (`npm run bench -- etcd-alone --configs "GOGC=100 GOMEMLIMIT=off;default"`, README
 * "etcd's own latency tail"). No GOMEMLIMIT: a soft limit below the live heap makes Go collect without pause, and etcd
 * 3.4's heap holds the raft log's recent entries (a log of large records is hundreds of MB): with 512MiB, replaying a
 * 1M-event log read 223k events/s instead of 421k (`GOMEMLIMIT=off npm run bench -- replay --from etcd` against the same
 * without, 2026-12-01). Neither touches durability or ordering: every put is still in the fsynced WAL before etcd answers.
 */
export const LOCAL_ETCD_GO_ENV = { GOGC: '400' } as const;

export class LocalEtcdMember {
  private proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  constructor(
    readonly spec: EtcdMemberSpec,
    private readonly initialCluster: string,
    private readonly args: readonly string[],
    private readonly binary: string,
    readonly tls?: EtcdServerTls,
    /** Where the running etcd's pid is kept (persistent data dirs), so a restart after a crash finds it. */
    private readonly pidFile?: string,
  ) {}

  get endpoint(): string {
    if (this.spec.socketDir) return `unix:${join(this.spec.socketDir, CLIENT_SOCKET)}`; // grpc-js's form
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
    const { name, peerPort, dataDir, socketDir } = this.spec;
    const peer = socketDir ? `unix://${PEER_SOCKET}` : `http://127.0.0.1:${peerPort}`;
    const client = socketDir ? `unix://${CLIENT_SOCKET}` : this.endpoint;
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
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...LOCAL_ETCD_GO_ENV, ...process.env }, ...(socketDir ? { cwd: socketDir } : {}) },
    );
    if (this.pidFile && proc.pid !== undefined) {
      const id = processId(proc.pid);
      if (id) writeProcessId(this.pidFile, id);
    }
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
    if (opts.ownerOnly && (n !== 1 || opts.tls)) throw new Error('LocalEtcd: ownerOnly (unix sockets) is for a single member without TLS');
    if (opts.persistentDir) mkdirSync(opts.persistentDir, { recursive: true, mode: 0o700 });
    const root = opts.persistentDir ?? mkdtempSync(join(opts.baseDir ?? tmpdir(), 'ipam-etcd-'));
    if (opts.ownerOnly) chmodSync(root, 0o700); // also when it was made earlier with a wider mode
    const specs: EtcdMemberSpec[] = [];
    for (let i = 0; i < n; i++) {
      const dataDir = join(root, `m${i}`);
      specs.push(opts.ownerOnly ? { name: `m${i}`, clientPort: 0, peerPort: 0, dataDir, socketDir: root } : { name: `m${i}`, clientPort: await freePort(), peerPort: await freePort(), dataDir });
    }
    const initialCluster = specs.map((s) => `${s.name}=${s.socketDir ? `unix://${PEER_SOCKET}` : `http://127.0.0.1:${s.peerPort}`}`).join(',');
    const binary = opts.binary ?? process.env.ETCD_BIN ?? 'etcd';
    const pidFile = (s: EtcdMemberSpec) => (opts.persistentDir ? join(root, `${s.name}.pid`) : undefined);
    for (const s of specs) {
      const f = pidFile(s);
      if (f) await stopOrphan(f, s.dataDir);
    }
    const members = specs.map((s) => new LocalEtcdMember(s, initialCluster, opts.extraArgs ?? [], binary, opts.tls, pidFile(s)));
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
    for (const m of this.members) if (this.keep) rmSync(join(this.root, `${m.spec.name}.pid`), { force: true });
    if (!this.keep) rmSync(this.root, { recursive: true, force: true });
  }
}

/**
 * An etcd left running on this data dir by a process that died (kill -9 of `ipam serve`) holds the data dir's
 * lock: it is stopped (SIGTERM, then SIGKILL) so a fresh one can start. Only an etcd whose command line names this
 * data dir, started when the pid file says, is touched.
 */
async function stopOrphan(pidFile: string, dataDir: string): Promise<void> {
  const id = readProcessId(pidFile);
  if (!id || !isAlive(id)) return;
  let cmdline = '';
  try {
    cmdline = readFileSync(`/proc/${id.pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.split('\0').includes(`--data-dir=${dataDir}`)) return;
  process.kill(id.pid, 'SIGTERM');
  for (let waited = 0; isAlive(id); waited += 50) {
    if (waited === 5000) process.kill(id.pid, 'SIGKILL');
    if (waited > 10_000) throw new Error(`the orphaned etcd (pid ${id.pid}) on ${dataDir} does not stop`);
    await sleep(50);
  }
}

/** GET /health, over TLS with the harness's client certificate when the member requires one. */
async function health(m: LocalEtcdMember): Promise<string | undefined> {
  if (m.spec.socketDir) return healthOf((cb) => httpGet({ socketPath: join(m.spec.socketDir!, CLIENT_SOCKET), path: '/health', timeout: 1000 }, cb));
  if (!m.tls) {
    const res = await fetch(`${m.endpoint}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await res.json()) as { health?: string }).health;
  }
  const t = m.tls;
  return healthOf((cb) => httpsGet(`${m.endpoint}/health`, { ca: readFileSync(t.caFile), cert: readFileSync(t.clientCertFile), key: readFileSync(t.clientKeyFile), timeout: 1000 }, cb));
}

/** The `health` field of the JSON answer to a request `send` makes (unix socket or client-certificate TLS). */
function healthOf(send: (cb: (res: IncomingMessage) => void) => ClientRequest): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = send((res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        try {
          resolve((JSON.parse(body) as { health?: string }).health);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}
