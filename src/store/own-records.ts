// Records this process is committing, by record key, so its own subscriptions take the events it already holds instead
// of decoding the record again (JSON.parse of each record is the largest single cost of following the log).
// Keyed by the record key, not the revision, and registered when the txn is built: etcd often delivers the watch event
// of a txn before the txn's own answer has been processed (38% of the records under load with 256 requesters were
// decoded again when this waited for the answer). A record key is written once, by one txn, with the value built from
// these events: seeing the key in the log is seeing these events, whatever became of the answer.
import type { DomainEvent } from '../../events/catalogue.js';
import type { EventEnvelope } from '../../events/envelope.js';

export class OwnRecords {
  private readonly byKey = new Map<string, readonly EventEnvelope[]>();

  /**
   * Bounded (`max` records in flight or committed and not yet seen): a subscription that fell behind (or re-read the
   * log after trouble) decodes as any reader does; a txn whose outcome stays unknown is forgotten the same way.
   */
  constructor(private readonly max = 1024) {}

  get size(): number {
    return this.byKey.size;
  }

  /** The txn writing record `key` with these events (in record order) is about to be sent. */
  sending(key: string, events: readonly EventEnvelope[]): void {
    this.byKey.set(key, events);
    if (this.byKey.size > this.max) this.byKey.delete(this.byKey.keys().next().value!);
  }

  /** Forgets every record (no subscription is left to take them). */
  clear(): void {
    this.byKey.clear();
  }

  /** The txn writing record `key` did not commit (its compares failed): the key will never be in the log. */
  failed(key: string): void {
    this.byKey.delete(key);
  }

  /**
   * The events of our record `key`, if we wrote it; removed unless `shared` (other subscriptions in this process may
   * still want it; the bound then drops it).
   */
  take(key: Buffer, shared: boolean): readonly DomainEvent[] | undefined {
    if (this.byKey.size === 0) return undefined;
    const k = key.toString('latin1');
    const r = this.byKey.get(k);
    if (r === undefined) return undefined;
    if (!shared) this.byKey.delete(k);
    // Built by makeEvent and checked before they were appended; the codec would return these same objects.
    return r as readonly DomainEvent[];
  }
}
