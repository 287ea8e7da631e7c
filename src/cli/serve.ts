// `ipam serve`: the daemon. Opens the store (starting a local etcd when no endpoint is given), runs the allocator and
// live projections, serves the API, and runs until signalled.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { cniSocketRoute } from '../cni/daemon-route.js';
import { consoleApiRoute, consoleAssetsRoute } from '../console/route.js';
import { Daemon } from '../daemon/daemon.js';
import { loadKubeConfig } from '../k8s/kube.js';
import { createOwnerResolver } from '../k8s/owner.js';
import { createLogger, type LoggerOptions } from '../daemon/logger.js';
import { loadToken } from '../daemon/token.js';
import { DEFAULT_REQUEST_HEADERS, loadServingTls, type RequestHeaderOptions } from '../daemon/tls.js';
import { readFileSync } from 'node:fs';
import { LocalEtcd } from '../local/etcd.js';
import { connectionFromEnv, describeConnection, openEtcd, probeEtcd, type EtcdConnection } from '../store/connect.js';
import { EventStore } from '../store/event-store.js';

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

export async function serve(opts: ServeOptions): Promise<void> {
  const log = createLogger(opts.logger);
  let local: LocalEtcd | undefined;
  let conn: EtcdConnection | undefined = connectionFromEnv(opts.etcd ? { ...process.env, ETCD_ENDPOINTS: opts.etcd } : process.env);
  if (!conn) {
    local = await LocalEtcd.start({ persistentDir: resolve(opts.dataDir, 'etcd') });
    conn = { endpoints: local.endpoints };
    log.info({ endpoints: local.endpoints, dataDir: resolve(opts.dataDir, 'etcd') }, 'started a local etcd (no --etcd or ETCD_ENDPOINTS given)');
  }
  const client = openEtcd(conn);
  await probeEtcd(client, conn).catch(async (e: unknown) => {
    client.close();
    await local?.stop();
    throw e;
  });
  // IPAM_MAX_INFLIGHT: etcd txns in flight at once (the store's default, 3, was best in `bench alloc` here).
  const inflight = Number(process.env.IPAM_MAX_INFLIGHT ?? 0);
  const store = new EventStore(client, { prefix: opts.prefix, ...(inflight > 0 ? { maxInflight: inflight } : {}) });
  const rev = await store.open();
  log.info({ etcd: describeConnection(conn), prefix: opts.prefix, revision: rev }, 'event store open');
  const token = opts.tcp ? loadToken({ ...(opts.tokenFile ? { tokenFile: opts.tokenFile } : {}), generatedPath: resolve(opts.dataDir, 'token') }) : undefined;
  if (token) log.info({ tokenFrom: token.source }, 'TCP API token loaded');
  const tls = opts.tcp && !opts.insecureHttp
    ? loadServingTls({ dir: resolve(opts.dataDir, 'tls'), ...(opts.tlsCert ? { certFile: opts.tlsCert } : {}), ...(opts.tlsKey ? { keyFile: opts.tlsKey } : {}), ...(opts.tlsCa ? { caFile: opts.tlsCa } : {}), extraNames: opts.tlsSan ?? [] })
    : undefined;
  if (tls) log.info({ certificate: tls.source }, 'TCP API serving certificate loaded');
  const requestHeader = requestHeaderOptions(opts);
  const resolveOwner = opts.kubeconfig !== undefined ? createOwnerResolver(loadKubeConfig(opts.kubeconfig || undefined), { onError: (e) => log.warn({ err: (e as Error).message }, 'owner lookup failed') }) : undefined;
  const daemon = await Daemon.start({
    ...(resolveOwner ? { resolveOwner } : {}),
    store,
    log,
    node: opts.node ?? hostname(),
    socket: resolve(opts.socket ?? resolve(opts.dataDir, 'ipam.sock')),
    socketRoutes: [cniSocketRoute],
    ...(opts.console === false ? {} : { routes: [consoleApiRoute], publicRoutes: [consoleAssetsRoute()] }),
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
      done();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await daemon.stop();
  await store.close();
  client.close();
  await local?.stop();
  log.info('stopped');
  log.flush();
}
