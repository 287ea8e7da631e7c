// The real daemon as its own process (`ipam serve`), for the CNI end-to-end test and the cni bench: the plugin binary
// talks to it over its unix socket exactly as on a node.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../../src/cli/main.js');

export interface ServeProcess {
  readonly socket: string;
  readonly pid: number;
  /** Everything the daemon wrote to stderr so far (its logs), for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts `ipam serve` on a fresh data dir and socket; resolves once it says it is ready. */
export async function startServe(opts: { endpoints: readonly string[]; prefix: string; node: string; timeoutMs?: number }): Promise<ServeProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-serve-'));
  const socket = join(dir, 'ipam.sock');
  const args = [MAIN, 'serve', '--etcd', opts.endpoints.join(','), '--prefix', opts.prefix, '--socket', socket, '--listen', '127.0.0.1:0', '--data-dir', dir, '--node', opts.node];
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IPAM_LOG_LEVEL: process.env.IPAM_LOG_LEVEL ?? 'warn' } });
  let log = '';
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((ok, fail) => {
      const timer = setTimeout(() => fail(new Error(`ipam serve did not get ready within ${opts.timeoutMs ?? 30_000} ms:\n${log}`)), opts.timeoutMs ?? 30_000);
      child.stderr!.on('data', (b: Buffer) => {
        log += b.toString('utf8');
        if (log.length > 200_000) log = log.slice(-100_000);
        if (/^ipam: ready/m.test(log)) {
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
  return { socket, pid: child.pid!, output: () => log, stop };
}
