// The CLI starts fast because each command loads only what it uses; shell completion comes from the command tree.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');
const HEAVY = /[\\/]node_modules[\\/](etcd3|@grpc|@kubernetes|bullmq|ioredis|pino|cockatiel)[\\/]/;
// Prints, on exit, the CommonJS modules the process loaded (etcd3, gRPC, client-node, BullMQ are all CommonJS).
const TRACE = 'data:text/javascript,import {createRequire} from "node:module"; const r = createRequire("/"); process.on("exit", () => process.stderr.write("\\nLOADED " + JSON.stringify(Object.keys(r.cache)) + "\\n"));';

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(cmd, args, { env: { ...process.env, ETCD_ENDPOINTS: '', ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

async function loaded(args: string[]): Promise<string[]> {
  const r = await run(process.execPath, ['--import', TRACE, CLI, ...args]);
  const line = r.stderr.split('\n').find((l) => l.startsWith('LOADED '));
  if (!line) throw new Error(`no module list from ipam ${args.join(' ')}: ${r.stderr}`);
  return JSON.parse(line.slice('LOADED '.length)) as string[];
}

test('--help, get and alloc through the daemon load none of etcd3, gRPC, client-node, BullMQ, pino; a command on etcd does', async (t) => {
  const missing = join(mkdtempSync(join(tmpdir(), 'ipam-cli-')), 'none.sock');
  for (const args of [['--help'], ['--socket', missing, 'get', 'sp'], ['--socket', missing, 'alloc', '--pod', 'a/b', '--container-id', 'c1'], ['completion', 'bash']]) {
    const heavy = (await loaded(args)).filter((m) => HEAVY.test(m));
    t.deepEqual(heavy, [], `ipam ${args.join(' ')}`);
  }
  // The detector itself: going to etcd (nothing listens on port 1) does load etcd3.
  t.true((await loaded(['--etcd', 'http://127.0.0.1:1', 'check'])).some((m) => /[\\/]etcd3[\\/]/.test(m)));
});

test('bash completion offers every command, the resources after get, and options', async (t) => {
  const help = (await run(process.execPath, [CLI, '--help'])).stdout;
  const commands = [...help.split('Commands:')[1]!.matchAll(/^\s{2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
  t.true(commands.includes('serve') && commands.includes('completion'));
  const dir = mkdtempSync(join(tmpdir(), 'ipam-completion-'));
  const script = join(dir, 'ipam.bash');
  writeFileSync(script, (await run(process.execPath, [CLI, 'completion', 'bash'])).stdout);
  const complete = async (...words: string[]) => {
    const r = await run('bash', ['-c', `source ${script}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _ipam; echo "\${COMPREPLY[*]}"`]);
    t.is(r.code, 0, r.stderr);
    return r.stdout.trim().split(/\s+/).filter(Boolean);
  };
  t.deepEqual((await complete('ipam', '')).sort(), commands.sort());
  t.deepEqual(await complete('ipam', 'hi'), ['history']);
  t.true((await complete('ipam', 'get', 's')).includes('spiderippools'));
  t.deepEqual(await complete('ipam', 'get', 'sp', '--o'), ['--output']);
  t.deepEqual(await complete('ipam', '--et'), ['--etcd']);
  t.true((await complete('ipam', 'serve', '--')).includes('--listen'));
});

test('zsh completion is a valid zsh script naming every command', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ipam-completion-'));
  const script = join(dir, '_ipam');
  const out = (await run(process.execPath, [CLI, 'completion', 'zsh'])).stdout;
  writeFileSync(script, out);
  const r = await run('zsh', ['-n', script]);
  t.is(r.code, 0, r.stderr);
  for (const c of ['serve', 'get', 'alloc', 'history', 'check']) t.regex(out, new RegExp(`'${c}:`));
});
