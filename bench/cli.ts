// `bench cli`: how long `ipam` commands take to start and answer, next to `node -e 0` in the same run: spawned
// the way a person or a script runs them, timed from spawn to exit, commands interleaved round by round so all see
// the same noise. `get` and `alloc` go to a real `ipam serve` over its unix socket.
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServe } from '../src/local/serve-process.js';
import { median, round } from './lib/stats.js';

const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../src/cli/main.js');

export interface CliBenchOptions {
  readonly endpoints: string[];
  readonly rounds: number;
}

export interface CliCommandFigure {
  readonly name: string;
  readonly argv: readonly string[];
  readonly p50Ms: number;
  readonly perRoundMs: readonly number[];
  /** p50 / `node -e 0`'s p50 in the same run. The floor is <= 2 for --help, get and alloc. */
  readonly ratioToNode: number;
}

export interface CliBenchResult {
  readonly scenario: 'cli';
  readonly rounds: number;
  readonly nodeP50Ms: number;
  readonly commands: readonly CliCommandFigure[];
  readonly floor: 2;
  readonly floorMet: boolean;
}

function timed(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((ok, fail) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', fail);
    child.once('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) fail(new Error(`${argv.join(' ')} exited ${code}: ${err}`));
      else ok(ms);
    });
  });
}

export async function runCliBench(o: CliBenchOptions): Promise<CliBenchResult> {
  const prefix = `/bench-cli-${Date.now().toString(36)}/`;
  const daemon = await startServe({ endpoints: o.endpoints, prefix, node: 'bench-node' });
  try {
    // The CLI must not see an etcd endpoint, or it would go to etcd instead of the daemon.
    const env = { ...process.env, ETCD_ENDPOINTS: '' };
    const sock = ['--socket', daemon.socket];
    const pool = JSON.stringify({ apiVersion: 'spiderpool.spidernet.io/v2beta1', kind: 'SpiderIPPool', metadata: { name: 'bench-cli' }, spec: { ipVersion: 4, subnet: '10.98.0.0/16', ips: ['10.98.0.1-10.98.255.254'] } });
    await new Promise<void>((ok, fail) => {
      const c = spawn(process.execPath, [MAIN, ...sock, 'apply', '-f', '-'], { stdio: ['pipe', 'ignore', 'inherit'], env });
      c.stdin.end(pool);
      c.once('exit', (code) => (code === 0 ? ok() : fail(new Error(`ipam apply exited ${code}`))));
    });
    let n = 0;
    const cases: { name: string; argv: () => string[] }[] = [
      { name: 'node -e 0', argv: () => ['-e', '0'] },
      { name: 'ipam --help', argv: () => [MAIN, '--help'] },
      { name: 'ipam get sp (socket)', argv: () => [MAIN, ...sock, 'get', 'sp'] },
      { name: 'ipam alloc (socket)', argv: () => [MAIN, ...sock, 'alloc', '--pod', `bench/cli-${++n}`, '--container-id', `cli-${n}`, '--ipv4-pool', 'bench-cli'] },
    ];
    const samples = cases.map(() => [] as number[]);
    for (let r = 0; r < o.rounds; r++) {
      // Rotate the order each round so no command always runs right after another.
      for (let k = 0; k < cases.length; k++) {
        const i = (k + r) % cases.length;
        samples[i]!.push(await timed(cases[i]!.argv(), env));
      }
    }
    const nodeP50 = median(samples[0]!);
    const commands = cases.slice(1).map((c, j) => {
      const xs = samples[j + 1]!;
      return { name: c.name, argv: c.argv().slice(1), p50Ms: round(median(xs), 1), perRoundMs: xs.map((x) => round(x, 1)), ratioToNode: round(median(xs) / nodeP50, 2) };
    });
    return { scenario: 'cli', rounds: o.rounds, nodeP50Ms: round(nodeP50, 1), commands, floor: 2, floorMet: commands.every((c) => c.ratioToNode <= 2) };
  } finally {
    await daemon.stop();
  }
}
