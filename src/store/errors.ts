// Store errors: a code a caller can act on, a message a person can act on.

/**
 * Named in AppendConditionFailed.tags when the append's view is older than the last horizon move (the log's
 * horizon key, not a tag): tags may have been deleted since that view, so the decision must be taken again.
 */
export const HORIZON_FENCE = '(horizon)';

/** The append's condition did not hold: an event with one of these tags was written after `after`. */
export class AppendConditionFailed extends Error {
  readonly code = 'AppendConditionFailed';
  readonly retryable = true;
  constructor(
    readonly tags: readonly string[],
    readonly after: number,
    /** Highest mod_revision seen among the conflicting tags: a view at least this fresh may decide again. */
    readonly seenRevision: number,
  ) {
    super(`append condition failed: ${tags.join(', ')} changed after revision ${after}`);
  }
}

export function isAppendConditionFailed(e: unknown): e is AppendConditionFailed {
  return e instanceof AppendConditionFailed;
}

/** The request itself is wrong (too big, no tags, bad id): retrying cannot help. */
export class AppendRejected extends Error {
  readonly code = 'AppendRejected';
  readonly retryable = false;
  constructor(reason: string) {
    super(`append rejected: ${reason}`);
  }
}

/** etcd could not be reached or did not answer in time; the append may be retried with the same event ids. */
export class StoreUnavailable extends Error {
  readonly code = 'StoreUnavailable';
  readonly retryable = true;
  constructor(
    reason: string,
    override readonly cause?: unknown,
  ) {
    super(`event store unavailable: ${reason}`);
  }
}

export function isStoreUnavailable(e: unknown): e is StoreUnavailable {
  return e instanceof StoreUnavailable;
}

/** etcd's answer when its backend has reached `--quota-backend-bytes` (gRPC RESOURCE_EXHAUSTED, ErrGRPCNoSpace). */
export const ETCD_NOSPACE_MESSAGE = 'etcdserver: mvcc: database space exceeded';

/**
 * etcd raised its NOSPACE alarm: it refuses every write (reads and deletes still work) until an operator frees space
 * and disarms the alarm. Nothing of the refused append was written. Retrying cannot help before that, so it is not
 * retryable; the engine resumes by itself once writes are accepted again (no restart).
 */
export class EtcdNoSpace extends Error {
  readonly code = 'EtcdNoSpace';
  readonly retryable = false;
  constructor(override readonly cause?: unknown) {
    super(
      'etcd is out of space (NOSPACE alarm: "database space exceeded"): it refuses every write until an operator frees space; ' +
        'nothing of this request was written. Fix: let retention archive old log records, then `etcdctl compact <revision>`, ' +
        '`etcdctl defrag`, `etcdctl alarm disarm` (or raise --quota-backend-bytes); service resumes without a restart',
    );
  }
}

export function isEtcdNoSpace(e: unknown): e is EtcdNoSpace {
  return e instanceof EtcdNoSpace;
}

/** Whether an etcd client error is etcd refusing a write for lack of space (by message: etcd3 has no class for it). */
export function isNoSpaceAnswer(e: unknown): boolean {
  return e instanceof Error && e.message.includes(ETCD_NOSPACE_MESSAGE);
}

/**
 * A read from etcd alone that starts at or before the log's horizon: those records may have been archived and
 * deleted from etcd. Read through src/lifecycle/log-source.ts with the archive, or start from the horizon checkpoint.
 */
export class BeforeHorizon extends Error {
  readonly code = 'BeforeHorizon';
  readonly retryable = false;
  constructor(
    readonly after: number,
    readonly horizon: number,
  ) {
    super(`reading the log after revision ${after} needs the archive: etcd holds only what follows the horizon at ${horizon} (pass --archive-dir, or start from the horizon checkpoint)`);
  }
}
