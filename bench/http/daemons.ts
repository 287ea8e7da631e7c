// Daemon processes for benchmarks: `ipam serve` on a given etcd and prefix, each on its own free loopback port.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(import.meta.url), '../../../src/cli/main.js');

export interface DaemonProc {
  readonly url: string;
  readonly socket: string;
  readonly child: ChildProcess;
  readonly token: string;
  stop(): Promise<void>;
}

/** Starts one daemon and resolves when it prints its ready line (rejects on exit or after `timeoutMs`). */
export async function spawnDaemon(o: { endpoints: string[]; prefix: string; node: string; token?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv }): Promise<DaemonProc> {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-bench-daemon-'));
  const socket = join(dir, 'ipam.sock');
  const token = o.token ?? randomBytes(18).toString('base64url');
  const child = spawn(
    process.execPath,
    // IPAM_BENCH_DAEMON_NODE_ARGS: extra node flags for the daemons (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof").
    ['--max-semi-space-size=32', ...(process.env.IPAM_BENCH_DAEMON_NODE_ARGS ?? '').split(' ').filter(Boolean), CLI, 'serve', '--etcd', o.endpoints.join(','), '--prefix', o.prefix, '--listen', '127.0.0.1:0', '--socket', socket, '--node', o.node, '--data-dir', dir],
    { env: { ...process.env, ...o.env, IPAM_TOKEN: token, IPAM_LOG_LEVEL: process.env.IPAM_LOG_LEVEL ?? 'warn' }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`daemon ${o.node} not ready within ${o.timeoutMs ?? 30_000} ms:\n${log}`)), o.timeoutMs ?? 30_000);
    child.stderr!.on('data', (c: Buffer) => {
      log = (log + c.toString()).slice(-8192);
      const m = /ipam: ready on (http:\/\/[\d.]+:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        ok(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`daemon ${o.node} exited with ${code}:\n${log}`));
    });
  });
  child.stderr!.resume();
  return {
    url,
    socket,
    child,
    token,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((ok) => child.once('exit', ok));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
