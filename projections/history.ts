// Audit: who held an address, what a pod held, what happened in a pool — straight from the log.
import type { LoggedEvent } from '../events/catalogue.js';
import type { EventStore } from '../src/store/event-store.js';
import type { ReadOptions, ReadPage } from '../src/store/reader.js';
import type { Holding } from './holding.js';

export type { Holding } from './holding.js';

export interface HistoryQuery {
  readonly address?: string;
  /** namespace/name */
  readonly pod?: string;
  readonly pool?: string;
  readonly until?: number;
}

function matches(q: HistoryQuery, e: LoggedEvent): boolean {
  if (e.event.type !== 'IPAllocated' && e.event.type !== 'IPReleased') return false;
  const d = e.event.data;
  if (q.address !== undefined && d.address !== q.address) return false;
  if (q.pool !== undefined && d.pool !== q.pool) return false;
  if (q.pod !== undefined && `${d.endpoint.namespace}/${d.endpoint.name}` !== q.pod) return false;
  return true;
}

/** Holdings matching the query, in the order they began. */
export async function history(store: EventStore, q: HistoryQuery, pages?: (opts: ReadOptions) => AsyncGenerator<ReadPage>): Promise<Holding[]> {
  const open = new Map<string, Holding>();
  const out: Holding[] = [];
  const read = pages ?? ((o: ReadOptions) => store.readPages(o));
  for await (const page of read({ types: ['IPAllocated', 'IPReleased'], ...(q.until !== undefined ? { until: q.until } : {}) })) {
    for (const e of page.events) {
      if (!matches(q, e)) continue;
      const ev = e.event;
      if (ev.type === 'IPAllocated') {
        const d = ev.data;
        // A reuse (same endpoint takes the address again) ends the previous holding of that address.
        for (const [id, h] of open) {
          if (h.address === d.address) {
            out[out.indexOf(h)] = { ...h, until: { revision: e.revision, at: ev.at, reason: 'reused' } };
            open.delete(id);
          }
        }
        const h: Holding = {
          address: d.address,
          pool: d.pool,
          allocationId: d.allocationId,
          pod: `${d.endpoint.namespace}/${d.endpoint.name}`,
          nic: d.endpoint.nic,
          containerID: d.endpoint.containerID,
          from: { revision: e.revision, at: ev.at },
        };
        open.set(d.allocationId, h);
        out.push(h);
      } else if (ev.type === 'IPReleased') {
        const h = open.get(ev.data.allocationId);
        if (!h) continue;
        out[out.indexOf(h)] = { ...h, until: { revision: e.revision, at: ev.at, reason: ev.data.reason } };
        open.delete(ev.data.allocationId);
      }
    }
  }
  return out;
}
