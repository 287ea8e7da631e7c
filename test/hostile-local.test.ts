// Hostile neighbours on the same host, against the real `ipam serve` process: another local user (created here,
// removed after) cannot open the local etcd or the daemon's socket; kill -9 then restart on the same data dir finds
// and stops the orphaned etcd; a second daemon on the same socket, or a regular file at --socket, is refused.
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServe } from '../src/local/serve-process.js';
import { readProcessId, isAlive } from '../src/daemon/lock.js';
import { call } from './helpers/daemon.js';
import { rawConnection, rawGet } from './helpers/hostile.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

/** A parent folder everyone may enter (as /var/lib is), so only the daemon's own modes protect what it makes. */
function openParent(t: import('ava').ExecutionContext): string {
  const parent = mkdtempSync(join(tmpdir(), 'ipam-hostile-'));
  chmodSync(parent, 0o755);
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  return parent;
}

/** TCP ports process `pid` listens on: its sockets' inodes looked up in /proc/net/tcp{,6} (state 0A, LISTEN). */
function tcpListenersOf(pid: number): string[] {
  const inodes = new Set(readdirSync(`/proc/${pid}/fd`).map((fd) => /^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`))?.[1]).filter(Boolean));
  const rows = ['/proc/net/tcp', '/proc/net/tcp6'].flatMap((f) => readFileSync(f, 'utf8').split('\n').slice(1)).map((l) => l.trim().split(/\s+/));
  return rows.filter((r) => r[3] === '0A' && inodes.has(r[9])).map((r) => r[1]!);
}

function readlinkSafe(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

const alloc = (pod: string) => ({ body: { endpoint: { namespace: 'h', name: pod, uid: `u-${pod}`, containerID: `c-${pod}` }, pools: { ipv4: ['p'] } }, via: 'socket' as const });
const poolManifest = { body: { apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'p' }, spec: { ipVersion: 4, subnet: '10.95.0.0/24', ips: ['10.95.0.10-10.95.0.100'] } }, via: 'socket' as const };

test.serial('attack 5: the local etcd listens on no TCP port and, like the daemon socket, cannot be opened by another local user', async (t) => {
  const parent = openParent(t);
  const dataDir = join(parent, 'data');
  const socket = join(parent, 'ipam.sock');
  const d = await startServe({ dataDir, socket, prefix: '/ipam/', node: 'n1' });
  t.teardown(() => d.stop());
  const etcdPid = readProcessId(join(dataDir, 'etcd', 'm0.pid'))!.pid;
  t.deepEqual(tcpListenersOf(etcdPid), [], `etcd ${etcdPid} listens on TCP`);
  const control = createServer().listen(0, '127.0.0.1'); // the check does see a TCP listener when there is one
  await once(control, 'listening');
  t.is(tcpListenersOf(process.pid).length, 1);
  control.close();
  t.is(statSync(join(dataDir, 'etcd')).mode & 0o777, 0o700);
  t.is(statSync(dataDir).mode & 0o777, 0o700);
  t.is(statSync(socket).mode & 0o777, 0o600);
  t.is((await call({ socket, port: 0 }, 'POST', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools', poolManifest)).status, 201);

  const user = `ipamx${randomBytes(3).toString('hex')}`;
  execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', user]);
  t.teardown(() => void spawnSync('userdel', [user]));
  const etcdSocket = join(dataDir, 'etcd', 'etcd-client:1');
  t.true(existsSync(etcdSocket));
  // As that user: connect to each socket (and, should the etcd one open, speak etcd's gRPC to it).
  const probe = `
    const net = require('node:net');
    const tryConnect = (p) => new Promise((ok) => { const c = net.connect(p); c.on('connect', () => { c.destroy(); ok('connected'); }); c.on('error', (e) => ok(e.code)); });
    (async () => { console.log(JSON.stringify({ etcd: await tryConnect(process.argv[1]), daemon: await tryConnect(process.argv[2]) })); })();`;
  const r = spawnSync('runuser', ['-u', user, '--', process.execPath, '-e', probe, etcdSocket, socket], { encoding: 'utf8', timeout: 20_000 });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(JSON.parse(r.stdout), { etcd: 'EACCES', daemon: 'EACCES' });
  // The owner still gets through.
  t.is((await call({ socket, port: 0 }, 'POST', '/v1/allocations', alloc('a'))).status, 201);
});

test.serial('attacks 6 and 8: kill -9, then a restart on the same data dir stops the orphaned etcd and is ready within seconds; state kept', async (t) => {
  const parent = openParent(t);
  const dataDir = join(parent, 'data');
  const socket = join(parent, 'ipam.sock');
  const first = await startServe({ dataDir, socket, prefix: '/ipam/', node: 'n1' });
  t.is((await call({ socket, port: 0 }, 'POST', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools', poolManifest)).status, 201);
  const held = (await call({ socket, port: 0 }, 'POST', '/v1/allocations', alloc('k'))).json().allocations[0].address;
  const orphan = readProcessId(join(dataDir, 'etcd', 'm0.pid'))!;
  first.child.kill('SIGKILL');
  await first.stop();
  t.true(isAlive(orphan), 'its etcd outlived it');
  const t0 = Date.now();
  const second = await startServe({ dataDir, socket, prefix: '/ipam/', node: 'n1', timeoutMs: 20_000 });
  t.teardown(() => second.stop());
  const seconds = (Date.now() - t0) / 1000;
  t.log(`restart ready in ${seconds.toFixed(1)} s`);
  t.true(seconds < 15, `ready in ${seconds} s`);
  t.false(isAlive(orphan), 'the orphaned etcd was stopped');
  t.notDeepEqual(readProcessId(join(dataDir, 'etcd', 'm0.pid')), orphan);
  const again = await call({ socket, port: 0 }, 'GET', '/v1/allocations?containerID=c-k', { via: 'socket' });
  t.is(again.json().allocations[0].address, held, 'the allocation made before the crash is there');
  // SIGTERM with watches open (hour-long deadlines, bookmarks): the daemon exits by itself, and cleanly.
  const watches = await Promise.all(Array.from({ length: 3 }, () => rawConnection({ socket }, rawGet('/apis/spiderpool.spidernet.io/v2beta1/spiderippools?watch=true&allowWatchBookmarks=true', false))));
  await new Promise((r) => setTimeout(r, 300));
  const s0 = Date.now();
  await second.stop();
  watches.forEach((w) => w.destroy());
  t.true(Date.now() - s0 < 5000, `stopped in ${Date.now() - s0} ms`);
  t.is(second.child.exitCode, 0, `exit ${second.child.exitCode} ${second.child.signalCode}`);
  t.false(existsSync(socket), 'a clean stop removes the socket it made');
  t.false(existsSync(join(dataDir, 'ipam.lock')), 'and its lock');
});

test.serial('attack 8: a second daemon on a live socket refuses to start and leaves it alone; a regular file at --socket is refused, not deleted', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const parent = openParent(t);
  const socket = join(parent, 'ipam.sock');
  const a = await startServe({ endpoints, prefix, node: 'a', socket });
  t.teardown(() => a.stop());
  const err = await t.throwsAsync(startServe({ endpoints, prefix, node: 'b', socket, timeoutMs: 20_000 }));
  t.regex(err!.message, new RegExp(`unix socket ${socket} is in use by process ${a.pid}`));
  t.is((await call({ socket, port: 0 }, 'GET', '/healthz', { via: 'socket' })).status, 200, 'the first daemon still serves its socket');
  const file = join(parent, 'precious.txt');
  writeFileSync(file, 'keep me\n');
  const err2 = await t.throwsAsync(startServe({ endpoints, prefix, node: 'c', socket: file, timeoutMs: 20_000 }));
  t.regex(err2!.message, /exists and is not a unix socket; refusing to replace it/);
  t.is(readFileSync(file, 'utf8'), 'keep me\n');
});
