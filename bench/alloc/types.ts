// The contract between the `alloc` benchmark and the allocators it drives (the baseline here, the engine later).

/** One successful allocation. `conflicts` = retries this call needed (lost CAS races, conflicting appends, ...). */
export interface AllocOutcome {
  address: string;
  conflicts: number;
  /** Through the HTTP API: the daemon's own time on the call (its Server-Timing answer header), ms. */
  serverMs?: number;
}

/**
 * An allocator under test. `allocate` is called concurrently by many requesters; (requester, seq) is unique per call
 * and identifies the pod the address is for (seq counts calls per requester, from 0). Resolves 'exhausted' when the
 * pool has no free address; rejects on any other failure. `close` ends in-flight calls (they may reject) and frees
 * connections.
 */
export interface Allocator {
  allocate(requester: number, seq: number): Promise<AllocOutcome | 'exhausted'>;
  close(): Promise<void>;
}

export interface AllocatorFactory {
  /** Short name used in tables, JSON and chart legends. */
  name: string;
  /**
   * Opens a fresh, empty pool. prefix: an etcd key prefix the allocator owns for this run (fresh per open).
   * poolCidr: the pool, e.g. '10.0.0.0/16'. size: how many allocations the run will ask for at most (a hint).
   */
  open(ctx: AllocatorContext): Promise<Allocator>;
}

export interface AllocatorContext {
  endpoints: string[];
  prefix: string;
  poolCidr: string;
  size: number;
}

/** The identity a bench allocation is recorded under (pod reference in pool documents, id in invariant checks). */
export function podRef(requester: number, seq: number): string {
  return `r${requester}-s${seq}`;
}
