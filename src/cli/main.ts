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
  .option('--data-dir <dir>', 'where the local etcd, the socket and a generated token live', '.run')
  .option('--listen <host:port>', 'TCP address of the HTTP API (bearer token required)', '127.0.0.1:7475')
  .option('--no-tcp', 'serve only on the unix socket')
  .option('--socket <path>', 'unix socket of the API (mode 0600, no token; the CNI plugin uses it)', '<data-dir>/ipam.sock')
  .option('--token-file <file>', 'file holding the TCP API token (default: $IPAM_TOKEN, else <data-dir>/token, generated once)')
  .option('--node <name>', 'this node\'s name (default: the host name)')
  .action((o: { etcd?: string; prefix: string; dataDir: string; listen: string; tcp: boolean; socket: string; tokenFile?: string; node?: string }) =>
    serve({ ...o, socket: o.socket === '<data-dir>/ipam.sock' ? undefined : o.socket }),
  );

program.parseAsync().catch((e: unknown) => {
  process.stderr.write(`ipam: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
