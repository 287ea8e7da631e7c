// `ipam controller`: the Kubernetes side, run as a Deployment. CRD sources (custom resources -> configuration
// events), status write-back (projections -> CR status, through BullMQ) and pod garbage collection (pod informer +
// repeatable sweep, through BullMQ). Several replicas may run: BullMQ deduplicates jobs, releases are by allocation
// id, and configuration writes are conditional appends.
import type { KubeConfig } from '@kubernetes/client-node';
import { Queue, Worker } from 'bullmq';
import type { Etcd3 } from 'etcd3';
import { spiderIPPoolProjection, spiderSubnetProjection } from '../../projections/index.js';
import { currentHorizonCheckpoint } from '../../projections/checkpoint.js';
import { LiveProjections } from '../../projections/runtime.js';
import { Allocator } from '../alloc/allocator.js';
import { connectionFromEnv, describeConnection, openEtcd, probeEtcd, type EtcdConnection } from '../store/connect.js';
import { EventStore } from '../store/event-store.js';
import { defaultTagLayout } from '../store/tag-layout.js';
import { configMetadataProjection } from './config-metadata.js';
import { AutoPoolController } from './auto-pools.js';
import { CrdSource, SOURCE_KINDS } from './crd-source.js';
import { GC_QUEUE, gcProcessor, scheduleSweep, watchPods, type GcJobData, type GcResult } from './gc.js';
import type { RunningInformer } from './informer.js';
import { loadKubeConfig } from './kube.js';
import { redisConnection } from './redis.js';
import { STATUS_QUEUE, StatusEnqueuer, startStatusWorker, statusProcessor, type StatusJobData } from './status-writeback.js';

export interface ControllerOptions {
  /** Kubeconfig file; default: $KUBECONFIG, ~/.kube/config, or the pod's service account. */
  readonly kubeconfig?: string;
  /** A ready KubeConfig (tests); wins over `kubeconfig`. */
  readonly kubeConfig?: KubeConfig;
  /** Comma-separated etcd endpoints; default $ETCD_ENDPOINTS (with ETCD_CACERT/ETCD_CERT/ETCD_KEY, ETCD_USER/PASSWORD). */
  readonly etcd?: string;
  readonly prefix?: string;
  /** Redis URL; default $REDIS_URL. */
  readonly redisUrl?: string;
  /** BullMQ key prefix in Redis (default "ipam"). */
  readonly queuePrefix?: string;
  /** How long a pod must be gone, replaced or finished before its addresses are released (ms, default 30000). */
  readonly gcGraceMs?: number;
  /** Full sweep period (ms, default 300000). */
  readonly gcSweepMs?: number;
  /** Delay before retrying a refused CR deletion or a failed CR (ms, default 10000). */
  readonly crdRetryMs?: number;
  /** Status patches per second, across all controllers (default 50). */
  readonly statusRate?: number;
  /** How long a changed object waits before its status is written, so bursts are written once (ms, default 500). */
  readonly statusCoalesceMs?: number;
  /** Which parts run (default all). */
  readonly sources?: boolean;
  readonly statusWriteback?: boolean;
  readonly gc?: boolean;
  /** SpiderSubnet auto pools for annotated workloads (default on). */
  readonly autoPools?: boolean;
  /** Delay before retrying an auto pool that could not be reconciled yet (ms, default 10000). */
  readonly autoPoolRetryMs?: number;
  /** BullMQ lock duration (ms): how soon a job of a dead worker runs again (default BullMQ's 30000). */
  readonly lockDurationMs?: number;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

export interface RunningController {
  readonly allocator: Allocator;
  readonly projections: LiveProjections;
  readonly sources?: CrdSource;
  readonly enqueuer?: StatusEnqueuer;
  readonly autoPools?: AutoPoolController;
  readonly statusQueue: Queue<StatusJobData>;
  readonly gcQueue: Queue<GcJobData>;
  /** Milliseconds since each watch last heard from the API server (liveness). */
  watchIdleMs(): number;
  stop(): Promise<void>;
}

export async function startController(o: ControllerOptions): Promise<RunningController> {
  const log = o.log ?? defaultLog;
  const kc = o.kubeConfig ?? loadKubeConfig(o.kubeconfig);
  const conn: EtcdConnection | undefined = o.etcd ? { ...connectionFromEnv(), endpoints: o.etcd.split(',') } : connectionFromEnv();
  if (!conn) throw new Error('no etcd: give --etcd or set ETCD_ENDPOINTS (and ETCD_CACERT, ETCD_CERT, ETCD_KEY for TLS)');
  const redisUrl = o.redisUrl ?? process.env.REDIS_URL;
  if (!redisUrl) throw new Error('no Redis: give --redis-url or set REDIS_URL');
  const connection = redisConnection(redisUrl);
  const prefix = o.queuePrefix ?? 'ipam';

  const client: Etcd3 = openEtcd(conn);
  await probeEtcd(client, conn, o.prefix ?? '/ipam/').catch((e: unknown) => {
    client.close();
    throw e;
  });
  const store = new EventStore(client, { prefix: o.prefix ?? '/ipam/', tagLayout: defaultTagLayout('block') });
  await store.open();
  const allocator = new Allocator(store);
  await allocator.start({
    onError: (e) => log('warn', `allocator subscription: ${(e as Error).message}`),
    // Behind the horizon (a cut log, or paused while it moved): the model restarts from the horizon checkpoint.
    onBehindHorizon: async (e) => {
      log('warn', `allocator subscription: ${e.message}; restarting from the horizon checkpoint`);
      return (await currentHorizonCheckpoint(store)).model;
    },
  });
  const projections = new LiveProjections(store, [spiderIPPoolProjection, spiderSubnetProjection, configMetadataProjection]);
  await projections.start();
  log('info', `caught up with ${describeConnection(conn)} at revision ${allocator.revision}`);

  const statusQueue = new Queue<StatusJobData>(STATUS_QUEUE, { connection, prefix });
  const gcQueue = new Queue<GcJobData>(GC_QUEUE, { connection, prefix });
  const workers: Worker[] = [];
  const informers: RunningInformer<unknown & object>[] = [];
  let sources: CrdSource | undefined;
  let enqueuer: StatusEnqueuer | undefined;
  const lock = o.lockDurationMs ? { lockDurationMs: o.lockDurationMs, stalledIntervalMs: Math.max(100, Math.floor(o.lockDurationMs / 2)) } : {};

  if (o.statusWriteback ?? true) {
    enqueuer = new StatusEnqueuer(projections, statusQueue, { log, coalesceMs: o.statusCoalesceMs ?? 500 });
    const w = startStatusWorker(connection, statusProcessor(kc, projections), { prefix, limiter: { max: o.statusRate ?? 50, durationMs: 1000 }, ...lock });
    w.on('failed', (job, e) => log('warn', `status write-back ${job?.data.projection} ${job?.data.key}: ${e.message}`));
    workers.push(w);
  }
  if (o.gc ?? true) {
    const qo = { graceMs: o.gcGraceMs ?? 30_000 };
    const w = new Worker<GcJobData, GcResult>(GC_QUEUE, gcProcessor({ kc, allocator, queue: gcQueue, queueOptions: qo, log }), {
      connection,
      prefix,
      concurrency: 4,
      ...(lock.lockDurationMs ? { lockDuration: lock.lockDurationMs, stalledInterval: lock.stalledIntervalMs } : {}),
    });
    w.on('failed', (job, e) => log('warn', `gc ${job?.data.kind} job: ${e.message}`));
    workers.push(w);
    const pods = watchPods(kc, allocator, gcQueue, qo, log);
    informers.push(pods);
    await pods.ready; // running means watching: a pod deleted from now on is seen
    await scheduleSweep(gcQueue, o.gcSweepMs ?? 300_000);
  }
  if (o.sources ?? true) {
    sources = new CrdSource({
      kc,
      allocator,
      recorded: () => projections.state(configMetadataProjection),
      waitFor: (rev) => projections.waitFor(rev),
      kinds: SOURCE_KINDS,
      retryMs: o.crdRetryMs ?? 10_000,
      log,
    });
    await sources.start();
  }
  let autoPools: AutoPoolController | undefined;
  if (o.autoPools ?? true) {
    autoPools = new AutoPoolController({
      kc,
      allocator,
      recorded: () => projections.state(configMetadataProjection),
      waitFor: (rev) => projections.waitFor(rev),
      retryMs: o.autoPoolRetryMs ?? 10_000,
      log,
    });
    await autoPools.start();
  }
  log('info', `controller running: sources ${sources ? 'on' : 'off'}, status write-back ${enqueuer ? 'on' : 'off'}, gc ${o.gc ?? true ? 'on' : 'off'}, auto pools ${autoPools ? 'on' : 'off'}`);

  return {
    allocator,
    projections,
    ...(sources ? { sources } : {}),
    ...(enqueuer ? { enqueuer } : {}),
    ...(autoPools ? { autoPools } : {}),
    statusQueue,
    gcQueue,
    watchIdleMs: () => Math.max(0, ...informers.map((i) => i.idleMs()), autoPools?.idleMs() ?? 0),
    async stop() {
      await autoPools?.stop();
      await sources?.stop();
      await Promise.all(informers.map((i) => i.stop()));
      await enqueuer?.stop();
      await Promise.all(workers.map((w) => w.close()));
      await statusQueue.close();
      await gcQueue.close();
      await projections.stop();
      await allocator.stop();
      await store.close();
      client.close();
    },
  };
}

/** Starts the controller and runs until SIGINT or SIGTERM. */
export async function runController(o: ControllerOptions): Promise<void> {
  const c = await startController(o);
  await new Promise<void>((done) => {
    process.once('SIGINT', () => done());
    process.once('SIGTERM', () => done());
  });
  await c.stop();
}

function defaultLog(level: 'info' | 'warn', msg: string): void {
  process.stderr.write(`${new Date().toISOString()} ipam controller ${level}: ${msg}\n`);
}
