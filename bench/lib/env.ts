// The environment a figure was measured in, recorded next to it.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

export function environment(): Record<string, unknown> {
  const run = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return 'unknown';
    }
  };
  return {
    cores: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    etcd: /etcd Version: (\S+)/.exec(run('etcd', ['--version']))?.[1] ?? 'unknown',
    commit: run('git', ['rev-parse', '--short', 'HEAD']),
    date: new Date().toISOString(),
  };
}
