// What this writer knows about coarse guard keys (blocks) from its own txns, so its pipelined txns do not conflict
// with one another on a block they share:
// - a member reading a block that a txn of ours in flight writes waits for that txn (its compare would fail);
// - a txn of ours that compared block K with bound b (mod_revision(K) <= b) and committed at r proves that K's only
//   write in (b, r] is ours, with the precise tags we know. Chained over our consecutive commits on K this gives
//   "every write to K in (since, rev] is ours". A member whose view R is in [since, rev) and none of whose precise
//   tags on K we wrote after R may then compare K with bound rev instead of R: nothing it read changed after R.
// A key deleted by tag GC reads as mod_revision 0 and would let a compare pass over writes it cannot prove; that only
// happens after a horizon move, and every conditional txn also compares the horizon with its members' raw views, so
// such a member is fenced anyway. Forgetting is always safe (the bound falls back to the view).

interface Chain {
  readonly since: number;
  readonly rev: number;
  /** Precise tag -> the revision our chain last wrote it at (at most one block's addresses). */
  readonly precise: Map<string, number>;
}

/** Blocks remembered (a few MB at most); the oldest is forgotten first. */
export const OWN_GUARDS_KEPT = 4096;

export class OwnGuardWrites {
  private readonly inflight = new Map<string, number>();
  private readonly chains = new Map<string, Chain>();

  constructor(private readonly kept = OWN_GUARDS_KEPT) {}

  get remembered(): number {
    return this.chains.size;
  }

  /** A txn of ours in flight writes `key`. */
  busy(key: string): boolean {
    return this.inflight.has(key);
  }

  /** The bound a member with view `after`, reading precise `tags` guarded by `key`, may compare `key` with. */
  bound(key: string, tags: readonly string[], after: number): number {
    const c = this.chains.get(key);
    if (c === undefined || after >= c.rev || after < c.since) return after;
    for (const t of tags) if ((c.precise.get(t) ?? 0) > after) return after;
    return c.rev;
  }

  begin(keys: Iterable<string>): void {
    for (const k of keys) this.inflight.set(k, (this.inflight.get(k) ?? 0) + 1);
  }

  end(keys: Iterable<string>): void {
    for (const k of keys) {
      const n = this.inflight.get(k) ?? 0;
      if (n <= 1) this.inflight.delete(k);
      else this.inflight.set(k, n - 1);
    }
  }

  /**
   * Our txn committed at `rev`, having compared each key in `written` with `compared.get(key)` (undefined: not
   * compared, nothing proven) and written the precise tags `written.get(key)` to it.
   */
  committed(written: ReadonlyMap<string, readonly string[]>, compared: ReadonlyMap<string, number>, rev: number): void {
    for (const [key, tags] of written) {
      const b = compared.get(key);
      const c = this.chains.get(key);
      this.chains.delete(key);
      if (b === undefined) continue;
      // Extends the chain only when this txn's bound is exactly where the chain ended: (c.rev, b] is otherwise unknown.
      const precise = c !== undefined && b === c.rev ? c.precise : new Map<string, number>();
      for (const t of tags) precise.set(t, rev);
      this.chains.set(key, { since: c !== undefined && b === c.rev ? c.since : b, rev, precise });
      if (this.chains.size > this.kept) this.chains.delete(this.chains.keys().next().value!);
    }
  }
}
