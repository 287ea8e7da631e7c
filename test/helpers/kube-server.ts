// The Kubernetes-style API on a plain HTTP server on 127.0.0.1:0, over a real allocator and live projections on a
// real etcd (fresh prefix); and the kubeconfig a client needs to reach it. No authentication: the daemon adds it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_PROJECTIONS } from '../../projections/index.js';
import { LiveProjections } from '../../projections/runtime.js';
import { createKubeApi, type KubeApiHandler, type KubeApiLimits } from '../../src/api/kube/index.js';
import { openAllocator, type AllocFixture } from './alloc.js';

export interface KubeServer {
  readonly url: string;
  readonly fx: AllocFixture;
  readonly model: LiveProjections;
  readonly api: KubeApiHandler;
  /** Every request line the server saw ("GET /apis?x=y"), for asserting what a client asked. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startKubeServer(limits: Partial<KubeApiLimits> = {}): Promise<KubeServer> {
  const fx = await openAllocator();
  const model = new LiveProjections(fx.store, ALL_PROJECTIONS);
  await model.start();
  const api = createKubeApi({ allocator: fx.allocator, model, now: () => new Date().toISOString() }, limits);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    void api(req, res).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not served by the Kubernetes-style API\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fx,
    model,
    api,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      api.close();
      await model.stop();
      await fx.close();
    },
  };
}

/** kubeconfig contents pointing at `url` (a token is set, as the daemon will require one on TCP). */
export function kubeconfigYaml(url: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ipam',
    `  cluster: {server: "${url}"}`,
    'users:',
    '- name: admin',
    '  user: {token: test-token}',
    'contexts:',
    '- name: ipam',
    '  context: {cluster: ipam, user: admin}',
    'current-context: ipam',
    '',
  ].join('\n');
}

/** A temporary directory with a kubeconfig file; `cleanup` removes it. */
export async function kubeconfigFile(url: string): Promise<{ dir: string; path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kapi-'));
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeconfigYaml(url), { mode: 0o600 });
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
