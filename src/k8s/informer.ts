// A list+watch informer that keeps running: client-node's informer stops on any error but 410, so restart it with
// backoff, and say when it last heard from the API server (liveness).
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';

export interface InformerHandlers<T> {
  /** Added, or changed (every update the API server sends). */
  upsert?(obj: T): void;
  deleted?(obj: T): void;
  /** After each (re)connection's list: the full set of objects the cache holds. */
  synced?(objs: readonly T[]): void;
  error?(e: unknown): void;
}

export interface RunningInformer<T> {
  /** Resolves after the first list has been delivered. */
  readonly ready: Promise<void>;
  list(): readonly T[];
  get(name: string, namespace?: string): T | undefined;
  /** Milliseconds since the informer last connected or received an event. */
  idleMs(): number;
  stop(): Promise<void>;
}

export interface InformerOptions {
  /** First restart delay after an error, doubled up to maxBackoffMs. */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
}

export function runInformer<T extends KubernetesObject>(
  kc: KubeConfig,
  path: string,
  list: () => Promise<KubernetesListObject<T>>,
  h: InformerHandlers<T>,
  o: InformerOptions = {},
): RunningInformer<T> {
  let lastSeen = Date.now();
  let stopped = false;
  let delay = o.backoffMs ?? 500;
  let timer: NodeJS.Timeout | undefined;
  let markReady!: () => void;
  const ready = new Promise<void>((r) => (markReady = r));
  const touch = () => {
    lastSeen = Date.now();
  };
  const inf = makeInformer<T>(kc, path, async () => {
    const res = await list();
    touch();
    // Called before the informer diffs the list into its cache: report the full set once it has (next macrotask).
    setImmediate(() => {
      h.synced?.(inf.list());
      delay = o.backoffMs ?? 500;
      markReady();
    });
    return res;
  });
  inf.on('add', (obj) => (touch(), h.upsert?.(obj)));
  inf.on('update', (obj) => (touch(), h.upsert?.(obj)));
  inf.on('delete', (obj) => (touch(), h.deleted?.(obj)));
  inf.on('connect', touch);
  inf.on('error', (e: unknown) => {
    h.error?.(e);
    if (stopped) return;
    timer = setTimeout(() => {
      if (!stopped) inf.start().catch((err: unknown) => h.error?.(err));
    }, delay);
    delay = Math.min(delay * 2, o.maxBackoffMs ?? 30_000);
  });
  inf.start().catch((e: unknown) => h.error?.(e));
  return {
    ready,
    list: () => inf.list(),
    get: (name, namespace) => inf.get(name, namespace),
    idleMs: () => Date.now() - lastSeen,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await inf.stop();
    },
  };
}
