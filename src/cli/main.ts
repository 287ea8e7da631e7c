#!/usr/bin/env node
// The `ipam` command line.
import { Command } from 'commander';
import { serve } from './serve.js';

const program = new Command()
  .name('ipam')
  .description('Event-sourced IP address allocation for Kubernetes, on etcd')
  .showHelpAfterError('(run with --help for usage)');

program
  .command('serve')
  .description('run the daemon (starts a local single-node etcd when no endpoint is given)')
  .option('--etcd <endpoints>', 'comma-separated etcd endpoints (default: $ETCD_ENDPOINTS, else a local etcd)')
  .option('--prefix <prefix>', 'key prefix in etcd', '/ipam/')
  .option('--data-dir <dir>', 'where the local etcd keeps its data', '.run')
  .action((o: { etcd?: string; prefix: string; dataDir: string }) => serve(o));

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`ipam: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
