// The right error for the right cause, against a real daemon: malformed %-escapes are 400 (not 500/503), the auth
// scheme is case-insensitive, invalid UTF-8 is refused naming the field, CNI inputs that can never succeed are code
// 4 (not 11 "try again later"), a world-readable --token-file is warned about. Nothing is written by any of them.
import test from 'ava';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cniSocketRoute } from '../src/cni/daemon-route.js';
import { ENV_HEADERS, EXIT_CODE_HEADER, encodeHeaderValue } from '../src/cni/wire.js';
import { loadToken } from '../src/daemon/token.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, TOKEN } from './helpers/daemon.js';

test('malformed escapes 400; "bearer" in any case; invalid UTF-8 refused with the field; CNI pod names that cannot exist: code 4', async (t) => {
  const f = await startDaemon({ extra: { socketRoutes: [cniSocketRoute] } });
  t.teardown(() => f.close());
  await f.daemon.allocator.definePool('v4', { ipVersion: 4, subnet: '10.96.0.0/24', ips: ['10.96.0.10-10.96.0.200'] }, { at: AT });
  const before = await f.store.headRevision();

  const del = await call(f, 'DELETE', '/v1/allocations/%E0%A4%A');
  t.is(del.status, 400, del.text);
  t.like(del.json().error, { field: 'id', retryable: false });
  const kube = await call(f, 'GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools/%E0%A4%A');
  t.is(kube.status, 400, kube.text);
  t.regex(kube.json().message, /malformed %-escape/);

  for (const scheme of ['bearer', 'BEARER', 'Bearer']) {
    const r = await call(f, 'GET', '/v1/allocations?containerID=x', { token: null, headers: { authorization: `${scheme} ${TOKEN}` } });
    t.is(r.status, 200, scheme);
  }

  const bad = Buffer.concat([Buffer.from('{"endpoint":{"namespace":"default","name":"a'), Buffer.from([0xc3, 0x28]), Buffer.from('","uid":"u","containerID":"c"},"pools":{"ipv4":["v4"]}}')]);
  const utf = await call(f, 'POST', '/v1/allocations', { raw: bad });
  t.is(utf.status, 400, utf.text);
  t.like(utf.json().error, { code: 'InvalidUTF8', field: 'endpoint.name' });
  const kbad = Buffer.concat([Buffer.from('{"apiVersion":"spiderpool.spidernet.io/v2beta1","kind":"SpiderIPPool","metadata":{"name":"x","labels":{"a":"'), Buffer.from([0xff]), Buffer.from('"}},"spec":{"ipVersion":4,"subnet":"10.97.0.0/24"}}')]);
  const kutf = await call(f, 'POST', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools', { raw: kbad });
  t.is(kutf.status, 400, kutf.text);
  t.regex(kutf.json().message, /not valid UTF-8 \(in metadata\.labels\.a\)/);

  const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'net', type: 'ipam-es', ipam: { type: 'ipam-es', pools: { ipv4: ['v4'] } } });
  for (const [what, podName] of [['NUL', 'a\u0000b'], ['10 KB', 'p'.repeat(10_000)]] as const) {
    const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'ctr1', CNI_NETNS: '/var/run/netns/x', CNI_IFNAME: 'eth0', CNI_ARGS: `K8S_POD_NAMESPACE=default;K8S_POD_NAME=${podName};K8S_POD_UID=u1` };
    const headers = Object.fromEntries(Object.entries(env).map(([k, v]) => [ENV_HEADERS[k as keyof typeof ENV_HEADERS], encodeHeaderValue(v)]));
    const r = await call(f, 'POST', '/v1/cni', { raw: conf, via: 'socket', headers });
    t.is(Number(r.headers[EXIT_CODE_HEADER]), 1, what);
    t.is(r.json().code, 4, `${what}: ${r.text}`);
    t.regex(r.json().details, /K8S_POD_NAME/);
  }
  t.is(await f.store.headRevision(), before, 'nothing written');
});

test('a --token-file readable by others is accepted with a warning naming the fix', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-token-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 'x'.repeat(24));
  chmodSync(file, 0o644);
  t.regex(loadToken({ tokenFile: file, generatedPath: join(dir, 'gen') }).warning ?? '', /mode 644: other users can read the token; chmod 600 it/);
  chmodSync(file, 0o600);
  t.is(loadToken({ tokenFile: file, generatedPath: join(dir, 'gen') }).warning, undefined);
});
