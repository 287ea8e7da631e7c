// Runs a command with a local etcd (and Redis) started for it, unless ETCD_ENDPOINTS / REDIS_URL are given.
// Usage: node dist/src/local/with-services.js [--redis] -- <command> [args...]
import { spawn } from 'node:child_process';
import { LocalEtcd } from './etcd.js';
import { LocalRedis } from './redis.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const sep = argv.indexOf('--');
  const flags = sep >= 0 ? argv.slice(0, sep) : [];
  const cmd = sep >= 0 ? argv.slice(sep + 1) : argv;
  if (cmd.length === 0) {
    process.stderr.write('usage: with-services [--redis] -- <command> [args...]\n');
    return 2;
  }
  const env = { ...process.env };
  let etcd: LocalEtcd | undefined;
  let redis: LocalRedis | undefined;
  try {
    if (!env.ETCD_ENDPOINTS) {
      etcd = await LocalEtcd.start();
      env.ETCD_ENDPOINTS = etcd.endpoints.join(',');
      process.stderr.write(`local etcd at ${env.ETCD_ENDPOINTS}\n`);
    }
    if (flags.includes('--redis') && !env.REDIS_URL) {
      redis = await LocalRedis.start();
      env.REDIS_URL = redis.url;
      process.stderr.write(`local redis at ${env.REDIS_URL}\n`);
    }
    const child = spawn(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    return await new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 1 : 0))));
  } finally {
    await etcd?.stop();
    await redis?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
