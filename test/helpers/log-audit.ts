// After a run with faults: what the log holds against what clients were told.
import { checkAllocationLog, type LogCheck } from '../../src/alloc/log-check.js';
import { checkInvariants, type InvariantReport } from '../../bench/alloc/invariants.js';
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';
import type { LoggedEvent } from '../../events/catalogue.js';

export interface Audit {
  readonly events: number;
  /** Event ids seen more than once (an event written twice). */
  readonly duplicateEventIds: number;
  /** Endpoints (namespace/name/nic) with more than one IPAllocated: a retry that allocated again. */
  readonly allocatedTwice: number;
  /** Replay of the log: an address held by two endpoints at once, releases of what is not live. */
  readonly log: LogCheck;
  /** Acknowledgements vs the log: lost = acknowledged but not logged; extra = logged, never acknowledged. */
  readonly acks: InvariantReport;
}

export async function auditLog(endpoints: readonly string[], prefix: string, acks: readonly { address: string; id: string }[]): Promise<Audit> {
  const client = openEtcd({ endpoints: [...endpoints], callTimeoutMs: 30_000 });
  const store = new EventStore(client, { prefix });
  try {
    const events: LoggedEvent[] = [];
    for await (const e of store.read()) events.push(e);
    const ids = new Set<string>();
    let duplicateEventIds = 0;
    const perEndpoint = new Map<string, number>();
    const logged: { address: string; id: string }[] = [];
    for (const { event: e } of events) {
      if (ids.has(e.id)) duplicateEventIds++;
      ids.add(e.id);
      if (e.type === 'IPAllocated') {
        const ep = `${e.data.endpoint.namespace}/${e.data.endpoint.name}/${e.data.endpoint.nic}`;
        perEndpoint.set(ep, (perEndpoint.get(ep) ?? 0) + 1);
        logged.push({ address: e.data.address, id: e.data.endpoint.name });
      }
    }
    return {
      events: events.length,
      duplicateEventIds,
      allocatedTwice: [...perEndpoint.values()].filter((n) => n > 1).length,
      log: checkAllocationLog(events),
      acks: checkInvariants(acks, logged),
    };
  } finally {
    await store.close();
    client.close();
  }
}
