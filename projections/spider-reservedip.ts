// SpiderReservedIP (spiderpool.spidernet.io/v2beta1): one object per reservation, from IPReserved (made or replaced)
// and IPUnreserved; so reservations are listed, read and watched like the other kinds. Config events only: small.
import type { EventType, IpVersion, LoggedEvent, ObjectMeta } from '../events/catalogue.js';
import { nextOrigin, originMeta, type ObjectOrigin } from '../events/object-origin.js';
import { Documents } from './documents.js';
import { copyJson, userMetadata } from './pool-common.js';
import { SPIDERPOOL_API_VERSION } from './spider-ippool.js';
import type { DocumentProjection, K8sObject } from './types.js';

interface ReservationRecord {
  readonly name: string;
  readonly ipVersion: IpVersion;
  readonly ips: readonly string[];
  readonly metadata?: ObjectMeta;
  readonly origin: ObjectOrigin;
}

const HANDLES = ['IPReserved', 'IPUnreserved'] as const satisfies readonly EventType[];

function render(r: ReservationRecord): K8sObject {
  return {
    apiVersion: SPIDERPOOL_API_VERSION,
    kind: 'SpiderReservedIP',
    metadata: { name: r.name, ...originMeta(r.origin), ...userMetadata(r) },
    spec: { ipVersion: r.ipVersion, ips: [...r.ips] },
  };
}

export class SpiderReservedIPs extends Documents<ReservationRecord> {
  private readonly records = new Map<string, ReservationRecord>();

  constructor(json?: unknown) {
    super();
    if (json === undefined) return;
    const list = (json as { reservations?: unknown } | null)?.reservations;
    if (!Array.isArray(list)) throw new Error('spider-reservedip: checkpoint has no reservations list');
    for (const r of list as ReservationRecord[]) this.records.set(r.name, copyJson(r));
  }

  get size(): number {
    return this.records.size;
  }

  protected recordOf(key: string): ReservationRecord | undefined {
    return this.records.get(key);
  }

  protected render(r: ReservationRecord): K8sObject {
    return render(r);
  }

  protected objectKeys(): Iterable<string> {
    return this.records.keys();
  }

  toJSON(): { reservations: ReservationRecord[] } {
    return { reservations: [...this.records.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)) };
  }

  reserve(name: string, ipVersion: IpVersion, ips: readonly string[], metadata: ObjectMeta | undefined, event: { readonly id: string; readonly at: string }): void {
    this.touch(name);
    const was = this.records.get(name);
    const changed = was === undefined || was.ipVersion !== ipVersion || was.ips.join(',') !== ips.join(',');
    this.records.set(name, { name, ipVersion, ips: [...ips], ...(metadata !== undefined ? { metadata: copyJson(metadata) } : {}), origin: nextOrigin(was?.origin, event, changed) });
  }

  unreserve(name: string): void {
    if (!this.records.has(name)) return;
    this.touch(name);
    this.records.delete(name);
  }
}

export const spiderReservedIPProjection: DocumentProjection<SpiderReservedIPs> = {
  name: 'spider-reservedip',
  version: 1,
  handles: HANDLES,
  initial: () => new SpiderReservedIPs(),
  restore: (json) => new SpiderReservedIPs(json),
  apply(state, events: readonly LoggedEvent[]) {
    for (const { event: e } of events) {
      switch (e.type) {
        case 'IPReserved':
          state.reserve(e.data.name, e.data.ipVersion, e.data.ips, e.data.metadata, e);
          break;
        case 'IPUnreserved':
          state.unreserve(e.data.name);
          break;
        default:
          break;
      }
    }
    return state;
  },
};
