// A string-keyed hash map for the projections' large unordered indexes (allocation ids, a pool's addresses while it
// is flat): open addressing with linear probing and backward-shift deletion, so a delete leaves no tombstone behind.
// V8's Map keeps a deleted entry in its table until the table fills, then rebuilds it at twice the size whenever
// fewer than half its entries are deleted: under churn (pods allocated and released) a Map of 200,000 entries holds
// ~14 MB, twice what the same Map holds fresh (measured). This one holds a key, a value and the key's hash per slot,
// at most 3/4 of the slots used: 200,000 entries in 262,144 slots, ~5 MB, whatever the churn.
// A slot's key and value sit side by side in one array (its hash in a typed array beside), so a probe of a large
// table touches two cache lines, not three.
// Order: iteration visits slots in table order, a function of the insert/delete history and of the process's hash
// basis; use it where order does not matter (the trie it feeds orders by key; diagnostics). Values must not be
// undefined (undefined means absent).

import { randomBytes } from 'node:crypto';

/** Fewest slots a map keeps (a power of two). */
const MIN_SLOTS = 16;

// Keys carry names a cluster's users choose (pods, namespaces): a per-process random basis keeps anyone from
// precomputing keys that share one probe run (linear probing degrades to a scan), as V8 seeds its own string hash.
const HASH_BASIS = randomBytes(4).readInt32LE(0);

/**
 * FNV-1a over UTF-16 code units, from a per-process basis: a key's hash for get/set/delete. A caller using one key
 * twice hashes it once and passes the hash (no cache of the last key: comparing a fresh key with it cost more than
 * hashing it, a profile's ~25% of the replay's map operations).
 */
export function keyHash(key: string): number {
  let h = HASH_BASIS;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}

export class StringMap<V> {
  /** Slot i's key at 2i (undefined when empty), its value at 2i + 1. */
  private pairs: (string | V | undefined)[] = [];
  private hashes = new Int32Array(0);
  private mask = 0;
  private count = 0;

  constructor() {
    this.allocate(MIN_SLOTS);
  }

  get size(): number {
    return this.count;
  }

  /** Slots of the table (tests: the bound after deletes). */
  get slots(): number {
    return this.mask + 1;
  }

  /** `h`: keyHash(key), when the caller has it. */
  get(key: string, h = keyHash(key)): V | undefined {
    const i = this.find(key, h);
    return i < 0 ? undefined : (this.pairs[2 * i + 1] as V);
  }

  has(key: string, h = keyHash(key)): boolean {
    return this.find(key, h) >= 0;
  }

  /** Sets the value; returns the one it replaced (undefined when the key was absent). */
  set(key: string, value: V, h = keyHash(key)): V | undefined {
    const e = this.pairs;
    const hashes = this.hashes;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const k = e[2 * i];
      if (k === undefined) break;
      if (hashes[i] === h && k === key) {
        const previous = e[2 * i + 1] as V;
        e[2 * i + 1] = value;
        return previous;
      }
      i = (i + 1) & mask;
    }
    if ((this.count + 1) * 4 > (mask + 1) * 3) {
      this.resize((mask + 1) * 2);
      return this.set(key, value, h);
    }
    e[2 * i] = key;
    e[2 * i + 1] = value;
    hashes[i] = h;
    this.count++;
    return undefined;
  }

  /** Deletes the key; returns the value it had (undefined when absent). */
  delete(key: string, h = keyHash(key)): V | undefined {
    let i = this.find(key, h);
    if (i < 0) return undefined;
    const e = this.pairs;
    const previous = e[2 * i + 1] as V;
    const hashes = this.hashes;
    const mask = this.mask;
    // Backward shift: every entry after the hole whose home slot is not between the hole and it moves into the hole.
    for (let j = (i + 1) & mask; e[2 * j] !== undefined; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        e[2 * i] = e[2 * j];
        e[2 * i + 1] = e[2 * j + 1];
        hashes[i] = hashes[j]!;
        i = j;
      }
    }
    e[2 * i] = undefined;
    e[2 * i + 1] = undefined;
    this.count--;
    // Shrinks at 1/8 full, so memory follows the entries down too.
    if (this.count * 8 < mask + 1 && mask + 1 > MIN_SLOTS) this.resize((mask + 1) / 2);
    return previous;
  }

  forEach(fn: (value: V, key: string) => void): void {
    const e = this.pairs;
    for (let i = 0; i < e.length; i += 2) {
      const k = e[i];
      if (k !== undefined) fn(e[i + 1] as V, k as string);
    }
  }

  *entries(): IterableIterator<[string, V]> {
    for (let i = 0; i < this.pairs.length; i += 2) {
      const k = this.pairs[i];
      if (k !== undefined) yield [k as string, this.pairs[i + 1] as V];
    }
  }

  private find(key: string, h: number): number {
    const e = this.pairs;
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = e[2 * i];
      if (k === undefined) return -1;
      if (hashes[i] === h && k === key) return i;
    }
  }

  private allocate(slots: number): void {
    this.pairs = new Array<string | V | undefined>(2 * slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    this.mask = slots - 1;
  }

  private resize(slots: number): void {
    const old = this.pairs;
    const oldHashes = this.hashes;
    this.allocate(slots);
    const e = this.pairs;
    const mask = this.mask;
    for (let j = 0; j < oldHashes.length; j++) {
      const k = old[2 * j];
      if (k === undefined) continue;
      let i = oldHashes[j]! & mask;
      while (e[2 * i] !== undefined) i = (i + 1) & mask;
      e[2 * i] = k;
      e[2 * i + 1] = old[2 * j + 1];
      this.hashes[i] = oldHashes[j]!;
    }
  }
}
