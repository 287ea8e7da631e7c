// Invariants of an allocation log, checked by replaying it in order: no address held by two endpoints at once,
// every release names an allocation that is live. Used by tests, benchmarks and (later) `ipam check`.
import type { LoggedEvent } from '../../events/catalogue.js';
import { DEFAULT_SCOPE } from '../../events/tags.js';

export interface LogCheck {
  /** An address given to one endpoint while another still held it. */
  readonly duplicates: number;
  /** A release of an allocation that was not live. */
  readonly badReleases: number;
  /** Allocations live at the end of the log. */
  readonly live: number;
  /** The first problems, one line each. */
  readonly details: string[];
}

export function checkAllocationLog(events: Iterable<LoggedEvent>, maxDetails = 50): LogCheck {
  const details: string[] = [];
  const note = (s: string) => details.length < maxDetails && details.push(s);
  let duplicates = 0;
  let badReleases = 0;
  const scopeOf = new Map<string, string>();
  // `${scope}/${address}` -> holder; the same endpoint taking its address again (reuse) is not a duplicate.
  const holder = new Map<string, { id: string; ep: string }>();
  const live = new Set<string>();
  for (const { event: e } of events) {
    if (e.type === 'PoolDefined' || e.type === 'PoolChanged') {
      scopeOf.set(e.data.name, e.data.spec.scope ?? DEFAULT_SCOPE);
    } else if (e.type === 'IPAllocated') {
      const d = e.data;
      const ep = `${d.endpoint.namespace}/${d.endpoint.name}/${d.endpoint.nic}`;
      const key = `${scopeOf.get(d.pool) ?? DEFAULT_SCOPE}/${d.address}`;
      const h = holder.get(key);
      if (h && h.ep !== ep) {
        duplicates++;
        note(`${d.address} given to ${ep} while held by ${h.ep}`);
      }
      if (h) live.delete(h.id);
      holder.set(key, { id: d.allocationId, ep });
      live.add(d.allocationId);
    } else if (e.type === 'IPReleased') {
      const d = e.data;
      if (!live.has(d.allocationId)) {
        badReleases++;
        note(`release of ${d.allocationId} (${d.address}) which is not live`);
      }
      live.delete(d.allocationId);
      const key = `${scopeOf.get(d.pool) ?? DEFAULT_SCOPE}/${d.address}`;
      if (holder.get(key)?.id === d.allocationId) holder.delete(key);
    }
  }
  return { duplicates, badReleases, live: live.size, details };
}
