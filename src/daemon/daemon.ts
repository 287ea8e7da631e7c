// The daemon: one process that opens the store, runs the allocator and the live projections, and serves the HTTP
// API on TCP (bearer token) and on a unix socket (file mode 0600, no token; for the node's CNI plugin).
import { chmodSync, lstatSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { currentHorizonCheckpoint, loadAll, loadHorizonCheckpoint, statesOfHorizon } from '../../projections/checkpoint.js';
import { ALL_PROJECTIONS } from '../../projections/index.js';
import type { LiveReadModel } from '../../projections/read-model.js';
import { LiveProjections } from '../../projections/runtime.js';
import { Allocator, type AllocatorOptions } from '../alloc/allocator.js';
import type { EventStore } from '../store/event-store.js';
import { noSpaceAlarm } from '../store/space-alarm.js';
import { readHorizon } from '../store/horizon.js';
import { MaintenanceLease } from '../store/lease.js';
import { ArchiveDir } from '../lifecycle/archive.js';
import { logSource, type PageSource } from '../lifecycle/log-source.js';
import { ArchivedCheckpoints, DEFAULT_CHECKPOINT_SPACING, type ArchivedCheckpointEntry } from '../lifecycle/archived-checkpoints.js';
import { PastStates } from '../lifecycle/past-states.js';
import { Maintainer, MaintenanceLoop } from '../lifecycle/maintainer.js';
import type { FootprintFn, RetentionPolicy } from '../lifecycle/retention.js';
import { createKubeApi, type KubeApiHandler, type KubeApiLimits } from '../api/kube/index.js';
import { StatusError } from '../api/kube/status.js';
import { createAllocApi } from './alloc-api.js';
import { Checkpointer, DEFAULT_CHECKPOINTS, type CheckpointPolicy } from './checkpointer.js';
import { authenticate } from './auth.js';
import { HttpError, errorAnswer, sendJson } from './http.js';
import { registerCacheMetrics, unsynced, type CacheSource } from '../k8s/cache-metrics.js';
import { DaemonMetrics } from './metrics.js';
import { HorizonMonitor, newMaintenanceStatus, recordRun, type MaintenanceStatus } from './log-status.js';
import { DEFAULT_FOOTPRINT, FootprintMonitor, type FootprintPolicy } from './footprint-monitor.js';
import { InFlight } from './in-flight.js';
import { PathLock } from './lock.js';
import { createApiServer, SOCKET_LIMITS, TCP_LIMITS, type ApiServer, type ConnectionLimits } from './listener.js';
import { PEER_LIMITS, PeerAdmission, type PeerLimits } from './peer-admission.js';
import { Readiness } from './readiness.js';
import { settleHeap, type SettleHeapMode } from './settle-heap.js';
import { tlsServerOptions, type RequestHeaderOptions, type ServingTls } from './tls.js';
import { requestUrl, type RequestUrl } from './request-url.js';

/** A handler that serves some paths and answers false for the others. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, url: RequestUrl) => Promise<boolean>;

/** What the daemon hands to the routes other modules provide (CNI, Kubernetes-style API). */
export interface DaemonParts {
  readonly allocator: Allocator;
  readonly model: LiveReadModel;
  readonly store: EventStore;
  readonly node: string;
  /** The whole log, page by page: the archive before the horizon (when this daemon maintains one), then etcd. */
  readonly logPages: PageSource;
  /** That archive (its kept checkpoints start reads of the past), when this daemon has one. */
  readonly archive: ArchiveDir | undefined;
  ready(): boolean;
  /** Why writes fail although etcd answers (EtcdNoSpace while its NOSPACE alarm is raised), else undefined. */
  fault(): Error | undefined;
  now(): string;
}

export interface DaemonOptions {
  readonly store: EventStore;
  /** TCP address to serve on ("host:port", port 0 picks a free one); none: no TCP API. */
  readonly listen?: string;
  /** Bearer token required on TCP. */
  readonly token?: string;
  /** The TCP listener's certificate: HTTPS. Without it TCP is plain HTTP, only when `insecureHttp` says so. */
  readonly tls?: ServingTls;
  /** Serve plain HTTP on TCP (the token then crosses the network in clear; --insecure-http). */
  readonly insecureHttp?: boolean;
  /** Trust the aggregation layer's front proxy (X-Remote-User from a client certificate of this CA). */
  readonly requestHeader?: RequestHeaderOptions;
  /** Unix socket path (created with mode 0600); none: no socket. */
  readonly socket?: string;
  readonly node: string;
  readonly log: Logger;
  /** Longest a request may wait on etcd before a retryable 503. */
  readonly requestTimeoutMs?: number;
  /** Who controls a pod, for requests that do not say (from the Kubernetes API: `serve --kubeconfig`). */
  readonly resolveOwner?: AllocatorOptions['resolveOwner'];
  /** When live projections are checkpointed (default: every 5 min if 2,000 commits happened). */
  readonly checkpoints?: CheckpointPolicy;
  /** How often the footprint in etcd is measured, its quota, and when to warn (default every 60 s, 2 GiB, 80%). */
  readonly footprint?: Partial<FootprintPolicy>;
  /** Longest the projections hold received batches before applying them (default COALESCE_MS; 0: at once). */
  readonly projectionWindowMs?: number;
  /**
   * A collection once caught up (src/daemon/settle-heap.ts). Default 'none': an in-process daemon shares its heap with
   * its host (tests, benches); `ipam serve`, which owns its process, passes IPAM_SETTLE_HEAP (default 'compact').
   */
  readonly settleHeap?: SettleHeapMode;
  /**
   * Log maintenance (horizon, archive, tag GC): the daemon takes part in the election for it; the one holding the
   * lease archives into `archiveDir` (storage every daemon that may hold the lease reaches, e.g. an RWX PVC).
   */
  readonly lifecycle?: {
    readonly archiveDir: string;
    readonly policy: RetentionPolicy;
    readonly footprint?: FootprintFn;
    /** Keep a copy of the horizon checkpoint in the archive every this many revisions (reads of the past start there; default DEFAULT_CHECKPOINT_SPACING). */
    readonly checkpointSpacing?: number;
    /** The daemon's own (local) etcd, compacted up to each horizon move (see MaintainerOptions). */
    readonly compactEtcd?: boolean;
  };
  /** Routes served on both listeners (after the daemon's own). */
  readonly routes?: readonly ((parts: DaemonParts) => RouteHandler)[];
  /** Bounds of the Kubernetes-style API (bodies, watches); defaults in src/api/kube/context.ts. */
  readonly kubeLimits?: Partial<KubeApiLimits>;
  /** Connection limits and timeouts of each listener (defaults TCP_LIMITS, SOCKET_LIMITS in listener.ts). */
  readonly connections?: { readonly tcp?: Partial<ConnectionLimits>; readonly socket?: Partial<ConnectionLimits> };
  /** Per-peer rates on the TCP listener (default PEER_LIMITS in peer-admission.ts); the unix socket has none. */
  readonly peerLimits?: Partial<PeerLimits>;
  /** Routes served on the unix socket only (the CNI plugin's). */
  readonly socketRoutes?: readonly ((parts: DaemonParts) => RouteHandler)[];
  /** GET routes served on both listeners without the token (static files that hold no data: the console's page). */
  readonly publicRoutes?: readonly ((parts: DaemonParts) => RouteHandler)[];
  /** The Kubernetes caches pool selection reads (`serve --kubeconfig`): their liveness in /metrics, first sync in /readyz. */
  readonly clusterCaches?: CacheSource;
}

/** Watch streams and status write-back hear of changes at most this late; reads never see stale projections. */
const COALESCE_MS = 100;

export class Daemon {
  private readonly servers: Server[] = [];
  private tcpServer: ApiServer | undefined;
  /** Per-peer admission of the TCP listener's connections and requests. */
  readonly admission: PeerAdmission;
  private socketLock: PathLock | undefined;
  private socketIno: number | undefined;
  private socketServer: Server | undefined;
  private stopped = false;
  private kube: KubeApiHandler | undefined;
  private publicRoutes: readonly RouteHandler[] = [];
  private readonly inFlight: InFlight;

  private constructor(
    readonly allocator: Allocator,
    readonly projections: LiveProjections,
    readonly readiness: Readiness,
    readonly metrics: DaemonMetrics,
    readonly checkpointer: Checkpointer,
    /** The engine's footprint in etcd; `footprint.measure()` is what a byte budget takes. */
    readonly footprint: FootprintMonitor,
    /** Revision of the checkpoint the projections started from (undefined: replayed from the start). */
    readonly startedFromCheckpoint: number | undefined,
    private readonly opts: DaemonOptions,
    /** Log maintenance, when configured (it only acts while this daemon holds the lease). */
    readonly maintenance: Maintenance | undefined,
    /** The horizon as etcd holds it, re-read every few seconds (metrics). */
    readonly horizon: HorizonMonitor,
  ) {
    const timeout = opts.requestTimeoutMs ?? 10_000;
    this.inFlight = new InFlight(timeout, (cb) => readiness.onUnreachable(cb), () => readiness.reason);
    this.admission = new PeerAdmission({ ...PEER_LIMITS, ...opts.peerLimits });
  }

  static async start(opts: DaemonOptions): Promise<Daemon> {
    if (opts.listen !== undefined && !opts.token) throw new Error('a TCP listener needs a token (--token-file or IPAM_TOKEN)');
    if (opts.listen !== undefined && !opts.tls && !opts.insecureHttp) throw new Error('a TCP listener carries a token, so it needs TLS (--tls-cert/--tls-key, or the generated CA); --insecure-http serves plain HTTP');
    if (opts.requestHeader && !opts.tls) throw new Error('request-header (front proxy) authentication needs TLS: the client certificate is what proves the proxy');
    const socketLock = opts.socket !== undefined ? await claimSocket(opts.socket) : undefined;
    try {
      return await Daemon.open(opts, socketLock);
    } catch (e) {
      socketLock?.release();
      throw e;
    }
  }

  private static async open(opts: DaemonOptions, socketLock: PathLock | undefined): Promise<Daemon> {
    const { store, log } = opts;
    const allocator = new Allocator(store, opts.resolveOwner ? { resolveOwner: opts.resolveOwner } : {});
    const t0 = performance.now();
    // Past the horizon the log before it may be gone from etcd: start from the horizon checkpoint (the allocator
    // always, the projections unless their own checkpoint is newer).
    const { horizon } = await readHorizon(store.client, store.keys);
    const atHorizon = horizon ? await loadHorizonCheckpoint(store, horizon.checkpoint) : undefined;
    const own = await loadAll(store, ALL_PROJECTIONS);
    const checkpoint = atHorizon && (!own || own.revision < atHorizon.revision) ? statesOfHorizon(atHorizon) : own;
    const projections = new LiveProjections(store, ALL_PROJECTIONS, checkpoint);
    // One subscription reads and decodes the log for both the allocator's model and the projections.
    // Batches are applied to the projections together every COALESCE_MS (or at once when anything reads them),
    // not one per etcd txn: on every daemon, for every daemon's writes (a following daemon: ~40 -> ~38 us/alloc).
    projections.follow(allocator, { coalesceMs: opts.projectionWindowMs ?? COALESCE_MS });
    const later: { readiness?: Readiness } = {}; // made once caught up; a restart during the start needs none
    await allocator.start({
      ...(atHorizon ? { from: atHorizon.model } : {}),
      onError: (e) => log.warn({ err: errMsg(e) }, 'allocator subscription trouble; re-reading'),
      onApplied: (events, through) => projections.apply(events, through),
      // Paused or cut off while the horizon moved past it: the records it needs next are archived out of etcd. Both
      // the model and the projections restart from the horizon checkpoint; not ready until caught up again.
      onBehindHorizon: async (e) => {
        const cp = await currentHorizonCheckpoint(store);
        projections.reset(statesOfHorizon(cp));
        const caughtUp = allocator.sync().then(() => log.info({ revision: allocator.revision }, 'caught up again after restarting from the horizon checkpoint'));
        later.readiness?.holdUntil(`catching up after a restart from the horizon checkpoint at revision ${cp.revision}`, caughtUp);
        log.warn({ after: e.after, horizon: cp.revision, restarts: allocator.horizonRestarts + 1 }, 'fell behind the log horizon: restarting the model and projections from the horizon checkpoint');
        return cp.model;
      },
    });
    log.info({ revision: allocator.revision, checkpoint: checkpoint?.revision ?? null, ms: Math.round(performance.now() - t0) }, 'allocator and projections caught up');
    if (opts.settleHeap !== undefined && opts.settleHeap !== 'none') log.info({ mode: opts.settleHeap, ms: Math.round(settleHeap(opts.settleHeap)) }, 'heap settled after the catch-up');
    const readiness = new Readiness({
      // The last commit under our prefix: etcd's own revision moves with every other prefix's writes, which the
      // subscription never sees, so an idle prefix on a busy etcd would never count as caught up.
      currentRevision: () => store.headRevision(),
      caughtUp: async (rev) => {
        await allocator.waitFor(rev);
        await projections.waitFor(rev);
      },
      // Not ready while etcd refuses writes for lack of space; ready again once an operator disarms the alarm.
      fault: () => noSpaceAlarm(store),
    });
    later.readiness = readiness;
    const footprint = new FootprintMonitor(store, log, { ...DEFAULT_FOOTPRINT, ...opts.footprint });
    const horizonMonitor = new HorizonMonitor(store);
    const checkpointer = new Checkpointer(store, projections, log, opts.checkpoints ?? DEFAULT_CHECKPOINTS);
    // The byte budget is judged on what the footprint monitor measures (keys and bytes under the prefix).
    const maintenance = opts.lifecycle
      ? startMaintenance(store, opts.node, { footprint: async () => ({ bytes: (await footprint.measure())?.prefixBytes ?? 0 }), ...opts.lifecycle }, log, horizonMonitor)
      : undefined;
    const metrics = new DaemonMetrics({
      allocator,
      store,
      projectionRevision: () => projections.revision,
      ready: () => readiness.ready,
      footprint: () => footprint.latest,
      horizon: () => horizonMonitor.latest,
      ...(maintenance ? { maintenance: () => maintenance.status } : {}),
    });
    if (opts.clusterCaches) registerCacheMetrics(metrics.registry, opts.clusterCaches);
    const d = new Daemon(allocator, projections, readiness, metrics, checkpointer, footprint, checkpoint?.revision, opts, maintenance, horizonMonitor);
    d.socketLock = socketLock;
    checkpointer.start();
    footprint.start();
    horizonMonitor.start();
    await readiness.start();
    try {
      await d.listen();
    } catch (e) {
      await d.stop(); // a listener that failed its checks must not stay open, nor the allocator run on
      throw e;
    }
    return d;
  }

  /** The Kubernetes-style API's handler (its open watches, for tests). */
  get kubeApi(): KubeApiHandler | undefined {
    return this.kube;
  }

  /** Connections open on each listener now. */
  async connections(): Promise<Record<'tcp' | 'socket', number>> {
    const count = (s: Server | undefined) => (s ? new Promise<number>((ok) => s.getConnections((_, n) => ok(n ?? 0))) : Promise.resolve(0));
    return { tcp: await count(this.tcpServer), socket: await count(this.socketServer) };
  }

  /** The TCP address actually bound (port 0 resolved). */
  get address(): { host: string; port: number } | undefined {
    const s = this.servers.find((x) => typeof x.address() === 'object' && x.address() !== null);
    const a = s?.address() as AddressInfo | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  private async listen(): Promise<void> {
    const o = this.opts;
    const archive = o.lifecycle ? new ArchiveDir(o.lifecycle.archiveDir, o.store.keys.prefix) : undefined;
    const parts: DaemonParts = {
      allocator: this.allocator,
      model: this.projections,
      store: o.store,
      node: o.node,
      logPages: archive ? logSource(o.store, archive) : (opts) => o.store.readPages(opts),
      archive,
      ready: () => this.readiness.ready,
      fault: () => this.readiness.fault,
      now: isoNow,
    };
    const own = createAllocApi(parts);
    // Kubernetes-style REST (discovery, list/get/watch, pool and subnet writes) for kubectl and client libraries.
    // Exact reads of a past revision: from the nearest checkpoint, then the same archive + etcd as logPages.
    const past = new PastStates(o.store, archive, ALL_PROJECTIONS);
    this.kube = createKubeApi({ allocator: this.allocator, model: this.projections, now: parts.now, past: (rev) => past.at(rev) }, o.kubeLimits);
    const shared = [own, this.kube, ...(o.routes ?? []).map((f) => f(parts))];
    this.publicRoutes = (o.publicRoutes ?? []).map((f) => f(parts));
    const socketOnly = (o.socketRoutes ?? []).map((f) => f(parts));
    if (o.listen !== undefined) {
      const { host, port } = parseListen(o.listen);
      const tls = o.tls ? tlsServerOptions(o.tls, o.requestHeader) : undefined;
      const server = createApiServer('tcp', (req, res) => void this.admit(req, res, shared, o.token!), { ...TCP_LIMITS, ...o.connections?.tcp }, o.log, tls, this.admission);
      await new Promise<void>((ok, fail) => server.once('error', fail).listen(port, host, ok));
      this.servers.push(server);
      this.tcpServer = server;
      o.log.info({ address: `${this.address!.host}:${this.address!.port}`, tls: Boolean(o.tls), frontProxy: Boolean(o.requestHeader) }, o.tls ? 'HTTPS API listening (bearer token required)' : 'plain HTTP API listening (--insecure-http; bearer token required)');
    }
    if (o.socket !== undefined) {
      const server = createApiServer('socket', (req, res) => void this.handle(req, res, [...socketOnly, ...shared], undefined), { ...SOCKET_LIMITS, ...o.connections?.socket }, o.log);
      // Created owner-only from the start (umask), not just chmodded after: no moment when others could connect.
      const umask = process.umask(0o177);
      try {
        await new Promise<void>((ok, fail) => server.once('error', fail).listen(o.socket, ok));
      } finally {
        process.umask(umask);
      }
      this.servers.push(server);
      this.socketServer = server;
      this.socketIno = statSync(o.socket).ino;
      chmodSync(o.socket, 0o600);
      const mode = statSync(o.socket).mode & 0o777;
      if ((mode & 0o077) !== 0) throw new Error(`unix socket ${o.socket} has mode ${mode.toString(8)}; refusing to serve it without a token (want 600)`);
      o.log.info({ socket: o.socket, mode: '600' }, 'HTTP API on unix socket (no token; owner only)');
    }
  }

  /** A TCP request: admitted per peer (429 + Retry-After before it is authenticated or read), then handled. */
  private admit(req: IncomingMessage, res: ServerResponse, routes: readonly RouteHandler[], token: string): void {
    const peer = req.socket.remoteAddress;
    if (peer === undefined) return void res.destroy(); // the connection is already gone
    const longRunning = isLongRunning(req.url);
    const refusal = this.admission.request(peer, longRunning);
    if (refusal) {
      this.tcpServer?.reportRefusal();
      // The connection stays open (a new one would cost a TLS handshake, far more than the 429): a small declared
      // body is drained unread; a large or chunked one is not read at all, so its connection ends with the answer.
      const declared = Number(req.headers['content-length'] ?? 0);
      if (req.headers['transfer-encoding'] !== undefined || !(declared <= DRAINED_BODY_BYTES)) closeAfter(res);
      else req.resume();
      const retryAfter = { 'retry-after': String(refusal.retryAfterSeconds) };
      // Kubernetes clients read a Status (client-go waits Retry-After and retries); the /v1 API's own error otherwise.
      if (req.url?.startsWith('/api')) sendJson(res, 429, new StatusError(429, 'TooManyRequests', refusal.message, { retryAfterSeconds: refusal.retryAfterSeconds }).toStatus(), retryAfter);
      else sendJson(res, 429, { error: { code: 'TooManyRequests', message: refusal.message, retryable: true } }, retryAfter);
      this.metrics.observeRequest('other', 429, 0);
      return;
    }
    res.once('close', () => this.admission.done(peer, longRunning, res.statusCode));
    void this.handle(req, res, routes, token);
  }

  private async handle(req: IncomingMessage, res: ServerResponse, routes: readonly RouteHandler[], token: string | undefined): Promise<void> {
    const started = performance.now();
    let route = 'other';
    try {
      const url = requestUrl(req.url);
      route = routeLabel(url.pathname);
      if (url.pathname === '/healthz') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      if (url.pathname === '/readyz') {
        const r = this.readiness;
        // Until the caches have listed once every ADD would ask the API server; after that they serve what they hold
        // while reconnecting (their staleness is in /metrics), so a lost API server does not stop CNI DEL.
        const caches = this.opts.clusterCaches && unsynced(this.opts.clusterCaches);
        const reason = !r.ready ? r.reason : caches ? `cluster caches not synced yet (${caches})` : undefined;
        return void res.writeHead(reason ? 503 : 200, { 'content-type': 'text/plain' }).end(reason ? `not ready: ${reason}\n` : 'ok\n');
      }
      if ((req.method === 'GET' || req.method === 'HEAD') && this.publicRoutes.length > 0 && (await firstRoute(this.publicRoutes, req, res, url))) return;
      if (token !== undefined && !authenticate(req, token, this.opts.requestHeader)) {
        // Never read or act on the body; the connection ends with the answer (a slow drip of body cannot hold it).
        closeAfter(res);
        throw new HttpError(401, 'Unauthorized', 'missing or wrong bearer token (send "Authorization: Bearer <token>")');
      }
      if (url.pathname === '/metrics') {
        const text = await this.metrics.registry.metrics();
        return void res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
      }
      if (!this.readiness.etcdReachable && req.method !== 'GET') {
        throw new HttpError(503, 'EtcdUnavailable', `etcd is unreachable (${this.readiness.reason}); retry later`, undefined, true);
      }
      // A request whose body has not all arrived when time is up is the client's slowness (408), not etcd's.
      const slowUpload = () => (req.complete ? undefined : new HttpError(408, 'RequestTimeout', 'the request body did not arrive in time; send it whole and at once'));
      if (await this.inFlight.run(firstRoute(routes, req, res, url), slowUpload)) return;
      throw new HttpError(404, 'NotFound', `no route for ${req.method} ${url.pathname}`);
    } catch (e) {
      const { status, body } = errorAnswer(e);
      if (status >= 500) this.opts.log.warn({ route, status, err: body.error.message }, 'request failed');
      else if (status === CLIENT_CLOSED) this.opts.log.info({ route, status }, 'client closed the connection before its request was answered');
      if (status === 408 || status === 413) closeAfter(res); // the rest of the body is not read
      if (!res.headersSent && !res.destroyed) sendJson(res, status, body);
      else res.destroy();
    } finally {
      this.metrics.observeRequest(route, res.statusCode, (performance.now() - started) / 1000);
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.readiness.stop();
    this.inFlight.close();
    this.kube?.close();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((ok) => {
            s.close(() => ok());
            s.closeAllConnections();
          }),
      ),
    );
    // Only the socket this daemon made: never a path someone else has put there since.
    if (this.opts.socket && this.socketIno !== undefined && inodeOf(this.opts.socket) === this.socketIno) rmSync(this.opts.socket, { force: true });
    this.socketLock?.release();
    await this.checkpointer.stop();
    await this.footprint.stop();
    await this.horizon.stop();
    if (this.maintenance) {
      await this.maintenance.loop.stop();
      await this.maintenance.kept(); // nothing written to the archive once stopped
      await this.maintenance.lease.release(); // another daemon takes over at once, not after the lease's TTL
    }
    await this.projections.stop();
    await this.allocator.stop();
  }
}

function inodeOf(path: string): number | undefined {
  try {
    return lstatSync(path).ino;
  } catch {
    return undefined;
  }
}

/** Held while we serve: a second daemon given the same path refuses to start (before any work) instead of taking it over. */
async function claimSocket(path: string): Promise<PathLock> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const lock = PathLock.acquire(`${path}.lock`, `unix socket ${path}`);
  try {
    await removeStaleSocket(path);
  } catch (e) {
    lock.release();
    throw e;
  }
  return lock;
}

/**
 * Clears the way for our socket (we hold its lock): a socket nobody answers on is a crashed daemon's and is removed;
 * anything else at the path (a regular file, a directory, a socket someone serves) is refused, never deleted.
 */
async function removeStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return; // nothing there
  }
  if (!st.isSocket()) throw new Error(`--socket ${path} exists and is not a unix socket; refusing to replace it (remove it or choose another path)`);
  const answered = await new Promise<boolean>((resolve) => {
    const c = connect(path);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (answered) throw new Error(`--socket ${path} is being served by another process; refusing to take it over`);
  rmSync(path);
}

/** Status recorded (in metrics and logs) for requests whose client left first, as nginx does; never sent. */
const CLIENT_CLOSED = 499;

/** Ends the connection once this answer is out, whatever is still coming on it. */
/** A refused request's body up to this size is read and dropped, so its keep-alive connection can go on. */
const DRAINED_BODY_BYTES = 64 * 1024;

/** A watch (Kubernetes' long-running requests, which its max-in-flight filter does not count either). */
function isLongRunning(target: string | undefined): boolean {
  return target !== undefined && (/[?&]watch=(true|1)(&|$)/.test(target) || target.includes('/watch/'));
}

function closeAfter(res: ServerResponse): void {
  res.setHeader('connection', 'close');
  res.once('finish', () => res.socket?.destroy());
}

function startMaintenance(store: EventStore, node: string, o: NonNullable<DaemonOptions['lifecycle']>, log: Logger, horizon: HorizonMonitor): Maintenance {
  const lease = new MaintenanceLease(store.client, store.keys, `${node}/${process.pid}`);
  const archive = new ArchiveDir(o.archiveDir, store.keys.prefix);
  const maintainer = new Maintainer({ store, archive, lease, projections: ALL_PROJECTIONS, policy: o.policy, ...(o.footprint ? { footprint: o.footprint } : {}), ...(o.compactEtcd ? { compactEtcd: true } : {}) });
  let role = '';
  const kept = new ArchivedCheckpoints(o.archiveDir, store.keys.prefix);
  let keeping: Promise<void> = Promise.resolve();
  let keptCount: number | undefined;
  const status = newMaintenanceStatus();
  const loop = new MaintenanceLoop(maintainer, o.policy.intervalMs, (r) => {
    recordRun(status, r, archive, keptCount);
    if (r instanceof Error) return log.warn({ err: r.message }, 'log maintenance failed; will try again');
    if (r.horizon > r.from) void horizon.refresh();
    if (r.role !== role) log.info({ role: r.role }, r.role === 'maintainer' ? 'this daemon maintains the log (holds the maintenance lease)' : 'another daemon maintains the log');
    role = r.role;
    if (r.overBudget) log.warn({ maxBytes: o.policy.maxBytes }, 'the prefix is over its byte budget: archiving regardless of age');
    if (r.horizon > r.from) log.info({ from: r.from, horizon: r.horizon, archivedRecords: r.archivedRecords, segments: r.segments, deletedRecords: r.deletedRecords, tagsDeleted: r.tags?.deleted ?? 0, ms: Math.round(r.ms) }, 'log horizon moved');
    if (r.role === 'maintainer' && r.horizon > r.from) {
      keeping = keeping.then(() => keepCheckpoint(store, kept, o.checkpointSpacing ?? DEFAULT_CHECKPOINT_SPACING)).then(
        async (c) => {
          if (c) log.info({ revision: c.revision, bytes: c.bytes }, 'horizon checkpoint kept in the archive (reads of the past start there)');
          keptCount = (await kept.load()).length;
          if (status.archive) status.archive.checkpoints = keptCount;
        },
        (e: unknown) => void log.warn({ err: errMsg(e) }, 'keeping the horizon checkpoint in the archive failed; reads of the past before it start further back'),
      );
    }
  });
  loop.start();
  return { loop, lease, status, kept: () => keeping };
}

/** Log maintenance as this daemon takes part in it. */
interface Maintenance {
  readonly loop: MaintenanceLoop;
  readonly lease: MaintenanceLease;
  readonly status: MaintenanceStatus;
  /** Settles once the checkpoint copies started so far are done. */
  kept(): Promise<void>;
}

/** Copies the current horizon checkpoint (verified) into the archive when `spacing` revisions passed since the last. */
async function keepCheckpoint(store: EventStore, kept: ArchivedCheckpoints, spacing: number): Promise<ArchivedCheckpointEntry | undefined> {
  const { horizon } = await readHorizon(store.client, store.keys);
  if (!horizon) return undefined;
  return kept.save(await loadHorizonCheckpoint(store, horizon.checkpoint), horizon.lastEventAt, spacing);
}

function parseListen(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = i > 0 ? s.slice(0, i).replace(/^\[|\]$/g, '') : '127.0.0.1';
  const port = Number(i >= 0 ? s.slice(i + 1) : s);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--listen ${s}: expected HOST:PORT with a port from 0 to 65535`);
  return { host, port };
}

let nowMs = -1;
let nowIso = '';
/** The time as an ISO string, made once per millisecond (several requests share a millisecond under load). */
function isoNow(): string {
  const ms = Date.now();
  if (ms !== nowMs) {
    nowMs = ms;
    nowIso = new Date(ms).toISOString();
  }
  return nowIso;
}

/** Tries each route in turn: true once one has answered. */
async function firstRoute(routes: readonly RouteHandler[], req: IncomingMessage, res: ServerResponse, url: RequestUrl): Promise<boolean> {
  for (const r of routes) if (await r(req, res, url)) return true;
  return false;
}

/** A bounded label for metrics: the route's shape, never ids or names from the path. */
function routeLabel(path: string): string {
  if (path.startsWith('/v1/allocations/')) return '/v1/allocations/:id';
  if (path.startsWith('/v1/cni')) return '/v1/cni';
  if (path.startsWith('/apis') || path.startsWith('/api') || path.startsWith('/openapi')) return '/apis';
  return ['/v1/allocations', '/v1/releases', '/healthz', '/readyz', '/metrics', '/version'].includes(path) ? path : 'other';
}

function errMsg(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
