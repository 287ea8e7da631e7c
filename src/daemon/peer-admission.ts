// Per-peer admission on the TCP listener, so one client address cannot take the daemon's one thread from the others
// (the unix socket, i.e. the CNI plugin, is never limited here): new connections per second (refused at accept,
// before the TLS handshake, the cheapest refusal there is), requests in flight at once (429 + Retry-After, as the
// Kubernetes API server's max-in-flight filter answers; long-running watches are not counted, as there), and
// refused requests per second (a peer whose requests keep being refused is answered 429 before its requests are
// authenticated or parsed, until its budget refills: a refusal that costs the daemon work is not free to repeat),
// new watches per second (429 + Retry-After: an informer opens one per resource and re-watches every few minutes),
// and aborts per second (connections or requests the client left before any answer, and watches refused for the
// watch rate: over it, the peer's new connections are closed at accept until the budget refills, since each one
// costs a TLS handshake it throws away; a client that waits Retry-After, as client-go does, stays well within it).

export interface PeerLimits {
  /** New connections a second from one address (token bucket refill); over it they are closed as they arrive. */
  readonly connectionsPerSecond: number;
  /** Connections one address may open in a burst before the rate applies. */
  readonly connectionBurst: number;
  /** Requests from one address being served at once (watches excepted); more are answered 429. */
  readonly maxInFlight: number;
  /** Requests a second from one address the daemon may refuse (4xx for the client's fault) before it answers 429 to all. */
  readonly refusalsPerSecond: number;
  /** Refusals one address may collect in a burst before the rate applies. */
  readonly refusalBurst: number;
  /** New watches a second from one address; more are answered 429 (Kubernetes clients wait Retry-After and re-watch). */
  readonly watchesPerSecond: number;
  /** Watches one address may open in a burst before the rate applies (an informer-based client starting up). */
  readonly watchBurst: number;
  /** Connections or requests a second one address may drop before any answer (or watches over its rate); over it its connections are closed at accept. */
  readonly abortsPerSecond: number;
  /** Aborts one address may collect in a burst before the rate applies. */
  readonly abortBurst: number;
}

// New connections: generous, because common clients open one per request (@kubernetes/client-node does) and a
// handshake with the generated ECDSA key costs the daemon well under a millisecond; refusals: tight, since a well-
// behaved client does not keep sending what is refused.
// Watches: an informer-based client opens one per resource it follows (a few to a few dozen at start-up), then re-watches
// each every few minutes; aborts: a well-behaved client rarely drops a request before its answer (kubectl's Ctrl-C).
export const PEER_LIMITS: PeerLimits = {
  connectionsPerSecond: 200,
  connectionBurst: 500,
  maxInFlight: 128,
  refusalsPerSecond: 5,
  refusalBurst: 30,
  watchesPerSecond: 5,
  watchBurst: 40,
  abortsPerSecond: 5,
  abortBurst: 30,
};

/** No per-peer limit at all (e.g. a test that sends many bad requests on purpose, to see each one's own answer). */
export const NO_PEER_LIMITS: PeerLimits = {
  connectionsPerSecond: Infinity,
  connectionBurst: Infinity,
  maxInFlight: Infinity,
  refusalsPerSecond: Infinity,
  refusalBurst: Infinity,
  watchesPerSecond: Infinity,
  watchBurst: Infinity,
  abortsPerSecond: Infinity,
  abortBurst: Infinity,
};

/** Peers tracked at once; at it, peers holding nothing (full buckets) are forgotten, then the oldest without a request in flight. */
export const MAX_TRACKED_PEERS = 10_000;

/** Answers the client caused and could not have succeeded as sent: they draw on its refusal budget. */
const REFUSALS = new Set([400, 401, 403, 405, 406, 408, 413, 414, 415, 422, 431]);

/** A token bucket: `rate` tokens a second up to `burst`; full when created; an infinite burst never runs dry. */
class Bucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  private refill(now: number): void {
    if (this.burst === Infinity) return;
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
  }

  /** Takes one token; false when there is none. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Seconds until a token is there again (0 when there is one). */
  waitSeconds(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.rate);
  }

  full(now: number): boolean {
    this.refill(now);
    return this.tokens >= this.burst;
  }
}

interface Peer {
  readonly connections: Bucket;
  readonly refusals: Bucket;
  readonly watches: Bucket;
  readonly aborts: Bucket;
  inFlight: number;
}

export const AdmissionVerdict = { Admitted: 'admitted', TooManyInFlight: 'too-many-in-flight', TooManyRefused: 'too-many-refused', TooManyWatches: 'too-many-watches' } as const;
export type AdmissionVerdict = (typeof AdmissionVerdict)[keyof typeof AdmissionVerdict];

/** A refused request: why, and how long the client should wait (the Retry-After header, in seconds). */
export interface Refusal {
  readonly verdict: Exclude<AdmissionVerdict, 'admitted'>;
  readonly retryAfterSeconds: number;
  readonly message: string;
}

export class PeerAdmission {
  private readonly peers = new Map<string, Peer>();
  /** Refused since the last report, by cause. */
  refused = { connections: 0, inFlight: 0, refusals: 0, watches: 0, aborts: 0 };

  constructor(
    readonly limits: PeerLimits,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get tracked(): number {
    return this.peers.size;
  }

  private peer(address: string): Peer {
    let p = this.peers.get(address);
    if (p) return p;
    if (this.peers.size >= MAX_TRACKED_PEERS) this.forgetIdle();
    const now = this.now();
    const l = this.limits;
    p = {
      connections: new Bucket(l.connectionsPerSecond, l.connectionBurst, now),
      refusals: new Bucket(l.refusalsPerSecond, l.refusalBurst, now),
      watches: new Bucket(l.watchesPerSecond, l.watchBurst, now),
      aborts: new Bucket(l.abortsPerSecond, l.abortBurst, now),
      inFlight: 0,
    };
    this.peers.set(address, p);
    return p;
  }

  /** Forgets peers holding nothing; if that is not enough, the oldest tracked without a request in flight (to 90%). */
  private forgetIdle(): void {
    const now = this.now();
    for (const [a, p] of this.peers) if (p.inFlight === 0 && p.connections.full(now) && p.refusals.full(now) && p.watches.full(now) && p.aborts.full(now)) this.peers.delete(a);
    const keep = Math.floor(MAX_TRACKED_PEERS * 0.9);
    for (const [a, p] of this.peers) {
      if (this.peers.size <= keep) break;
      if (p.inFlight === 0) this.peers.delete(a);
    }
  }

  /** A new connection from `address`: false when it is over its rate, or drops what it asks (close it before anything else). */
  connection(address: string): boolean {
    const p = this.peer(address);
    const now = this.now();
    if (p.aborts.waitSeconds(now) > 0) {
      this.refused.aborts++;
      return false;
    }
    if (p.connections.take(now)) return true;
    this.refused.connections++;
    return false;
  }

  /** A connection or request from `address` was dropped by the client before any answer (a TLS handshake thrown away). */
  aborted(address: string): void {
    this.peer(address).aborts.take(this.now());
  }

  /** A request from `address`; when admitted, call `done(status)` once it is answered. */
  request(address: string, longRunning: boolean): Refusal | undefined {
    const p = this.peer(address);
    const now = this.now();
    const wait = p.refusals.waitSeconds(now);
    if (wait > 0) {
      this.refused.refusals++;
      return { verdict: AdmissionVerdict.TooManyRefused, retryAfterSeconds: wait, message: `too many refused requests from ${address} (over ${this.limits.refusalsPerSecond}/s); fix the requests, then retry after ${wait} s` };
    }
    if (longRunning && !p.watches.take(now)) {
      this.refused.watches++;
      p.aborts.take(now); // a client that ignores Retry-After and keeps re-watching wastes a handshake each time
      const after = Math.max(1, p.watches.waitSeconds(now));
      return { verdict: AdmissionVerdict.TooManyWatches, retryAfterSeconds: after, message: `too many new watches from ${address} (over ${this.limits.watchesPerSecond}/s); keep watches open and re-watch from their resourceVersion, retry after ${after} s` };
    }
    if (!longRunning && p.inFlight >= this.limits.maxInFlight) {
      this.refused.inFlight++;
      return { verdict: AdmissionVerdict.TooManyInFlight, retryAfterSeconds: 1, message: `too many requests in flight from ${address} (${this.limits.maxInFlight}); wait for answers before sending more` };
    }
    if (!longRunning) p.inFlight++;
    return undefined;
  }

  /** An admitted request was answered with `status`. */
  done(address: string, longRunning: boolean, status: number): void {
    const p = this.peer(address);
    if (!longRunning) p.inFlight = Math.max(0, p.inFlight - 1);
    if (REFUSALS.has(status)) p.refusals.take(this.now());
  }
}
