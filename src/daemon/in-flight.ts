// Bounds how long a request may wait on etcd, and fails the waiting ones at once when readiness finds etcd gone:
// one sweep timer and one readiness listener for all requests in flight, not a timer and three promises per request.
import { HttpError } from './http.js';

interface Waiting {
  readonly due: number;
  readonly fail: (e: HttpError) => void;
  /** The error to answer instead when the wait was not etcd's fault (a slow upload, say). */
  readonly blame: (() => HttpError | undefined) | undefined;
}

export class InFlight {
  private readonly waiting = new Set<Waiting>();
  private sweeper: NodeJS.Timeout | undefined;
  private listening = false;

  constructor(
    private readonly timeoutMs: number,
    /** Registers a one-shot callback for "etcd became unreachable" (Readiness.onUnreachable). */
    private readonly onUnreachable: (cb: () => void) => unknown,
    private readonly reason: () => string,
  ) {}

  /** `work`'s outcome, or a retryable 503 when it takes longer than the timeout or etcd is found unreachable. */
  run<T>(work: Promise<T>, blame?: () => HttpError | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = { due: performance.now() + this.timeoutMs, fail: reject, blame };
      this.waiting.add(w);
      this.watch();
      work.then(
        (v) => {
          this.waiting.delete(w);
          resolve(v);
        },
        (e: unknown) => {
          this.waiting.delete(w);
          reject(e);
        },
      );
    });
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.waiting.clear();
  }

  private watch(): void {
    if (!this.listening) {
      this.listening = true;
      this.onUnreachable(() => {
        this.listening = false; // readiness forgets its listeners once it has called them
        const e = new HttpError(503, 'EtcdUnavailable', `etcd became unreachable (${this.reason()}); retry later (the same request is safe to repeat)`, undefined, true);
        this.failAll(() => true, e);
      });
    }
    // A tenth of the timeout (at most 1 s) between sweeps: a request fails at most that late.
    this.sweeper ??= setInterval(() => this.sweep(), Math.min(1000, Math.max(10, this.timeoutMs / 10))).unref();
  }

  private sweep(): void {
    const now = performance.now();
    const e = new HttpError(503, 'Timeout', `no answer from etcd within ${this.timeoutMs} ms; retry later (the same request is safe to repeat)`, undefined, true);
    this.failAll((w) => w.due <= now, e);
    if (this.waiting.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }

  private failAll(which: (w: Waiting) => boolean, e: HttpError): void {
    for (const w of this.waiting) {
      if (!which(w)) continue;
      this.waiting.delete(w);
      w.fail((e.code === 'Timeout' && w.blame?.()) || e);
    }
  }
}
