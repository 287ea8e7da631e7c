// CNI fixtures: the plugin binary (built by the project's build script when missing or stale), a server mounting
// createCniRoute on a unix socket in this process (route tests: readiness toggled, several nodes on one allocator;
// the end-to-end test and the bench use the real `ipam serve`), and a way to run a CNI plugin as a runtime does:
// environment + stdin in, exit code + stdout out.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCniRoute, type CniDeps } from '../../src/cni/route.js';
import type { CniHandlerOptions } from '../../src/cni/handler.js';

/** The repository root (this file runs from dist/test/helpers). */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const PLUGIN = join(ROOT, 'dist/cni/ipam-es');
const SOURCE = join(ROOT, 'src/cni/client/ipam-es.c');

/** The plugin binary, built with deploy/cni/build-plugin.sh (what `npm run build` runs) if missing or stale. */
export function pluginBinary(): string {
  if (!existsSync(PLUGIN) || statSync(PLUGIN).mtimeMs < statSync(SOURCE).mtimeMs) {
    execFileSync('sh', [join(ROOT, 'deploy/cni/build-plugin.sh')], { stdio: 'inherit' });
  }
  return PLUGIN;
}

export interface CniServer {
  readonly socket: string;
  readonly dir: string;
  close(): Promise<void>;
}

/** createCniRoute on a fresh unix socket (mode 0600, as the daemon makes it), in this process. */
export async function startCniServer(deps: CniDeps, opts: CniHandlerOptions = {}): Promise<CniServer> {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-cni-'));
  const socket = join(dir, 'ipam.sock');
  const route = createCniRoute(deps, opts);
  const server: Server = createServer((req, res) => {
    if (req.url === '/v1/cni' || req.url?.startsWith('/v1/cni/')) void route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((ok, fail) => server.once('error', fail).listen({ path: socket, readableAll: false, writableAll: false }, ok));
  return {
    socket,
    dir,
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => {
          rmSync(dir, { recursive: true, force: true });
          ok();
        });
      }),
  };
}

export interface PluginRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

/** Runs a CNI plugin binary as a runtime does (optionally inside a network namespace via `ip netns exec`). */
export function runPlugin(binary: string, env: Record<string, string>, stdin: string, opts: { netns?: string; args?: readonly string[] } = {}): Promise<PluginRun> {
  const argv = opts.args ?? [];
  const [cmd, args] = opts.netns ? ['ip', ['netns', 'exec', opts.netns, binary, ...argv]] : [binary, argv];
  return new Promise((ok, fail) => {
    const start = process.hrtime.bigint();
    const child = spawn(cmd, args as string[], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', fail);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      ok({ code: code ?? -1, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms });
    });
    child.stdin.end(stdin);
  });
}
