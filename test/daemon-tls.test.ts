// The TCP API over TLS: the CA and serving certificate generated once into the data dir (0600, reused), certificates
// from files, plain HTTP refused unless asked for, the aggregation layer's front-proxy authentication (X-Remote-User
// believed only with a client certificate of the request-header CA), and `ipam kubeconfig` driving Debian's kubectl
// and @kubernetes/client-node against a real `ipam serve` process (CA verified, token sent).
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import test from 'ava';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { Daemon } from '../src/daemon/daemon.js';
import { DEFAULT_REQUEST_HEADERS, loadServingTls, TLS_FILES, TlsConfigError } from '../src/daemon/tls.js';
import { startServe } from '../src/local/serve-process.js';
import { makeCerts } from './helpers/certs.js';
import { TOKEN } from './helpers/daemon.js';
import { kubectlIn } from './helpers/kubectl.js';
import { freshPrefix, openStore, sharedEtcd } from './helpers/store.js';
import { httpsText, testTls } from './helpers/tls.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const tmp = (t: { teardown(f: () => void): void }) => {
  const d = mkdtempSync(join(tmpdir(), 'ipam-tls-test-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
};

test('the generated CA and serving certificate: 0600 files, names for loopback and the host, reused on restart, re-issued when a name is missing', (t) => {
  const dir = join(tmp(t), 'tls');
  const a = loadServingTls({ dir });
  t.regex(a.source, /\(made\)/);
  for (const f of Object.values(TLS_FILES)) t.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  const x = new X509Certificate(a.cert);
  const ca = new X509Certificate(a.ca);
  t.true(x.verify(ca.publicKey), 'the serving certificate is signed by the CA');
  t.true(ca.ca && !x.ca);
  t.truthy(x.checkIP('127.0.0.1'));
  t.truthy(x.checkIP('::1'));
  t.truthy(x.checkHost('localhost'));
  const b = loadServingTls({ dir });
  t.regex(b.source, /\(reused\)/);
  t.is(b.cert, a.cert);
  t.is(b.ca, a.ca);
  const c = loadServingTls({ dir, extraNames: ['ipam-api.ipam-system.svc'] });
  t.regex(c.source, /re-issued \(names changed\)/);
  t.is(c.ca, a.ca, 'the same CA signs the new certificate (clients keep their kubeconfig)');
  t.truthy(new X509Certificate(c.cert).checkHost('ipam-api.ipam-system.svc'));
  chmodSync(join(dir, TLS_FILES.key), 0o644);
  t.throws(() => loadServingTls({ dir, extraNames: ['ipam-api.ipam-system.svc'] }), { instanceOf: TlsConfigError, message: /readable by others; chmod 600/ });
});

test('certificates from files: served as given; a key of another certificate or only one of the pair is refused', (t) => {
  const c = makeCerts();
  t.teardown(() => rmSync(c.dir, { recursive: true, force: true }));
  const good = loadServingTls({ dir: tmp(t), certFile: c.serverCertFile, keyFile: c.serverKeyFile, caFile: c.caFile });
  t.is(good.ca, readFileSync(c.caFile, 'utf8'));
  t.throws(() => loadServingTls({ dir: tmp(t), certFile: c.serverCertFile, keyFile: c.clientKeyFile }), { message: /the key does not belong to this certificate/ });
  t.throws(() => loadServingTls({ dir: tmp(t), certFile: c.serverCertFile }), { message: /--tls-cert and --tls-key go together/ });
});

function plainGet(port: number, path: string): Promise<{ status: number } | Error> {
  return new Promise((ok) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      ok({ status: res.statusCode ?? 0 });
    });
    req.on('error', (e) => ok(e));
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
    req.end();
  });
}

test.serial('TCP is HTTPS: a start without TLS is refused unless insecureHttp says so; plain HTTP to the TLS port gets no answer', async (t) => {
  const f = await openStore();
  t.teardown(() => f.close());
  const log = pino({ level: 'silent' });
  await t.throwsAsync(Daemon.start({ store: f.store, listen: '127.0.0.1:0', token: TOKEN, node: 'n', log }), { message: /needs TLS/ });
  const d = await Daemon.start({ store: f.store, listen: '127.0.0.1:0', token: TOKEN, tls: testTls(), node: 'n', log });
  t.teardown(() => d.stop());
  const port = d.address!.port;
  const plain = await plainGet(port, '/v1/allocations?containerID=x');
  t.false(!(plain instanceof Error) && plain.status === 200, 'a plain HTTP request is not served');
  const ok = await httpsText(`https://127.0.0.1:${port}/v1/allocations?containerID=x`, { ca: testTls().ca, headers: { authorization: `Bearer ${TOKEN}` } });
  t.is(ok.status, 200, ok.text);
  const other = makeCerts();
  t.teardown(() => rmSync(other.dir, { recursive: true, force: true }));
  await t.throwsAsync(httpsText(`https://127.0.0.1:${port}/healthz`, { ca: readFileSync(other.caFile, 'utf8') }), { message: /self[- ]signed|unable to verify|certificate/i }, 'another CA does not verify it');
  const insecure = await Daemon.start({ store: f.store, listen: '127.0.0.1:0', token: TOKEN, insecureHttp: true, node: 'n2', log });
  t.teardown(() => insecure.stop());
  const r = await plainGet(insecure.address!.port, '/v1/allocations?containerID=x');
  t.false(r instanceof Error, String(r));
  t.is((r as { status: number }).status, 200);
});

test.serial('front proxy: X-Remote-User is believed only with a client certificate of the request-header CA and an allowed name', async (t) => {
  const c = makeCerts();
  t.teardown(() => rmSync(c.dir, { recursive: true, force: true }));
  const f = await openStore();
  t.teardown(() => f.close());
  const requestHeader = { clientCa: readFileSync(c.caFile, 'utf8'), allowedNames: ['client'], ...DEFAULT_REQUEST_HEADERS };
  const d = await Daemon.start({ store: f.store, listen: '127.0.0.1:0', token: TOKEN, tls: testTls(), requestHeader, node: 'n', log: pino({ level: 'silent' }) });
  t.teardown(() => d.stop());
  const url = `https://127.0.0.1:${d.address!.port}/apis/spiderpool.spidernet.io/v2beta1/spiderippools`;
  const ca = testTls().ca;
  const cert = (name: 'client' | 'rogue' | 'server') => ({
    cert: readFileSync(name === 'client' ? c.clientCertFile : name === 'rogue' ? c.rogueClientCertFile : c.serverCertFile),
    key: readFileSync(name === 'client' ? c.clientKeyFile : name === 'rogue' ? c.rogueClientKeyFile : c.serverKeyFile),
  });
  const asUser = { 'X-Remote-User': 'alice', 'X-Remote-Group': 'system:authenticated', 'X-Remote-Extra-Scopes': 'view' };
  t.is((await httpsText(url, { ca, headers: asUser, ...cert('client') })).status, 200, 'the front proxy with its certificate');
  t.is((await httpsText(url, { ca, headers: asUser })).status, 401, 'the headers alone prove nothing');
  t.is((await httpsText(url, { ca, headers: asUser, ...cert('rogue') })).status, 401, 'a certificate of another CA');
  t.is((await httpsText(url, { ca, headers: asUser, ...cert('server') })).status, 401, 'a certificate of the CA whose name is not allowed');
  t.is((await httpsText(url, { ca, ...cert('client') })).status, 401, 'the proxy certificate without a user header');
  t.is((await httpsText(url, { ca, headers: { authorization: `Bearer ${TOKEN}` } })).status, 200, 'the token still works without a certificate');
});

function ipam(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ETCD_ENDPOINTS: '', ...env }, timeout: 30_000 }, (err, stdout, stderr) =>
      ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test.serial('`ipam kubeconfig` of a real `ipam serve`: kubectl get/apply/delete and client-node work with it, verifying the CA', async (t) => {
  const { endpoints } = await sharedEtcd();
  const d = await startServe({ endpoints, prefix: freshPrefix(), node: 'kc-node' });
  t.teardown(() => d.stop());
  t.regex(d.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  const dataDir = dirname(d.socket);
  const made = await ipam(['--data-dir', dataDir, '--server', d.url, 'kubeconfig'], { IPAM_TOKEN: d.token });
  t.is(made.code, 0, made.stderr);
  t.notRegex(made.stdout, /insecure-skip-tls-verify/);
  const dir = tmp(t);
  const path = join(dir, 'kubeconfig');
  writeFileSync(path, made.stdout, { mode: 0o600 });
  const kubectl = kubectlIn(dir, path);
  const manifest = join(dir, 'pool.yaml');
  writeFileSync(manifest, 'apiVersion: spiderpool.spidernet.io/v2beta1\nkind: SpiderIPPool\nmetadata: {name: kc-tls}\nspec: {ipVersion: 4, subnet: 10.77.0.0/16, ips: [10.77.0.10-10.77.0.20]}\n');
  const applied = await kubectl('apply', '-f', manifest);
  t.is(applied.code, 0, applied.stderr);
  t.notRegex(applied.stderr, /must be logged in/);
  const got = await kubectl('get', 'sp', 'kc-tls', '-o', 'jsonpath={.spec.subnet}');
  t.is(got.code, 0, got.stderr);
  t.is(got.stdout, '10.77.0.0/16');

  const kc = new KubeConfig();
  kc.loadFromFile(path);
  t.falsy(kc.getCurrentCluster()?.skipTLSVerify);
  const list = (await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: 'spiderpool.spidernet.io', version: 'v2beta1', plural: 'spiderippools' })) as { items: { metadata: { name: string } }[] };
  t.deepEqual(list.items.map((i) => i.metadata.name), ['kc-tls']);

  const deleted = await kubectl('delete', '-f', manifest);
  t.is(deleted.code, 0, deleted.stderr);
  const wrongToken = await ipam(['--data-dir', dataDir, '--server', d.url, 'kubeconfig'], { IPAM_TOKEN: 'not-the-token-0123456789' });
  writeFileSync(path, wrongToken.stdout, { mode: 0o600 });
  const refused = await kubectl('get', 'sp');
  t.not(refused.code, 0);
  t.regex(refused.stderr, /must be logged in|Unauthorized/);
});
