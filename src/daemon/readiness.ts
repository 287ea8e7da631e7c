// Readiness: ready only while etcd answers and the allocator and projections have caught up with its revision.
export interface ReadinessCheck {
  /** The current revision in etcd (throws when etcd cannot be reached). */
  currentRevision(): Promise<number>;
  /** Resolves once the daemon reflects every commit at or before `rev`. */
  caughtUp(rev: number): Promise<void>;
  /** A condition that stops the daemon from serving writes although etcd answers (its NOSPACE alarm), if any. */
  fault?(): Promise<Error | undefined>;
}

export class Readiness {
  private state: { ready: boolean; reason: string; etcdReachable: boolean; fault?: Error } = { ready: false, reason: 'starting', etcdReachable: true };
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly lostListeners = new Set<() => void>();
  /** Why the daemon is not ready whatever the probes find (catching up from the horizon checkpoint), if it is held. */
  private held: string | undefined;

  constructor(
    private readonly check: ReadinessCheck,
    private readonly intervalMs = 1000,
    private readonly timeoutMs = 2000,
  ) {}

  get ready(): boolean {
    return this.state.ready;
  }
  get reason(): string {
    return this.state.reason;
  }
  /** False after etcd failed to answer the last probe: requests then fail fast instead of waiting. */
  get etcdReachable(): boolean {
    return this.state.etcdReachable;
  }

  /** What keeps the daemon from serving writes while etcd answers (EtcdNoSpace), as the last probe found it. */
  get fault(): Error | undefined {
    return this.state.fault;
  }

  /** Not ready, at once and until `done` settles, for `reason` (e.g. catching up after a restart from the horizon). */
  holdUntil(reason: string, done: Promise<unknown>): void {
    const hold = (this.held = reason);
    this.state = { ...this.state, ready: false, reason };
    void done.finally(() => {
      if (this.held !== hold) return;
      this.held = undefined;
      if (this.timer !== undefined) void this.probe(); // ready again now, not at the next probe
    });
  }

  /** Calls `cb` once when a probe finds etcd unreachable; returns the unsubscribe (call it when no longer waiting). */
  onUnreachable(cb: () => void): () => void {
    this.lostListeners.add(cb);
    return () => void this.lostListeners.delete(cb);
  }

  /** Probes once now, then every interval until stopped. */
  async start(): Promise<void> {
    await this.probe();
    const loop = () => {
      this.timer = setTimeout(() => {
        this.running = this.probe().then(loop);
      }, this.intervalMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    this.state = { ...this.state, ready: false, reason: 'stopping' };
  }

  async probe(): Promise<void> {
    let rev: number;
    try {
      rev = await deadline(this.check.currentRevision(), this.timeoutMs, `etcd did not answer within ${this.timeoutMs} ms`);
    } catch (e) {
      this.state = { ready: false, reason: `etcd unreachable: ${(e as Error).message}`, etcdReachable: false };
      for (const cb of this.lostListeners) cb();
      this.lostListeners.clear();
      return;
    }
    try {
      await deadline(this.check.caughtUp(rev), this.timeoutMs, `not caught up with revision ${rev} within ${this.timeoutMs} ms`);
      const fault = this.check.fault ? await deadline(this.check.fault(), this.timeoutMs, `no answer about etcd's alarms within ${this.timeoutMs} ms`) : undefined;
      if (fault) this.state = { ready: false, reason: fault.message, etcdReachable: true, fault };
      else this.state = this.held !== undefined ? { ready: false, reason: this.held, etcdReachable: true } : { ready: true, reason: '', etcdReachable: true };
    } catch (e) {
      this.state = { ready: false, reason: (e as Error).message, etcdReachable: true };
    }
  }
}

/** Rejects with `message` when `p` takes longer than `ms` (p itself goes on). */
export function deadline<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    t = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(t));
}
