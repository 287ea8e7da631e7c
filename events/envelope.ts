// The envelope every event shares. Plain readonly data; `type` discriminates, `v` versions the data shape.
export interface EventEnvelope<T extends string = string, D = unknown> {
  /** Unique id, chosen before the first append attempt; retries reuse it. */
  readonly id: string;
  readonly type: T;
  /** Version of `data`'s shape for this type. */
  readonly v: number;
  /** When the decision was taken (RFC 3339), carried in with the command, never read from a clock deep inside. */
  readonly at: string;
  /** Consistency and query tags, e.g. `ip:default/10.0.0.7`, `ep:ns/pod/eth0`, `pool:p1`. */
  readonly tags: readonly string[];
  readonly data: D;
}

/** An event as read back from the log: the envelope plus where it sits in the global order. */
export interface StoredEvent<E extends EventEnvelope = EventEnvelope> {
  readonly event: E;
  /** etcd revision of the commit that wrote it. */
  readonly revision: number;
  /** Position inside that commit; (revision, position) is the global order. */
  readonly position: number;
}
