// The cluster caches' lookup error, apart from them: the CNI route tests for it without loading the Kubernetes
// client (a daemon without --kubeconfig never imports @kubernetes/client-node).
/** A lookup that neither the cache nor one fetch could answer. */
export class ClusterLookupError extends Error {
  readonly code = 'ClusterLookupFailed';
  constructor(
    readonly what: string,
    reason: string,
  ) {
    super(`${what}: ${reason}`);
    this.name = 'ClusterLookupError';
  }
}

export function isClusterLookupError(e: unknown): e is ClusterLookupError {
  return e instanceof ClusterLookupError;
}
