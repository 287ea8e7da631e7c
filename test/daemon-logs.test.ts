// The daemon's logs as a person and a log shipper see them: readable lines on a terminal, JSON lines otherwise,
// --log-format to force one, --log-level to filter; the token never appears.
import test from 'ava';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const TOKEN = 'log-test-token-0123456789';

/** Runs `ipam serve` until its ready line, stops it with SIGTERM, and returns everything it wrote to stderr. */
async function serveLogs(globalFlags: string[], opts: { tty?: boolean } = {}): Promise<string> {
  const { endpoints } = await sharedEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'ipam-logs-'));
  const argv = [CLI, ...globalFlags, '--etcd', endpoints.join(','), '--prefix', freshPrefix(), '--data-dir', dir, 'serve', '--listen', '127.0.0.1:0', '--node', 'logs'];
  // `script` gives the daemon a real terminal (a pty) as stderr, as a person running `npm start` has.
  const [cmd, args] = opts.tty ? ['script', ['-qefc', [process.execPath, ...argv].map((a) => `'${a}'`).join(' '), '/dev/null']] : [process.execPath, argv];
  const child = spawn(cmd as string, args as string[], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, IPAM_TOKEN: TOKEN, IPAM_LOG_LEVEL: '', IPAM_LOG_FORMAT: '', ETCD_ENDPOINTS: '' } });
  let out = '';
  const onData = (b: Buffer) => {
    out += b.toString();
    if (/ipam: ready/.test(out) && child.exitCode === null) child.kill('SIGTERM');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await new Promise((ok) => child.once('exit', ok));
  clearTimeout(timer);
  return out;
}

const jsonLines = (out: string) => out.split(/\r?\n/).filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });

test('not a terminal: JSON lines; --log-level warn drops info', async (t) => {
  const out = await serveLogs([]);
  const lines = jsonLines(out);
  t.true(lines.some((l) => l.msg === 'event store open'), out);
  t.false(out.includes(TOKEN));
  const quiet = jsonLines(await serveLogs(['--log-level', 'warn']));
  t.false(quiet.some((l) => l.level < 40));
});

test('on a terminal: readable lines, not JSON; --log-format json forces JSON there too', async (t) => {
  const out = await serveLogs([], { tty: true });
  t.regex(out, /INFO.*event store open/);
  t.is(jsonLines(out).length, 0, out);
  t.false(out.includes(TOKEN));
  const forced = await serveLogs(['--log-format', 'json'], { tty: true });
  t.true(jsonLines(forced).some((l) => l.msg === 'event store open'), forced);
});

test('--log-format pretty without a terminal: readable lines', async (t) => {
  const out = await serveLogs(['--log-format', 'pretty']);
  t.regex(out, /INFO.*event store open/);
  t.is(jsonLines(out).length, 0);
});
