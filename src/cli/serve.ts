// `ipam serve`: the daemon. Opens the store (starting a local etcd when no endpoint is given), runs the allocator and
// live projections, serves the API, and runs until signalled.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { cniSocketRoute } from '../cni/daemon-route.js';
import { Daemon } from '../daemon/daemon.js';
import { loadKubeConfig } from '../k8s/kube.js';
import { createOwnerResolver } from '../k8s/owner.js';
import { createLogger } from '../daemon/logger.js';
import { loadToken } from '../daemon/token.js';
import { LocalEtcd } from '../local/etcd.js';
import { connectionFromEnv, describeConnection, openEtcd, probeEtcd, type EtcdConnection } from '../store/connect.js';
import { EventStore } from '../store/event-store.js';
import type { RetentionPolicy } from '../lifecycle/retention.js';

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
  /** Log maintenance: archive directory and retention (see src/lifecycle/retention.ts). */
  readonly lifecycle?: { readonly archiveDir: string; readonly policy: RetentionPolicy };
}

export async function serve(opts: ServeOptions): Promise<void> {
  const log = createLogger();
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
  const resolveOwner = opts.kubeconfig !== undefined ? createOwnerResolver(loadKubeConfig(opts.kubeconfig || undefined), { onError: (e) => log.warn({ err: (e as Error).message }, 'owner lookup failed') }) : undefined;
  const daemon = await Daemon.start({
    ...(resolveOwner ? { resolveOwner } : {}),
    store,
    log,
    node: opts.node ?? hostname(),
    socket: resolve(opts.socket ?? resolve(opts.dataDir, 'ipam.sock')),
    socketRoutes: [cniSocketRoute],
    // The byte budget needs the prefix's footprint: wire src/store/footprint.ts here (`footprint`) once it exists.
    ...(opts.lifecycle ? { lifecycle: { archiveDir: resolve(opts.lifecycle.archiveDir), policy: opts.lifecycle.policy } } : {}),
    ...(token ? { listen: opts.listen, token: token.token } : {}),
  });
  const addr = daemon.address;
  // One plain line for people and scripts waiting on start-up (the rest are JSON logs).
  process.stderr.write(`ipam: ready${addr ? ` on http://${addr.host}:${addr.port}` : ''} and ${resolve(opts.socket ?? resolve(opts.dataDir, 'ipam.sock'))} (Ctrl-C to stop)\n`);

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
