// The real daemon as its own process (`ipam serve`) on a fresh data dir and socket, for end-to-end tests and
// benchmarks: clients reach it over its unix socket (no token) or its TCP API (url + token).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TLS_FILES } from '../daemon/tls.js';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../cli/main.js');

export interface ServeProcess {
  readonly socket: string;
  /** The TCP API (https://127.0.0.1:PORT); its bearer token is `token`, its certificate's CA `ca` (PEM). */
  readonly url: string;
  readonly token: string;
  readonly ca: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** Everything the daemon wrote to stderr so far (its logs), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface ServeOptions {
  /** etcd to use; none: `ipam serve` starts its own local etcd in the data dir. */
  readonly endpoints?: readonly string[];
  /** Data dir to use (kept on stop, e.g. to restart on it); default a fresh one, removed on stop. */
  readonly dataDir?: string;
  /** Socket path; default ipam.sock in the data dir. */
  readonly socket?: string;
  readonly prefix: string;
  readonly node: string;
  readonly timeoutMs?: number;
  /** Extra node flags (e.g. --cpu-prof); IPAM_BENCH_DAEMON_NODE_ARGS adds more, space-separated. */
  readonly nodeArgs?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** `serve --kubeconfig FILE`: owner resolution and the pool-selection caches from that API server. */
  readonly kubeconfig?: string;
}

/** Starts `ipam serve`; resolves once it prints its ready line (rejects on exit or after the timeout). */
export async function startServe(opts: ServeOptions): Promise<ServeProcess> {
  const dir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'ipam-serve-'));
  const socket = opts.socket ?? join(dir, 'ipam.sock');
  const token = randomBytes(18).toString('base64url');
  // The same young generation as deploy/local/start.sh (see there why 16 MB).
  const nodeArgs = ['--max-semi-space-size=16', ...(opts.nodeArgs ?? []), ...(process.env.IPAM_BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean)];
  const args = [...nodeArgs, MAIN, 'serve', ...(opts.endpoints ? ['--etcd', opts.endpoints.join(',')] : []), '--prefix', opts.prefix, '--socket', socket, '--listen', '127.0.0.1:0', '--data-dir', dir, '--node', opts.node, ...(opts.kubeconfig ? ['--kubeconfig', opts.kubeconfig] : [])];
  const child: ChildProcess = spawn(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    // glibc's mmap threshold as deploy/local/start.sh fixes it (unless the caller sets its own).
    env: { MALLOC_MMAP_THRESHOLD_: '131072', ...process.env, ...(opts.endpoints ? {} : { ETCD_ENDPOINTS: '' }), ...opts.env, IPAM_TOKEN: token, IPAM_LOG_LEVEL: process.env.IPAM_LOG_LEVEL ?? 'warn' },
  });
  let log = '';
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    if (!opts.dataDir) rmSync(dir, { recursive: true, force: true });
  };
  let url = '';
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`ipam serve did not get ready within ${opts.timeoutMs ?? 30_000} ms:\n${log}`)), opts.timeoutMs ?? 30_000);
      child.stderr!.on('data', (b: Buffer) => {
        log += b.toString('utf8');
        if (log.length > 200_000) log = log.slice(-100_000);
        const m = /^ipam: ready on (https:\/\/[\d.]+:\d+)/m.exec(log);
        if (m) {
          url = m[1]!;
          clearTimeout(timer);
          ok();
        }
      });
      child.once('exit', (code, sig) => {
        clearTimeout(timer);
        fail(new Error(`ipam serve exited (${code ?? sig}) before it was ready:\n${log}`));
      });
    });
  } catch (e) {
    await stop();
    throw e;
  }
  // The CA the daemon generated into its data dir (src/daemon/tls.ts).
  const ca = readFileSync(join(dir, 'tls', TLS_FILES.caCert), 'utf8');
  return { socket, url, token, ca, pid: child.pid!, child, output: () => log, stop };
}
