// Safety of an allocation run, from what callers were told (acks) and what the store holds at the end (logged).

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
