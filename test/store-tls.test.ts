// The store against an etcd that requires TLS client certificates (made here with openssl).
import test from 'ava';
import { rmSync } from 'node:fs';
import { LocalEtcd } from '../src/local/etcd.js';
import { openEtcd, probeEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { makeCerts } from './helpers/certs.js';
import { allocated } from './helpers/events.js';
import { freshPrefix } from './helpers/store.js';

test('with a client certificate the store works over TLS; without one, or with a foreign one, a clear error comes fast', async (t) => {
  const certs = makeCerts();
  t.teardown(() => rmSync(certs.dir, { recursive: true, force: true }));
  const etcd = await LocalEtcd.start({
    tls: { certFile: certs.serverCertFile, keyFile: certs.serverKeyFile, caFile: certs.caFile, clientCertFile: certs.clientCertFile, clientKeyFile: certs.clientKeyFile },
  });
  t.teardown(() => etcd.stop());
  t.true(etcd.endpoints[0]!.startsWith('https://'));

  const good = { endpoints: etcd.endpoints, tls: { caFile: certs.caFile, certFile: certs.clientCertFile, keyFile: certs.clientKeyFile }, callTimeoutMs: 2000 };
  const client = openEtcd(good);
  await probeEtcd(client, good);
  const store = new EventStore(client, { prefix: freshPrefix() });
  await store.open();
  const r = await store.append([allocated(store.newId(), '10.60.0.1', 'tls-pod')]);
  const read = [];
  for await (const e of store.read()) read.push(e);
  t.is(read.length, 1);
  t.is(read[0]!.revision, r.revision);
  client.close();

  for (const [label, tls] of [
    ['no client certificate', { caFile: certs.caFile }],
    ['a certificate from another CA', { caFile: certs.caFile, certFile: certs.rogueClientCertFile, keyFile: certs.rogueClientKeyFile }],
  ] as const) {
    const conn = { endpoints: etcd.endpoints, tls, callTimeoutMs: 2000, dialTimeoutMs: 2000 };
    const c = openEtcd(conn);
    const t0 = Date.now();
    const err = await t.throwsAsync(probeEtcd(c, conn), undefined, label);
    t.true(Date.now() - t0 < 15_000, `${label}: answered in ${Date.now() - t0} ms, not a hang`);
    t.regex(err!.message, /cannot reach etcd at https:\/\/127\.0\.0\.1:\d+ \(tls\)/, label);
    t.regex(err!.message, /ETCD_CERT/, label);
    c.close();
  }
});
