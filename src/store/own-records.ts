// Records this process committed, by revision, so its own subscriptions take the events it already holds instead of
// decoding the record again (JSON.parse of each record is the largest single cost of following the log).
import type { DomainEvent } from '../../events/catalogue.js';
import type { EventEnvelope } from '../../events/envelope.js';

interface OwnRecord {
  readonly key: string;
  readonly events: readonly EventEnvelope[];
}

export class OwnRecords {
  private readonly byRevision = new Map<number, OwnRecord>();

  /** Bounded: a subscription that fell behind (or re-read the log after trouble) decodes as any reader does. */
  constructor(private readonly max = 1024) {}

  add(revision: number, key: string, events: readonly EventEnvelope[]): void {
    this.byRevision.set(revision, { key, events });
    if (this.byRevision.size > this.max) this.byRevision.delete(this.byRevision.keys().next().value!);
  }

  /**
   * The events of our record committed at `revision`, if `key` is that record; removed unless `shared` (other
   * subscriptions in this process may still want it; the bound then drops it).
   */
  take(revision: number, key: Buffer, shared: boolean): readonly DomainEvent[] | undefined {
    const r = this.byRevision.get(revision);
    if (r === undefined || key.length !== r.key.length || key.toString('latin1') !== r.key) return undefined;
    if (!shared) this.byRevision.delete(revision);
    // Built by makeEvent and checked before they were appended; the codec would return these same objects.
    return r.events as readonly DomainEvent[];
  }
}
