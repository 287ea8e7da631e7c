#!/usr/bin/env node
// The `ipam` command line: the daemon, and commands that talk to it or straight to etcd.
import { Argument, Command, Option } from 'commander';
import { isAllocError } from '../alloc/errors.js';
import { isInputError } from '../net/errors.js';
import { isEtcdNoSpace } from '../store/errors.js';
import type { GlobalOptions } from './connection.js';
import { DaemonError } from './daemon-client.js';
import { CliError } from './errors.js';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../daemon/log-options.js';

// Each command loads its modules when it runs (the daemon, the controller, etcd3, BullMQ, client-node are heavy):
// `ipam --help` or a command that talks to the daemon starts in about the time of `node -e 0`.
const commands = {
  alloc: () => import('./commands/alloc.js'),
  apply: () => import('./commands/apply.js'),
  adopt: () => import('./commands/adopt.js'),
  audit: () => import('./commands/audit.js'),
  check: () => import('./commands/check.js'),
  get: () => import('./commands/get.js'),
  kubeconfig: () => import('./commands/kubeconfig.js'),
  serve: () => import('./serve.js'),
  controller: () => import('../k8s/controller.js'),
};
import { DEFAULT_RETENTION, parseBytes, parseDuration, positiveInt, type RetentionPolicy } from '../lifecycle/retention.js';

const program = new Command()
  .name('ipam')
  .description('Event-sourced IP address allocation for Kubernetes, on etcd')
  .option('--etcd <endpoints>', 'work on etcd directly (comma-separated endpoints; default $ETCD_ENDPOINTS); TLS from ETCD_CACERT/ETCD_CERT/ETCD_KEY')
  .option('--prefix <prefix>', 'key prefix in etcd', '/ipam/')
  .option('--server <url>', 'talk to the daemon at this URL (token from --token-file or $IPAM_TOKEN)')
  .option('--socket <path>', "talk to the daemon on this unix socket (default <data-dir>/ipam.sock)")
  .option('--token-file <file>', 'file holding the API token')
  .option('--ca-file <file>', "CA of the daemon's serving certificate (default <data-dir>/tls/ca.crt)")
  .option('--data-dir <dir>', 'where `serve` keeps the local etcd, socket and generated token', '.run')
  .addOption(new Option('--log-level <level>', 'serve and controller: log level (default $IPAM_LOG_LEVEL or info)').choices(LOG_LEVELS))
  .addOption(new Option('--log-format <format>', 'serve and controller: readable lines on a terminal, JSON otherwise (auto), or always one').choices(LOG_FORMATS))
  .showHelpAfterError('(run with --help for usage)');

const globals = (): GlobalOptions & { logLevel?: LogLevel; logFormat?: LogFormat } => program.opts();
const loggerOptions = (g: { logLevel?: LogLevel; logFormat?: LogFormat }) => ({ ...(g.logLevel ? { level: g.logLevel } : {}), ...(g.logFormat ? { format: g.logFormat } : {}) });
const output = (choices: string[]) => new Option('-o, --output <format>', 'output format').choices(choices);
const revision = (v: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`expected a revision (a non-negative integer), got ${v}`);
  return Number(v);
};
const collect = (v: string, prev: string[] = []) => [...prev, ...v.split(',').filter(Boolean)];

program
  .command('serve')
  .description('run the daemon (starts a local single-node etcd when no endpoint is given)')
  .option('--listen <host:port>', 'TCP address of the HTTP API (bearer token required)', '127.0.0.1:7475')
  .option('--no-tcp', 'serve only on the unix socket')
  .option('--no-console', 'do not serve the web console at /console/')
  .option('--node <name>', "this node's name (default: the host name)")
  .option('--kubeconfig [file]', "resolve pods' owner controllers from the Kubernetes API (file, or $KUBECONFIG / in-cluster when given without one)")
  .option('--etcd-quota-bytes <bytes>', "etcd's --quota-backend-bytes, when its /metrics cannot tell (default 2 GiB, etcd's default)", (v) => positive(v, '--etcd-quota-bytes'))
  .option('--quota-warn-fraction <f>', "warn when etcd's db size passes this fraction of its quota", (v) => fraction(v, '--quota-warn-fraction'), 0.8)
  .option('--footprint-interval-ms <ms>', "how often to measure the footprint in etcd (ipam_prefix_*, ipam_etcd_* metrics)", (v) => positive(v, '--footprint-interval-ms'), 60_000)
  .option('--archive-dir <dir>', 'maintain the log: archive records before the horizon here and delete them from etcd (storage every daemon that may maintain reaches; see README "Log lifecycle"; default <data-dir>/archive on the local etcd, off beside a given one)')
  .option('--retain-min-age <duration>', 'keep commits younger than this in etcd', '7d')
  .option('--retain-min-revisions <n>', 'keep at least this many etcd revisions behind the head', '10000')
  .option('--retain-max-bytes <size>', "byte budget of the prefix in etcd; past it the age is waived ('none': no budget)", '512MiB')
  .option('--maintain-interval <duration>', 'how often the maintaining daemon considers moving the horizon', '60s')
  .option('--archive-checkpoint-every <revisions>', 'keep a copy of the horizon checkpoint in the archive every this many revisions: a read of the past replays at most this much log', (v) => positive(v, '--archive-checkpoint-every'), 10_000)
  .option('--tls-cert <file>', 'serving certificate (PEM) of the TCP API (default: one issued by a CA generated into <data-dir>/tls)')
  .option('--tls-key <file>', 'its private key (PEM, mode 0600)')
  .option('--tls-ca <file>', 'the CA that signed --tls-cert, for `ipam kubeconfig`')
  .option('--tls-san <names>', 'more DNS names or IPs for the generated serving certificate (repeatable or comma-separated)', collect)
  .option('--insecure-http', 'serve plain HTTP on TCP (the token crosses the network in clear; for a TLS-terminating proxy on the same host)')
  .option('--requestheader-client-ca-file <file>', 'trust X-Remote-User/-Group/-Extra-* from clients with a certificate of this CA (the aggregation layer\'s front proxy)')
  .option('--requestheader-allowed-names <names>', 'common names of front-proxy certificates allowed (default: any the CA signed)', collect)
  .option('--requestheader-username-headers <names>', 'user name headers (default X-Remote-User)', collect)
  .option('--requestheader-group-headers <names>', 'group headers (default X-Remote-Group)', collect)
  .option('--requestheader-extra-headers-prefix <prefixes>', 'extra-attribute header prefixes (default X-Remote-Extra-)', collect)
  .action(
    async (o: {
      listen: string;
      tcp: boolean;
      console: boolean;
      node?: string;
      kubeconfig?: string | boolean;
      etcdQuotaBytes?: number;
      quotaWarnFraction: number;
      footprintIntervalMs: number;
      archiveDir?: string;
      archiveCheckpointEvery: number;
      retainMinAge: string;
      retainMinRevisions: string;
      retainMaxBytes: string;
      maintainInterval: string;
      tlsCert?: string;
      tlsKey?: string;
      tlsCa?: string;
      tlsSan?: string[];
      insecureHttp?: boolean;
      requestheaderClientCaFile?: string;
      requestheaderAllowedNames?: string[];
      requestheaderUsernameHeaders?: string[];
      requestheaderGroupHeaders?: string[];
      requestheaderExtraHeadersPrefix?: string[];
    }) => {
      const g = globals();
      const kubeconfig = o.kubeconfig === undefined ? undefined : o.kubeconfig === true ? '' : String(o.kubeconfig);
      const lifecycle = { ...(o.archiveDir !== undefined ? { archiveDir: o.archiveDir } : {}), policy: retentionFlags(o), checkpointSpacing: o.archiveCheckpointEvery };
      return (await commands.serve()).serve({
        listen: o.listen,
        tcp: o.tcp,
        console: o.console,
        ...(o.node ? { node: o.node } : {}),
        ...(o.etcdQuotaBytes ? { etcdQuotaBytes: o.etcdQuotaBytes } : {}),
        quotaWarnFraction: o.quotaWarnFraction,
        footprintIntervalMs: o.footprintIntervalMs,
        lifecycle,
        ...tlsFlags(o),
        kubeconfig,
        logger: loggerOptions(g),
        prefix: g.prefix,
        dataDir: g.dataDir,
        ...(g.etcd ? { etcd: g.etcd } : {}),
        ...(g.socket ? { socket: g.socket } : {}),
        ...(g.tokenFile ? { tokenFile: g.tokenFile } : {}),
      });
    },
  );

function retentionFlags(o: { retainMinAge: string; retainMinRevisions: string; retainMaxBytes: string; maintainInterval: string }): RetentionPolicy {
  try {
    return {
      ...DEFAULT_RETENTION,
      minAgeMs: parseDuration(o.retainMinAge, '--retain-min-age'),
      minRevisions: positiveInt(o.retainMinRevisions, '--retain-min-revisions'),
      maxBytes: o.retainMaxBytes === 'none' ? undefined : parseBytes(o.retainMaxBytes, '--retain-max-bytes'),
      intervalMs: parseDuration(o.maintainInterval, '--maintain-interval'),
    };
  } catch (e) {
    throw new CliError((e as Error).message);
  }
}

/** The TLS and front-proxy flags as given (absent ones left out). */
function tlsFlags(o: Record<string, unknown>): Record<string, unknown> {
  const keys = ['tlsCert', 'tlsKey', 'tlsCa', 'tlsSan', 'insecureHttp', 'requestheaderClientCaFile', 'requestheaderAllowedNames', 'requestheaderUsernameHeaders', 'requestheaderGroupHeaders', 'requestheaderExtraHeadersPrefix'];
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
}

function positive(v: string, flag: string): number {
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new CliError(`${flag}: expected a positive integer, got ${v}`);
  return Number(v);
}
function fraction(v: string, flag: string): number {
  const n = Number(v);
  if (!/^(0?\.\d+|1(\.0*)?)$/.test(v) || n <= 0 || n > 1) throw new CliError(`${flag}: expected a fraction in (0, 1], got ${v}`);
  return n;
}

const ms = (v: string) => {
  if (!/^\d+$/.test(v)) throw new CliError(`expected milliseconds (a non-negative integer), got ${v}`);
  return Number(v);
};

program
  .command('controller')
  .description('Kubernetes side: CRD sources -> events, status write-back (BullMQ on Redis), pod garbage collection, SpiderSubnet auto pools for workloads')
  .option('--kubeconfig <file>', 'kubeconfig (default: $KUBECONFIG, ~/.kube/config, or the pod\'s service account)')
  .option('--redis-url <url>', 'Redis for the job queues (default $REDIS_URL)')
  .option('--queue-prefix <prefix>', 'BullMQ key prefix', 'ipam')
  .option('--gc-grace-ms <ms>', 'how long a pod must be gone, replaced or finished before its addresses are released', ms, 30_000)
  .option('--gc-sweep-ms <ms>', 'period of the full garbage-collection sweep', ms, 300_000)
  .option('--crd-retry-ms <ms>', 'delay before retrying a refused CR deletion', ms, 10_000)
  .option('--status-rate <n>', 'status patches per second across all controllers', ms, 50)
  .option('--status-coalesce-ms <ms>', 'how long a changed object waits before its status is written', ms, 500)
  .option('--no-sources', 'do not watch CRs')
  .option('--no-status-writeback', 'do not write status back')
  .option('--no-gc', 'do not garbage-collect')
  .option('--no-auto-pools', 'do not create SpiderSubnet auto pools for annotated workloads')
  .option('--auto-pool-retry-ms <ms>', 'delay before retrying an auto pool that cannot be reconciled yet (subnet full, IPs still held)', ms, 10_000)
  .action(async (o: Record<string, unknown>) => {
    const g = globals();
    const logger = (await import('../daemon/logger.js')).createLogger(loggerOptions(g));
    const log = (level: 'info' | 'warn', msg: string) => logger[level](msg);
    return (await commands.controller()).runController({ ...o, log, prefix: g.prefix, ...(g.etcd ? { etcd: g.etcd } : {}) });
  });

program
  .command('apply')
  .description('create or update SpiderSubnet, SpiderIPPool, SpiderReservedIP and Whereabouts IPPool objects from YAML')
  .requiredOption('-f, --filename <file>', 'YAML or JSON file (- for stdin); several documents allowed')
  .option('--dry-run', 'validate and decide, write nothing')
  .addOption(new Option('--validate <mode>', 'unknown fields: strict (reject), warn, ignore').choices(['strict', 'warn', 'ignore']).default('strict'))
  .action(async (o: { filename: string; dryRun?: boolean; validate: 'strict' | 'warn' | 'ignore' }) => (await commands.apply()).apply(globals(), { file: o.filename, dryRun: Boolean(o.dryRun), validate: o.validate }));

program
  .command('adopt')
  .description('take over Whereabouts (IPPool allocations, OverlappingRangeIPReservations) and Spiderpool (SpiderIPPool allocatedIPs, SpiderEndpoints) allocations, so running pods keep their addresses')
  .requiredOption('-f, --filename <file>', 'YAML or JSON as kubectl get -o yaml prints it (- for stdin); several documents and Lists allowed')
  .option('--dry-run', 'print what would be adopted and every conflict; write nothing')
  .action(async (o: { filename: string; dryRun?: boolean }) => (await commands.adopt()).adopt(globals(), { file: o.filename, dryRun: Boolean(o.dryRun) }));

program
  .command('get')
  .description('list or show subnets, ippools, endpoints, workloadendpoints (from the daemon, or rebuilt from etcd with --etcd)')
  .argument('<resource>', 'spidersubnets|spiderippools|spiderendpoints|ippools|workloadendpoints (or ss, sp, se, wep)')
  .argument('[name]', 'one object')
  .option('-n, --namespace <ns>', 'namespace of namespaced resources', 'default')
  .option('-A, --all-namespaces', 'every namespace')
  .addOption(output(['wide', 'yaml', 'json']))
  .action(async (resource: string, name: string | undefined, o: { namespace: string; allNamespaces?: boolean; output?: 'wide' | 'yaml' | 'json' }) =>
    (await commands.get()).get(globals(), resource, name, { namespace: o.namespace, allNamespaces: Boolean(o.allNamespaces), ...(o.output ? { output: o.output } : {}) }),
  );

program
  .command('alloc')
  .description('allocate addresses for a pod interface (what a CNI ADD does)')
  .requiredOption('--pod <namespace/name>', 'the pod')
  .requiredOption('--container-id <id>', 'the sandbox container id')
  .option('--uid <uid>', 'the pod UID')
  .option('--nic <name>', 'interface name', 'eth0')
  .option('--node <name>', 'node name (default: the daemon\'s)')
  .option('--ipv4-pool <names>', 'IPv4 pools to try, in order (repeatable or comma-separated)', collect)
  .option('--ipv6-pool <names>', 'IPv6 pools to try, in order', collect)
  .addOption(output(['json']))
  .action(async (o) => (await commands.alloc()).alloc(globals(), o));

program
  .command('release')
  .description('release what a container holds (CNI DEL) or what a pod holds')
  .option('--container-id <id>', 'the sandbox container id')
  .option('--nic <name>', 'only this interface')
  .option('--pod <namespace/name>', 'everything this pod holds')
  .option('--uid <uid>', 'only if the pod has this UID')
  .addOption(output(['json']))
  .action(async (o) => (await commands.alloc()).release(globals(), o));

program
  .command('history')
  .description('who held an address, what a pod held, what happened in a pool: from the log (needs --etcd)')
  .argument('<what>', 'ip | pod | pool')
  .argument('<key>', 'ADDRESS | NAMESPACE/NAME | POOL')
  .option('--archive-dir <dir>', "the daemon's archive directory: needed for what lies before the log's horizon")
  .addOption(output(['json']))
  .action(async (what: string, key: string, o: { output?: 'json'; archiveDir?: string }) => (await commands.audit()).historyCmd(globals(), what, key, o));

program
  .command('replay')
  .description('rebuild every projection from the log, now or as of a revision or time (needs --etcd)')
  .option('--at <revision|time>', 'a revision, or a time such as 2026-11-23T14:02:00Z')
  .option('--kind <resource>', 'print this resource\'s objects as they were')
  .option('--archive-dir <dir>', "the daemon's archive directory: needed for what lies before the log's horizon")
  .addOption(output(['wide', 'yaml', 'json']))
  .action(async (o: { at?: string; kind?: string; output?: 'wide' | 'yaml' | 'json'; archiveDir?: string }) => (await commands.audit()).replayCmd(globals(), o));

program
  .command('export')
  .description('write the log (or a range of it) as JSON Lines, for archiving (needs --etcd)')
  .argument('<file>', 'output file')
  .option('--after <revision>', 'only commits after this revision', revision)
  .option('--until <revision>', 'only commits at or before this revision', revision)
  .option('--archive-dir <dir>', "the daemon's archive directory: needed for what lies before the log's horizon")
  .action(async (file: string, o: { after?: number; until?: number; archiveDir?: string }) => (await commands.audit()).exportCmd(globals(), file, o));

program
  .command('import')
  .description('load an export into an empty store (another cluster, another prefix) (needs --etcd)')
  .argument('<file>', 'a file written by `ipam export`')
  .action(async (file: string) => (await commands.audit()).importCmd(globals(), file));

program
  .command('kubeconfig')
  .description("print a kubeconfig for kubectl and client libraries: the daemon's URL (--server, default https://127.0.0.1:7475), its CA and the API token")
  .option('--name <name>', 'cluster, user and context name', 'ipam-es')
  .action(async (o: { name: string }) => (await commands.kubeconfig()).kubeconfig(globals(), o));

program
  .command('check')
  .description('check that the log, the tag keys and the projections agree, and archive + etcd continuity; exits 1 on any problem (needs --etcd)')
  .option('--archive-dir <dir>', "the daemon's archive directory: needed for what lies before the log's horizon")
  .addOption(output(['json']))
  .action(async (o: { output?: 'json'; archiveDir?: string }) => (await commands.check()).check(globals(), o));

program
  .command('completion')
  .description('print a shell completion script: `source <(ipam completion bash)`, or zsh: `ipam completion zsh > "${fpath[1]}/_ipam"`')
  .addArgument(new Argument('<shell>', 'the shell').choices(['bash', 'zsh']))
  .action(async (shell: 'bash' | 'zsh') => {
    const { bashCompletion, zshCompletion } = await import('./completion.js');
    process.stdout.write(shell === 'bash' ? bashCompletion(program) : zshCompletion(program));
  });

/** ENOSPC's number on Linux, so scripts can tell a full etcd from other failures. */
const EXIT_ETCD_NOSPACE = 28;

program.parseAsync().catch((e: unknown) => {
  const msg =
    e instanceof CliError || e instanceof DaemonError
      ? e.message
      : isInputError(e) || isAllocError(e)
        ? e.message
        : e instanceof Error
          ? e.message
          : String(e);
  process.stderr.write(`ipam: ${msg}\n`);
  process.exit(exitCode(e));
});

/** 2: usage or input; EXIT_ETCD_NOSPACE: etcd refused a write for lack of space (here or in the daemon); 1: anything else. */
function exitCode(e: unknown): number {
  if (e instanceof CliError || isInputError(e)) return 2;
  if (isEtcdNoSpace(e) || (e instanceof DaemonError && e.code === 'EtcdNoSpace')) return EXIT_ETCD_NOSPACE;
  return 1;
}
