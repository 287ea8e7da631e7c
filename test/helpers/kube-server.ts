// The Kubernetes-style API on 127.0.0.1:0, over a real allocator and live projections on a real etcd (fresh
// prefix); and the kubeconfig a client needs to reach it. Plain HTTP without authentication (for raw fetch tests), or
// `tls: true`: HTTPS with the daemon's certificate machinery and its bearer-token check, as kubectl meets the daemon.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ALL_PROJECTIONS } from '../../projections/index.js';
import { LiveProjections } from '../../projections/runtime.js';
import { createKubeApi, type KubeApiHandler, type KubeApiLimits } from '../../src/api/kube/index.js';
import { hasBearerToken } from '../../src/daemon/auth.js';
import { openAllocator, type AllocFixture } from './alloc.js';
import { testTls } from './tls.js';

/** The bearer token a TLS kube server requires. */
export const KUBE_TOKEN = 'kube-test-token-0123456789';

export interface KubeServer {
  readonly url: string;
  /** The CA of the server's certificate (TLS servers). */
  readonly ca?: string;
  readonly fx: AllocFixture;
  readonly model: LiveProjections;
  readonly api: KubeApiHandler;
  /** Every request line the server saw ("GET /apis?x=y"), for asserting what a client asked. */
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startKubeServer(limits: Partial<KubeApiLimits> = {}, o: { tls?: boolean } = {}): Promise<KubeServer> {
  const fx = await openAllocator();
  const model = new LiveProjections(fx.store, ALL_PROJECTIONS);
  await model.start();
  const api = createKubeApi({ allocator: fx.allocator, model, now: () => new Date().toISOString() }, limits);
  const requests: string[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    requests.push(`${req.method} ${req.url}`);
    if (o.tls && !hasBearerToken(req, KUBE_TOKEN)) {
      res.writeHead(401, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Unauthorized', code: 401, message: 'Unauthorized' }));
      return;
    }
    void api(req, res).then((handled) => {
      if (handled) return;
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('not served by the Kubernetes-style API\n');
    });
  };
  const tls = o.tls ? testTls() : undefined;
  const server = tls ? createHttpsServer({ cert: tls.cert, key: tls.key }, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...(tls ? { ca: tls.ca } : {}),
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

/** kubeconfig contents pointing at `url` with the bearer token, and the server's CA when given. */
export function kubeconfigYaml(url: string, ca?: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: ipam',
    `  cluster: {server: "${url}"${ca ? `, certificate-authority-data: ${Buffer.from(ca).toString('base64')}` : ''}}`,
    'users:',
    '- name: admin',
    `  user: {token: ${KUBE_TOKEN}}`,
    'contexts:',
    '- name: ipam',
    '  context: {cluster: ipam, user: admin}',
    'current-context: ipam',
    '',
  ].join('\n');
}

/** A temporary directory with a kubeconfig file; `cleanup` removes it. */
export async function kubeconfigFile(url: string, ca?: string): Promise<{ dir: string; path: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kapi-'));
  const path = join(dir, 'kubeconfig');
  await writeFile(path, kubeconfigYaml(url, ca), { mode: 0o600 });
  return { dir, path, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
