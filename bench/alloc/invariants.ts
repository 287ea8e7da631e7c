// Safety of an allocation run, from what callers were told (acks) and what the store holds at the end (logged).
import { openEtcd } from '../../src/store/connect.js';
import { EventStore } from '../../src/store/event-store.js';

export interface Allocation {
  address: string;
  /** Who holds it (e.g. podRef(requester, seq)). */
  id: string;
}

export interface InvariantReport {
  /** Addresses held more than once in `logged` (counted once per extra holder). */
  duplicates: number;
  /** Acknowledged allocations (address, id) that `logged` does not hold. */
  lost: number;
  /** Logged allocations (address, id) never acknowledged. */
  extra: number;
  details: string[];
}

const MAX_DETAILS = 50;

export function checkInvariants(acks: readonly Allocation[], logged: readonly Allocation[]): InvariantReport {
  const details: string[] = [];
  const note = (s: string) => {
    if (details.length < MAX_DETAILS) details.push(s);
  };
  const pair = (a: Allocation) => `${a.address}\u0000${a.id}`;

  const holders = new Map<string, string[]>();
  for (const l of logged) {
    const h = holders.get(l.address);
    if (h) h.push(l.id);
    else holders.set(l.address, [l.id]);
  }
  let duplicates = 0;
  for (const [address, ids] of holders) {
    if (ids.length > 1) {
      duplicates += ids.length - 1;
      note(`duplicate: ${address} held by ${ids.join(', ')}`);
    }
  }

  const loggedPairs = new Set(logged.map(pair));
  const ackedPairs = new Set(acks.map(pair));
  let lost = 0;
  for (const a of acks) {
    if (!loggedPairs.has(pair(a))) {
      lost++;
      const now = holders.get(a.address);
      note(`lost: ${a.address} acknowledged to ${a.id} but ${now ? `held by ${now.join(', ')}` : 'not held'}`);
    }
  }
  let extra = 0;
  for (const l of logged) {
    if (!ackedPairs.has(pair(l))) {
      extra++;
      note(`extra: ${l.address} held by ${l.id}, never acknowledged`);
    }
  }
  return { duplicates, lost, extra, details };
}

/**
 * The allocations a run's prefix logged (pods named `warm-*` left out), then the prefix's keys and etcd's history of
 * them dropped, so the next round starts from the same etcd size.
 */
export async function loggedAllocationsThenDrop(endpoints: string[], prefix: string): Promise<Allocation[]> {
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const store = new EventStore(client, { prefix });
  const logged: Allocation[] = [];
  for await (const e of store.read({ types: ['IPAllocated'] })) {
    const d = e.event.data as { address: string; endpoint: { name: string } };
    if (!d.endpoint.name.startsWith('warm-')) logged.push({ address: d.address, id: d.endpoint.name });
  }
  await client.delete().prefix(prefix);
  const rev = Number((await client.kv.range({ key: Buffer.from(prefix), count_only: true })).header.revision);
  await client.kv.compact({ revision: rev, physical: true });
  client.close();
  return logged;
}
