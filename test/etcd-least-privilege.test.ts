// Beside a shared etcd the engine runs as an etcd user whose role covers only its prefix: with etcd auth enabled and
// such a role, every engine operation works (append, read, subscribe, checkpoint, `ipam check`/`export`/`import`,
// `ipam serve` with allocations and releases, the footprint and alarm checks), and anything outside the prefix is
// refused by etcd itself.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { testTls } from './helpers/tls.js';
import { EtcdPermissionDeniedError } from 'etcd3';
import { pino } from 'pino';
import { loadAll } from '../projections/checkpoint.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { Daemon } from '../src/daemon/daemon.js';
import { LocalEtcd } from '../src/local/etcd.js';
import { startServe } from '../src/local/serve-process.js';
import { openEtcd, probeEtcd } from '../src/store/connect.js';
import { EventStore } from '../src/store/event-store.js';
import { noSpaceAlarm } from '../src/store/space-alarm.js';
import { call, TOKEN } from './helpers/daemon.js';
import { ROOT } from './helpers/cni.js';
import { freshPrefix } from './helpers/store.js';

const run = promisify(execFile);
const AT = '2026-01-01T00:00:00Z';
const USER = { username: 'ipam', password: 'ipam-secret-pw' };

test('an etcd user with readwrite on the prefix only runs every engine operation; outside the prefix etcd refuses', async (t) => {
  const etcd = await LocalEtcd.start();
  t.teardown(() => etcd.stop());
  const endpoint = etcd.endpoints[0]!;
  const prefix = freshPrefix();
  const other = freshPrefix();
  // What the operator of a shared etcd does (README, "Beside a shared etcd").
  const ctl = (...args: string[]) => run('etcdctl', ['--endpoints', endpoint, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  await ctl('user', 'add', 'root:root-secret-pw', '--interactive=false');
  await ctl('user', 'grant-role', 'root', 'root');
  await ctl('role', 'add', 'ipam');
  await ctl('role', 'grant-permission', 'ipam', 'readwrite', prefix, '--prefix=true');
  await ctl('user', 'add', `${USER.username}:${USER.password}`, '--interactive=false');
  await ctl('user', 'grant-role', USER.username, 'ipam');
  await ctl('auth', 'enable');
  const root = openEtcd({ endpoints: etcd.endpoints, auth: { username: 'root', password: 'root-secret-pw' } });
  t.teardown(() => root.close());
  await root.put(`${other}secret`).value('not yours');

  const conn = { endpoints: etcd.endpoints, auth: USER };
  const client = openEtcd(conn);
  t.teardown(() => client.close());
  await probeEtcd(client, conn, prefix);

  // Outside the prefix: refused by etcd, for reads and writes alike.
  await t.throwsAsync(client.get(`${other}secret`).string(), { instanceOf: EtcdPermissionDeniedError });
  await t.throwsAsync(client.put(`${other}x`).value('y'), { instanceOf: EtcdPermissionDeniedError });
  await t.throwsAsync(client.put('/registry/pods/default/x').value('y'), { instanceOf: EtcdPermissionDeniedError });
  await t.throwsAsync(client.getAll().prefix('/').keys(), { instanceOf: EtcdPermissionDeniedError });
  // Defragmenting needs etcd's root: refused (a healthy etcd saying no: the circuit stays closed, the next calls work),
  // and never on the engine's path, nor are compaction and disarming (etcd 3.4 does not refuse those to a user).
  await t.throwsAsync(client.maintenance.defragment(), { instanceOf: EtcdPermissionDeniedError });
  const probeOutside = await t.throwsAsync(probeEtcd(client, conn, other));
  t.regex(probeOutside!.message, /readwrite .* --prefix=true/);

  // In-process: append, read, subscribe, checkpoint, the footprint and the NOSPACE alarm check.
  const store = new EventStore(client, { prefix });
  await store.open();
  const lines: string[] = [];
  const daemon = await Daemon.start({ store, listen: '127.0.0.1:0', token: TOKEN, tls: testTls(), node: 'lp-0', log: pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) }) });
  t.teardown(() => daemon.stop());
  await daemon.allocator.definePool('lp', { ipVersion: 4, subnet: '10.88.0.0/24', ips: ['10.88.0.10-10.88.0.50'] }, { at: AT });
  const f = { port: daemon.address!.port, socket: '', ca: testTls().ca };
  const a = await call(f, 'POST', '/v1/allocations', { body: { endpoint: { namespace: 'lp', name: 'a', uid: 'ua', containerID: 'ca' }, pools: { ipv4: ['lp'] } } });
  t.is(a.status, 201, a.text);
  t.is((await call(f, 'POST', '/v1/releases', { body: { containerID: 'ca' } })).status, 200);
  await daemon.checkpointer.save();
  const cp = await loadAll(store, ALL_PROJECTIONS);
  t.truthy(cp, `checkpoint written and read back (${lines.join('')})`);
  const events: string[] = [];
  for await (const e of store.read()) events.push(e.event.type);
  t.deepEqual(events.filter((e) => e.startsWith('IP')), ['IPAllocated', 'IPReleased']);
  const fp = await daemon.footprint.measure();
  t.truthy(fp, 'footprint measured');
  t.true(fp!.prefixKeys > 0);
  t.is(await noSpaceAlarm(store), undefined);
  t.is((await call(f, 'GET', '/readyz', { token: null })).status, 200);
  t.false(lines.some((l) => /permission denied/i.test(l)), lines.join(''));

  // `ipam serve` as that user: start-up, allocate, release.
  const serveEnv = { ETCD_USER: USER.username, ETCD_PASSWORD: USER.password };
  const d = await startServe({ endpoints: etcd.endpoints, prefix, node: 'lp-1', env: serveEnv });
  t.teardown(() => d.stop());
  const g = { port: Number(new URL(d.url).port), socket: d.socket, ca: d.ca };
  const b = await call(g, 'POST', '/v1/allocations', { token: d.token, body: { endpoint: { namespace: 'lp', name: 'b', uid: 'ub', containerID: 'cb' }, pools: { ipv4: ['lp'] } } });
  t.is(b.status, 201, `${b.text}\n${d.output()}`);
  t.is((await call(g, 'POST', '/v1/releases', { token: d.token, body: { containerID: 'cb' } })).status, 200);
  t.false(/permission denied/i.test(d.output()), d.output());

  // The CLI straight to etcd as that user: check, export, import into another prefix the role does not cover.
  const dir = mkdtempSync(join(tmpdir(), 'ipam-lp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cli = (...args: string[]) =>
    run(process.execPath, [`${ROOT}/dist/src/cli/main.js`, '--etcd', endpoint, ...args], { env: { ...process.env, ...serveEnv } }).then(
      (r) => ({ code: 0, out: r.stdout + r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
  const check = await cli('--prefix', prefix, 'check');
  t.is(check.code, 0, check.out);
  const exported = await cli('--prefix', prefix, 'export', join(dir, 'log.jsonl'));
  t.is(exported.code, 0, exported.out);
  t.true(readFileSync(join(dir, 'log.jsonl'), 'utf8').includes('IPAllocated'));
  const refused = await cli('--prefix', other, 'import', join(dir, 'log.jsonl'));
  t.not(refused.code, 0);
  t.regex(refused.out, /permission denied/);
  t.deepEqual((await root.getAll().prefix(other).keys()).sort(), [`${other}secret`], 'nothing written outside the prefix');
});
