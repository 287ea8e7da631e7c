// `ipam serve`: the daemon. Opens the store (starting a local etcd when no endpoint is given), runs the allocator and
// live projections, serves the API, and runs until signalled.
import { mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { cniSocketRoute } from '../cni/daemon-route.js';
import { consoleApiRoute, consoleAssetsRoute } from '../console/route.js';
import { Daemon } from '../daemon/daemon.js';
import type { ClusterCache } from '../k8s/cluster-inputs.js';
import { createLogger, type LoggerOptions } from '../daemon/logger.js';
import { PathLock } from '../daemon/lock.js';
import { loadToken } from '../daemon/token.js';
import { DEFAULT_REQUEST_HEADERS, loadServingTls, type RequestHeaderOptions } from '../daemon/tls.js';
import { readFileSync } from 'node:fs';
import { LocalEtcd } from '../local/etcd.js';
import { connectionFromEnv, describeConnection, openEtcd, probeEtcd, type EtcdConnection } from '../store/connect.js';
import { EventStore } from '../store/event-store.js';
import { defaultTagLayout } from '../store/tag-layout.js';
import type { RetentionPolicy } from '../lifecycle/retention.js';
import { settleHeapMode } from '../daemon/settle-heap.js';

export interface ServeOptions {
  readonly etcd?: string;
  readonly prefix: string;
  readonly dataDir: string;
  readonly listen: string;
  readonly socket?: string;
  readonly tokenFile?: string;
  readonly node?: string;
  readonly tcp: boolean;
  /** Kubeconfig for resolving pods' owner controllers; none: owners only as requests give them. */
  readonly kubeconfig?: string;
  readonly logger?: LoggerOptions;
  /** The web console at /console/ (default on). */
  readonly console?: boolean;
  /** etcd's quota when its /metrics cannot tell; warn at this fraction of it; measure this often. */
  readonly etcdQuotaBytes?: number;
  readonly quotaWarnFraction?: number;
  readonly footprintIntervalMs?: number;
  /**
   * Log maintenance: retention (see src/lifecycle/retention.ts) and the archive directory. Without one, a daemon on its
   * own local etcd archives into <data-dir>/archive; beside a given etcd maintenance is off unless a directory every
   * daemon that may hold the maintenance lease reaches is named.
   */
  readonly lifecycle?: { readonly archiveDir?: string; readonly policy: RetentionPolicy; readonly checkpointSpacing?: number };
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsCa?: string;
  /** More names (DNS or IP) for the generated serving certificate (e.g. the Service's DNS name). */
  readonly tlsSan?: readonly string[];
  readonly insecureHttp?: boolean;
  readonly requestheaderClientCaFile?: string;
  readonly requestheaderAllowedNames?: readonly string[];
  readonly requestheaderUsernameHeaders?: readonly string[];
  readonly requestheaderGroupHeaders?: readonly string[];
  readonly requestheaderExtraHeadersPrefix?: readonly string[];
}

/** Request-header authentication from the flags the Kubernetes extension API servers use. */
function requestHeaderOptions(o: ServeOptions): RequestHeaderOptions | undefined {
  if (!o.requestheaderClientCaFile) return undefined;
  const or = (v: readonly string[] | undefined, d: readonly string[]) => (v && v.length > 0 ? v : d);
  return {
    clientCa: readFileSync(o.requestheaderClientCaFile, 'utf8'),
    allowedNames: o.requestheaderAllowedNames ?? [],
    usernameHeaders: or(o.requestheaderUsernameHeaders, DEFAULT_REQUEST_HEADERS.usernameHeaders),
    groupHeaders: or(o.requestheaderGroupHeaders, DEFAULT_REQUEST_HEADERS.groupHeaders),
    extraHeaderPrefixes: or(o.requestheaderExtraHeadersPrefix, DEFAULT_REQUEST_HEADERS.extraHeaderPrefixes),
  };
}

/** Longest a stopping daemon may take before it exits anyway. */
const EXIT_GRACE_MS = 10_000;

export async function serve(opts: ServeOptions): Promise<void> {
  const log = createLogger(opts.logger);
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  // One daemon per data dir, for its whole life; a crashed one's lock is taken over (and its etcd stopped below).
  const lock = PathLock.acquire(join(dataDir, 'ipam.lock'), `data dir ${dataDir}`);
  if (lock.previous) log.warn({ pid: lock.previous.pid }, 'took over the data dir of a daemon that did not stop cleanly');
  try {
    await run(opts, log);
  } finally {
    lock.release();
  }
}

async function run(opts: ServeOptions, log: Logger): Promise<void> {
  let local: LocalEtcd | undefined;
  let conn: EtcdConnection | undefined = connectionFromEnv(opts.etcd ? { ...process.env, ETCD_ENDPOINTS: opts.etcd } : process.env);
  if (!conn) {
    // On unix sockets in the 0700 data dir: no other local user can open it (no TCP port, no auth needed).
    local = await LocalEtcd.start({ persistentDir: resolve(opts.dataDir, 'etcd'), ownerOnly: true });
    conn = { endpoints: local.endpoints };
    log.info({ endpoints: local.endpoints, dataDir: resolve(opts.dataDir, 'etcd') }, 'started a local etcd (no --etcd or ETCD_ENDPOINTS given)');
  }
  const archiveDir = opts.lifecycle?.archiveDir !== undefined ? resolve(opts.lifecycle.archiveDir) : local ? resolve(opts.dataDir, 'archive') : undefined;
  const client = openEtcd(conn);
  await probeEtcd(client, conn, opts.prefix).catch(async (e: unknown) => {
    client.close();
    await local?.stop();
    throw e;
  });
  // IPAM_MAX_INFLIGHT: etcd txns in flight at once (the store's default, 3: on a quiet machine 1 gave fuller txns but
  // 8,726 vs 10,406 allocations/s in `bench alloc`, block layout; 1 wins only when etcd's CPU is the scarce part).
  const inflight = Number(process.env.IPAM_MAX_INFLIGHT ?? 0);
  // IPAM_LIGHT_EXTRA_INFLIGHT: more txns while the load is light (the store's default, 3; 0 turns it off).
  const extra = process.env.IPAM_LIGHT_EXTRA_INFLIGHT;
  // IPAM_PARTIAL_INFLIGHT: a txn with room left goes only while fewer txns fly (the store's default, 1; 3 = the old rule).
  const partial = process.env.IPAM_PARTIAL_INFLIGHT;
  const store = new EventStore(client, {
    prefix: opts.prefix,
    tagLayout: defaultTagLayout('block'),
    ...(inflight > 0 ? { maxInflight: inflight } : {}),
    ...(extra ? { lightLoadExtraInflight: Number(extra) } : {}),
    ...(partial ? { partialBelowInflight: Number(partial) } : {}),
  });
  const rev = await store.open();
  log.info({ etcd: describeConnection(conn), prefix: opts.prefix, revision: rev }, 'event store open');
  const token = opts.tcp ? loadToken({ ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}), generatedPath: resolve(opts.dataDir, 'token') }) : undefined;
  if (token) log.info({ tokenFrom: token.source }, 'TCP API token loaded');
  if (token?.warning) log.warn({ tokenFrom: token.source }, token.warning);
  const node = opts.node ?? hostname();
  const { resolveOwner, cluster } = opts.kubeconfig !== undefined ? await kubeParts(opts.kubeconfig, node, log) : { resolveOwner: undefined, cluster: undefined };
  const tls = opts.tcp && !opts.insecureHttp
    ? loadServingTls({ dir: resolve(opts.dataDir, 'tls'), ...(opts.tlsCert ? { certFile: opts.tlsCert } : {}), ...(opts.tlsKey ? { keyFile: opts.tlsKey } : {}), ...(opts.tlsCa ? { caFile: opts.tlsCa } : {}), extraNames: opts.tlsSan ?? [] })
    : undefined;
  if (tls) log.info({ certificate: tls.source }, 'TCP API serving certificate loaded');
  const requestHeader = requestHeaderOptions(opts);
  const settleHeap = settleHeapMode(); // a bad IPAM_SETTLE_HEAP refuses the start before the catch-up, naming it
  const daemon = await Daemon.start({
    ...(resolveOwner ? { resolveOwner } : {}),
    store,
    log,
    node,
    socket: resolve(opts.socket ?? resolve(opts.dataDir, 'ipam.sock')),
    socketRoutes: [(parts) => cniSocketRoute(cluster ? { ...parts, cluster } : parts)],
    ...(cluster ? { clusterCaches: cluster } : {}),
    ...(opts.console === false ? {} : { routes: [consoleApiRoute], publicRoutes: [consoleAssetsRoute()] }),
    settleHeap,
    footprint: {
      metricsEndpoints: conn.endpoints,
      ...(opts.etcdQuotaBytes ? { quotaBytes: opts.etcdQuotaBytes } : {}),
      ...(opts.quotaWarnFraction ? { warnFraction: opts.quotaWarnFraction } : {}),
      ...(opts.footprintIntervalMs ? { intervalMs: opts.footprintIntervalMs } : {}),
    },
    // The byte budget is judged on the footprint the daemon measures (src/store/footprint.ts).
    // On its own local etcd the maintainer also compacts etcd's history up to each horizon move.
    ...(archiveDir && opts.lifecycle ? { lifecycle: { archiveDir, policy: opts.lifecycle.policy, ...(opts.lifecycle.checkpointSpacing ? { checkpointSpacing: opts.lifecycle.checkpointSpacing } : {}), ...(local ? { compactEtcd: true } : {}) } } : {}),
    ...(token ? { listen: opts.listen, token: token.token } : {}),
    ...(tls ? { tls } : { insecureHttp: true }),
    ...(requestHeader ? { requestHeader } : {}),
  });
  const addr = daemon.address;
  // One plain line for people and scripts waiting on start-up (the rest are log records, readable or JSON).
  const scheme = tls ? 'https' : 'http';
  const host = addr && (addr.host.includes(':') ? `[${addr.host}]` : addr.host);
  if (addr && opts.console !== false) log.info({ url: `${scheme}://${host}:${addr.port}/console/` }, 'web console (sign in with the API token)');
  process.stderr.write(`ipam: ready${addr ? ` on ${scheme}://${host}:${addr.port}` : ''} and ${resolve(opts.socket ?? resolve(opts.dataDir, 'ipam.sock'))} (Ctrl-C to stop)\n`);

  await new Promise<void>((done) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, 'stopping');
      // A signal always ends the process: whatever still holds the event loop after a clean stop is cut off.
      setTimeout(() => {
        log.warn({ signal: sig }, `still running ${EXIT_GRACE_MS} ms after ${sig}; exiting`);
        log.flush();
        process.exit(0);
      }, EXIT_GRACE_MS).unref();
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await daemon.stop();
  await cluster?.stop();
  await store.close();
  client.close();
  await local?.stop();
  log.info('stopped');
  log.flush();
}

/**
 * What a daemon with --kubeconfig adds: owner resolution and pool selection's inputs (pods on this node, namespaces,
 * this node; the CNI route reads them, never the API server). Imported only then: @kubernetes/client-node (its
 * generated API) costs a daemon ~26 MB of heap and ~60 MB of RSS that a daemon without a cluster does not need.
 */
async function kubeParts(kubeconfig: string, node: string, log: Logger) {
  const [{ loadKubeConfig }, { ClusterCache }, { createOwnerResolver }] = await Promise.all([import('../k8s/kube.js'), import('../k8s/cluster-inputs.js'), import('../k8s/owner.js')]);
  const kc = loadKubeConfig(kubeconfig || undefined);
  const resolveOwner = createOwnerResolver(kc, { onError: (e) => log.warn({ err: (e as Error).message }, 'owner lookup failed') });
  const cluster: ClusterCache = new ClusterCache(kc, { node, onError: (what, e) => log.warn({ cache: what, err: (e as Error).message }, 'cluster cache restarting') });
  return { resolveOwner, cluster };
}
