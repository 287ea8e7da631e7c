// The daemon (`ipam serve`) and the CLI against an etcd that requires TLS client certificates (made with openssl):
// with the right certificates they work; with none or foreign ones they stop with a clear error, fast, not a hang.
import test from 'ava';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalEtcd } from '../src/local/etcd.js';
import { startServe } from '../src/local/serve-process.js';
import { makeCerts, type TestCerts } from './helpers/certs.js';
import { call } from './helpers/daemon.js';
import { freshPrefix } from './helpers/store.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const POOL = `apiVersion: spiderpool.spidernet.io/v2beta1
kind: SpiderIPPool
metadata: { name: tls-pool }
spec: { ipVersion: 4, subnet: 10.84.0.0/24, ips: [10.84.0.10-10.84.0.20], default: true }
`;

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      ok({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr, ms: performance.now() - t0 }),
    );
  });
}

const envs = (c: TestCerts) => ({
  good: { ETCD_CACERT: c.caFile, ETCD_CERT: c.clientCertFile, ETCD_KEY: c.clientKeyFile },
  'no client certificate': { ETCD_CACERT: c.caFile },
  'a certificate from another CA': { ETCD_CACERT: c.caFile, ETCD_CERT: c.rogueClientCertFile, ETCD_KEY: c.rogueClientKeyFile },
});

test('daemon and CLI over TLS with client certificates; missing or foreign certificates: a clear error within seconds', async (t) => {
  const certs = makeCerts();
  t.teardown(() => rmSync(certs.dir, { recursive: true, force: true }));
  const etcd = await LocalEtcd.start({
    tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile, clientCertFile: certs.clientCertFile, clientKeyFile: certs.clientKeyFile },
  });
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  const e = envs(certs);
  const file = join(certs.dir, 'pool.yaml');
  writeFileSync(file, POOL);

  const applied = await cli(['--etcd', etcd.endpoints[0]!, '--prefix', prefix, 'apply', '-f', file], e.good);
  t.is(applied.code, 0, applied.stderr);
  t.regex(applied.stdout, /spiderippool\.spiderpool\.spidernet\.io\/tls-pool created/);

  const daemon = await startServe({ endpoints: etcd.endpoints, prefix, node: 'tls-0', env: e.good });
  t.teardown(() => daemon.stop());
  const r = await call({ port: Number(new URL(daemon.url).port), socket: daemon.socket, ca: daemon.ca }, 'POST', '/v1/allocations', {
    token: daemon.token,
    body: { endpoint: { namespace: 'default', name: 'tls-pod', uid: 'u1', containerID: 'ctr-tls' } },
  });
  t.is(r.status, 201, r.text);
  t.regex(r.json().allocations[0].address, /^10\.84\.0\./);
  const viaSocket = await cli(['--socket', daemon.socket, 'alloc', '--pod', 'default/tls-pod-2', '--container-id', 'ctr-tls-2', '-o', 'json'], {});
  t.is(viaSocket.code, 0, viaSocket.stderr);

  for (const [label, env] of Object.entries(e).filter(([k]) => k !== 'good')) {
    const c = await cli(['--etcd', etcd.endpoints[0]!, '--prefix', prefix, 'apply', '-f', file], env);
    t.log(`CLI, ${label}: exit ${c.code} after ${Math.round(c.ms)} ms: ${c.stderr.trim().split('\n').at(-1)!.slice(0, 200)}`);
    t.is(c.code, 2, `${label}: ${c.stderr}`);
    t.regex(c.stderr, /cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ \(tls\).*ETCD_CERT/s, label);
    t.true(c.ms < 15_000, `${label}: the CLI answered in ${Math.round(c.ms)} ms`);

    const t0 = performance.now();
    const err = await t.throwsAsync(startServe({ endpoints: etcd.endpoints, prefix, node: 'tls-bad', env, timeoutMs: 20_000 }), undefined, label);
    const ms = performance.now() - t0;
    t.log(`daemon, ${label}: refused after ${Math.round(ms)} ms`);
    t.regex(err!.message, /exited \(1\) before it was ready/, label);
    t.regex(err!.message, /ipam: cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ \(tls\)/, label);
    t.true(ms < 15_000, `${label}: the daemon gave up in ${Math.round(ms)} ms`);
  }
  // With no TLS settings at all the error says to set them.
  const bare = await cli(['--etcd', etcd.endpoints[0]!, '--prefix', prefix, 'apply', '-f', file], { ETCD_CACERT: '', ETCD_CERT: '', ETCD_KEY: '' });
  t.log(`CLI, no TLS settings: exit ${bare.code} after ${Math.round(bare.ms)} ms: ${bare.stderr.trim().split('\n').at(-1)!.slice(0, 200)}`);
  t.is(bare.code, 2, bare.stderr);
  t.regex(bare.stderr, /ETCD_CACERT, ETCD_CERT and ETCD_KEY/);
  t.true(bare.ms < 15_000);
});
