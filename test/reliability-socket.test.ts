// The unix socket's permission check at start: when the socket cannot be made owner-only (a file system that ignores
// modes, simulated by neutering the daemon's umask and fs.chmodSync), the daemon refuses to start and leaves nothing listening. Serial: the
// tests change the process umask and fs.chmodSync.
import test from 'ava';
import fs, { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Daemon } from '../src/daemon/daemon.js';
import { freePort } from '../src/local/ports.js';
import { openStore } from './helpers/store.js';
import { TOKEN } from './helpers/daemon.js';
import { testTls } from './helpers/tls.js';

/** Whether something accepts connections at a socket path or a loopback port. */
function accepts(to: { path: string } | { port: number; host: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(to);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

test.serial('a socket left with group/other bits is refused at start; the TCP listener and the socket are closed again', async (t) => {
  const f = await openStore();
  t.teardown(() => f.close());
  const dir = mkdtempSync(join(tmpdir(), 'ipam-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'ipam.sock');
  const port = await freePort();
  const realChmod = fs.chmodSync;
  const oldMask = process.umask(0o002); // the socket is then created srwxrwxr-x
  const realUmask = process.umask;
  process.umask = (() => 0o002) as typeof process.umask; // the daemon's owner-only umask does not take either
  fs.chmodSync = () => undefined; // the chmod to 0600 silently does nothing
  syncBuiltinESMExports();
  try {
    const err = await t.throwsAsync(Daemon.start({ store: f.store, listen: `127.0.0.1:${port}`, token: TOKEN, tls: testTls(), socket, node: 'n1', log: pino({ level: 'silent' }) }));
    t.regex(err!.message, /unix socket .*ipam\.sock has mode 77[5-7]; refusing to serve it without a token \(want 600\)/);
  } finally {
    fs.chmodSync = realChmod;
    process.umask = realUmask;
    syncBuiltinESMExports();
    process.umask(oldMask);
  }
  t.false(existsSync(socket), 'the refused socket is removed');
  t.false(await accepts({ port, host: '127.0.0.1' }), 'the TCP listener is closed');
  t.is(await f.store.headRevision(), 0, 'nothing written');
});

test.serial('with a working chmod the same start succeeds and the socket is 0600 even under umask 0', async (t) => {
  const f = await openStore();
  t.teardown(() => f.close());
  const dir = mkdtempSync(join(tmpdir(), 'ipam-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'ipam.sock');
  const oldMask = process.umask(0);
  try {
    const d = await Daemon.start({ store: f.store, socket, node: 'n1', log: pino({ level: 'silent' }) });
    t.teardown(() => d.stop());
    t.is(fs.statSync(socket).mode & 0o777, 0o600);
    t.true(await accepts({ path: socket }));
  } finally {
    process.umask(oldMask);
  }
});
