// The engine's footprint in etcd: keys and bytes under its prefix (count-only ranges, a bounded scan), etcd's db size
// and quota, as Prometheus metrics refreshed on an interval, and a warning once the db passes a fraction of the quota.
import { Writable } from 'node:stream';
import test from 'ava';
import { testTls } from './helpers/tls.js';
import { pino } from 'pino';
import { definePool } from '../bench/alloc/engine.js';
import { Daemon } from '../src/daemon/daemon.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { openEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { footprint, rangeEnd } from '../src/store/footprint.js';
import { call, TOKEN } from './helpers/daemon.js';
import { freshPrefix } from './helpers/store.js';

const QUOTA = 16 * 1024 * 1024;

test('footprint: prefix keys and bytes match etcd, db size and quota come from etcd, metrics and a warning near the quota', async (t) => {
  const etcd = await LocalEtcd.start({ extraArgs: [`--quota-backend-bytes=${QUOTA}`] });
  t.teardown(() => etcd.stop());
  const prefix = freshPrefix();
  await definePool(etcd.endpoints, prefix, '10.86.0.0/24');
  const client = openEtcd({ endpoints: etcd.endpoints });
  t.teardown(() => client.close());
  // Outside the prefix: counted in etcd's db size, never in the prefix's footprint.
  for (let i = 0; i < 20; i++) await client.put(`/other/${i}`).value(Buffer.alloc(512 * 1024, 'y'));
  const store = new EventStore(client, { prefix });
  await store.open();
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, cb) => (lines.push(c.toString()), cb()) });
  const daemon = await Daemon.start({
    store,
    listen: '127.0.0.1:0',
    token: TOKEN,
    tls: testTls(),
    node: 'fp-0',
    log: pino({ level: 'warn' }, sink),
    footprint: { intervalMs: 200, warnFraction: 0.5, metricsEndpoints: etcd.endpoints },
  });
  t.teardown(() => daemon.stop());
  const f = { port: daemon.address!.port, socket: '', ca: testTls().ca };
  for (let i = 0; i < 20; i++) {
    const a = await call(f, 'POST', '/v1/allocations', { body: { endpoint: { namespace: 'fp', name: `p${i}`, uid: `u${i}`, containerID: `c${i}` }, pools: { ipv4: ['bench'] } } });
    t.is(a.status, 201, a.text);
  }
  const before = await client.kv.range({ key: Buffer.from(prefix), range_end: rangeEnd(prefix), keys_only: true });
  const m = (await daemon.footprint.measure())!;

  // The truth, read in full with plain ranges.
  const all = await client.kv.range({ key: Buffer.from(prefix), range_end: rangeEnd(prefix) });
  const bytes = all.kvs.reduce((s, kv) => s + kv.key.length + kv.value.length, 0);
  const had = new Set(before.kvs.map((kv) => kv.key.toString()));
  t.is(m.prefixKeys, all.kvs.length, `keys written while measuring: ${all.kvs.map((kv) => kv.key.toString()).filter((k) => !had.has(k)).join(', ')}`);
  t.is(m.logKeys, all.kvs.filter((kv) => kv.key.toString().startsWith(`${prefix}log/`)).length);
  t.is(m.tagKeys, all.kvs.filter((kv) => kv.key.toString().startsWith(`${prefix}tag/`)).length);
  t.true(m.prefixBytesExact);
  t.is(m.prefixBytes, bytes);
  const status = await client.maintenance.status();
  t.true(m.dbSizeBytes! >= 10 * 1024 * 1024 && m.dbSizeBytes! <= Number(status.dbSize) * 2, `db size ${m.dbSizeBytes}`);
  t.true(m.dbSizeInUseBytes! > 0 && m.dbSizeInUseBytes! <= m.dbSizeBytes!);
  t.is(m.quotaFrom, 'etcd-metrics');
  t.is(m.quotaBytes, QUOTA);

  const metrics = (await call(f, 'GET', '/metrics')).text;
  t.regex(metrics, new RegExp(`^ipam_prefix_keys ${m.prefixKeys}$`, 'm'));
  t.regex(metrics, /^ipam_prefix_bytes \d+$/m);
  t.regex(metrics, /^ipam_etcd_db_size_bytes \d+$/m);
  t.regex(metrics, /^ipam_etcd_db_size_in_use_bytes \d+$/m);
  t.regex(metrics, new RegExp(`^ipam_etcd_quota_bytes ${QUOTA}$`, 'm'));
  t.regex(metrics, /^ipam_etcd_nospace 0$/m);
  const warning = lines.find((l) => l.includes('of its quota'));
  t.truthy(warning, 'a warning once the db passed 50% of the quota');
  t.regex(warning!, /NOSPACE/);

  // Bounded: with a scan bound below the key count the bytes are extrapolated, not read in full.
  const bounded = await footprint(client, store.keys, { maxScanKeys: 5, quotaBytes: 123 });
  t.false(bounded.prefixBytesExact);
  t.is(bounded.prefixKeys, m.prefixKeys);
  t.true(bounded.prefixBytes > bytes / 4 && bounded.prefixBytes < bytes * 4, `estimate ${bounded.prefixBytes} vs ${bytes}`);
  t.is(bounded.quotaFrom, 'configured');
  t.is(bounded.quotaBytes, 123);
  // Bounded by bytes too (a large log's records are ~6 KB each): the scan stops after the page passing the budget.
  const byBytes = await footprint(client, store.keys, { maxScanBytes: 1 });
  t.false(byBytes.prefixBytesExact);
  t.is(byBytes.prefixKeys, m.prefixKeys);
  t.true(byBytes.prefixBytes > bytes / 4 && byBytes.prefixBytes < bytes * 4, `estimate ${byBytes.prefixBytes} vs ${bytes}`);
});
