// Key layout under the prefix (default /ipam/). Nothing is written outside it.
//   <prefix>log/<hint>-<writer>-<seq>   one immutable commit record: the JSON array of the events one txn appended
//   <prefix>tag/<tag>                   last event id carrying <tag>; its mod_revision is the guard
//   <prefix>head                        touched by every commit; bounds how stale a record's <hint> may be
//   <prefix>layout                      the log's tag layout (store/tag-layout.ts), recorded once when the log is new
//   <prefix>horizon                     the log's horizon H (JSON); its mod_revision fences every conditional append
//   <prefix>lifecycle/...               maintenance lease/election keys (one maintaining daemon at a time)
//   <prefix>checkpoint/<projection>     projection state at a revision
// <hint> is a revision the writer had already seen, as 12 hex digits, so log keys sort roughly by commit revision:
// a record committed at C has hint < C, and hint > (last commit before C) - reorderWindow (checked in the txn).

export const HINT_DIGITS = 12;

export class KeyLayout {
  readonly logPrefix: string;
  readonly tagPrefix: string;
  readonly head: string;
  readonly checkpointPrefix: string;
  readonly horizon: string;
  readonly tagLayout: string;
  readonly lifecyclePrefix: string;

  constructor(readonly prefix: string = '/ipam/') {
    if (!prefix.endsWith('/')) throw new Error(`key prefix must end with "/": ${JSON.stringify(prefix)}`);
    this.logPrefix = `${prefix}log/`;
    this.tagPrefix = `${prefix}tag/`;
    this.head = `${prefix}head`;
    this.checkpointPrefix = `${prefix}checkpoint/`;
    this.horizon = `${prefix}horizon`;
    this.tagLayout = `${prefix}layout`;
    this.lifecyclePrefix = `${prefix}lifecycle/`;
  }

  tag(tag: string): string {
    return this.tagPrefix + tag;
  }

  record(hint: number, writer: string, seq: number): string {
    return `${this.logPrefix}${hex(hint)}-${writer}-${seq.toString(36)}`;
  }

  /** First log key whose hint is >= `hint`. */
  logFrom(hint: number): string {
    return this.logPrefix + hex(hint);
  }

  /** The hint encoded in a record key. */
  hintOf(recordKey: string): number {
    return parseInt(recordKey.slice(this.logPrefix.length, this.logPrefix.length + HINT_DIGITS), 16);
  }

  checkpoint(name: string): string {
    return this.checkpointPrefix + name;
  }
}

function hex(n: number): string {
  return Math.max(0, Math.floor(n)).toString(16).padStart(HINT_DIGITS, '0');
}

/** The key just after every key starting with `prefix` (etcd range_end for a prefix scan). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix);
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i] = b[i]! + 1;
      return out;
    }
  }
  return Buffer.from([0]);
}
