// Status write-back: projection changes become BullMQ jobs, one pending job per object (BullMQ deduplication with
// keepLastIfActive: a change while the object's job runs leaves exactly one more job). Changes are gathered in
// memory and flushed every `flushMs`, so a burst on one object costs one Redis call, and the projections (and the
// allocation path behind them) never wait on Redis. The worker reads the latest rendered status when it runs and
// merge-patches the CR's status subresource only when it differs.
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { LiveReadModel, ReadModel } from '../../projections/read-model.js';
import { isConflict, isNotFound } from './kube.js';
import { statusPatch } from './merge-patch.js';
import { STATUS_TARGETS, type KubeObject, type ResourceKind } from './resources.js';

export const STATUS_QUEUE = 'ipam-status';

export interface StatusJobData {
  readonly projection: string;
  readonly key: string;
}

export type StatusOutcome = 'patched' | 'unchanged' | 'no-object' | 'no-cr';

/** BullMQ ids may not contain ':' and may not be all digits. */
export function statusJobId(projection: string, key: string): string {
  return `status-${projection}-${encodeURIComponent(key)}`;
}

export interface EnqueuerOptions {
  readonly flushMs?: number;
  /** Delay before a job may run, so a burst of changes is written once (ms). */
  readonly coalesceMs?: number;
  readonly attempts?: number;
  readonly backoffMs?: number;
  readonly targets?: Readonly<Record<string, ResourceKind>>;
  readonly log?: (level: 'info' | 'warn', msg: string) => void;
}

export class StatusEnqueuer {
  private readonly dirty = new Map<string, StatusJobData>();
  private readonly unsubscribe: () => void;
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | undefined;
  /** Jobs added (before BullMQ's deduplication), for diagnostics and tests. */
  added = 0;

  constructor(
    readModel: LiveReadModel,
    private readonly queue: Queue<StatusJobData>,
    private readonly o: EnqueuerOptions = {},
  ) {
    const targets = o.targets ?? STATUS_TARGETS;
    this.unsubscribe = readModel.onChange((changes) => {
      for (const c of changes) {
        if (c.type === 'DELETED' || !(c.projection in targets)) continue;
        this.dirty.set(statusJobId(c.projection, c.key), { projection: c.projection, key: c.key });
      }
    });
    this.timer = setInterval(() => void this.flush(), o.flushMs ?? 50);
  }

  /** Adds a job for every object changed since the last flush. Failed adds stay dirty for the next flush. */
  flush(): Promise<void> {
    this.flushing ??= this.doFlush().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    clearInterval(this.timer);
    await this.flushing;
    await this.flush();
  }

  private async doFlush(): Promise<void> {
    if (this.dirty.size === 0) return;
    const batch = [...this.dirty.entries()];
    this.dirty.clear();
    await Promise.all(
      batch.map(async ([id, data]) => {
        try {
          await this.queue.add('status', data, {
            deduplication: { id, keepLastIfActive: true },
            delay: this.o.coalesceMs ?? 100,
            attempts: this.o.attempts ?? 8,
            backoff: { type: 'exponential', delay: this.o.backoffMs ?? 500 },
            removeOnComplete: true,
            removeOnFail: 1000,
          });
          this.added++;
        } catch (e) {
          if (!this.dirty.has(id)) this.dirty.set(id, data);
          this.o.log?.('warn', `status write-back: cannot enqueue ${data.projection} ${data.key}: ${(e as Error).message}`);
        }
      }),
    );
  }
}

/** The rendered status with every field the controller owns present (undefined: remove it, e.g. v2beta1's empty allocatedIPs). */
function owned(kind: ResourceKind, status: Record<string, unknown>): Record<string, unknown> {
  if (!kind.statusFields) return status;
  const out: Record<string, unknown> = { ...status };
  for (const f of kind.statusFields) if (!(f in out)) out[f] = undefined;
  return out;
}

/** Reads the latest rendered status and merge-patches the CR when it differs; a 409 re-reads and tries again. */
export function statusProcessor(kc: KubeConfig, readModel: ReadModel, targets: Readonly<Record<string, ResourceKind>> = STATUS_TARGETS) {
  const api = kc.makeApiClient(CustomObjectsApi);
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
  return async (job: Job<StatusJobData>): Promise<StatusOutcome> => {
    const { projection, key } = job.data;
    const kind = targets[projection];
    if (!kind) throw new UnrecoverableError(`no status target for projection ${projection}`);
    if (kind.namespaced) throw new UnrecoverableError(`${kind.kind} is namespaced; only cluster-scoped targets are written`);
    const ref = { group: kind.group, version: kind.version, plural: kind.plural, name: key };
    for (let attempt = 1; ; attempt++) {
      const rendered = readModel.get(projection, key);
      if (rendered?.status === undefined) return 'no-object';
      let cr: KubeObject;
      try {
        cr = (await api.getClusterCustomObject(ref)) as KubeObject;
      } catch (e) {
        if (isNotFound(e)) return 'no-cr'; // made through the daemon's API, or deleted: nothing to write to
        throw e;
      }
      const patch = statusPatch(cr.status, owned(kind, rendered.status as Record<string, unknown>));
      if (patch === undefined) return 'unchanged';
      try {
        await api.patchClusterCustomObjectStatus({ ...ref, body: { metadata: { resourceVersion: cr.metadata?.resourceVersion }, status: patch } }, mergePatch);
        return 'patched';
      } catch (e) {
        if (!isConflict(e) || attempt >= 3) throw e; // BullMQ retries with backoff
      }
    }
  };
}

export interface StatusWorkerOptions {
  readonly concurrency?: number;
  /** At most `max` patches per `durationMs`, across every worker on the queue. */
  readonly limiter?: { readonly max: number; readonly durationMs: number };
  readonly lockDurationMs?: number;
  readonly stalledIntervalMs?: number;
  /** BullMQ key prefix (default "bull"); the queue must use the same. */
  readonly prefix?: string;
}

export function startStatusWorker(
  connection: ConnectionOptions,
  process: (job: Job<StatusJobData>) => Promise<StatusOutcome>,
  o: StatusWorkerOptions = {},
): Worker<StatusJobData, StatusOutcome> {
  const limiter = o.limiter ?? { max: 50, durationMs: 1000 };
  return new Worker<StatusJobData, StatusOutcome>(STATUS_QUEUE, process, {
    connection,
    concurrency: o.concurrency ?? 4,
    limiter: { max: limiter.max, duration: limiter.durationMs },
    ...(o.lockDurationMs ? { lockDuration: o.lockDurationMs } : {}),
    ...(o.stalledIntervalMs ? { stalledInterval: o.stalledIntervalMs } : {}),
    ...(o.prefix ? { prefix: o.prefix } : {}),
  });
}
