// A string-keyed hash map for the projections' large unordered indexes (allocation ids, a pool's addresses while it
// is flat): open addressing with linear probing and backward-shift deletion, so a delete leaves no tombstone behind.
// V8's Map keeps a deleted entry in its table until the table fills, then rebuilds it at twice the size whenever
// fewer than half its entries are deleted: under churn (pods allocated and released) a Map of 200,000 entries holds
// ~14 MB, twice what the same Map holds fresh (measured). This one holds a key, a value and the key's hash per slot,
// at most 3/4 of the slots used: 200,000 entries in 262,144 slots, ~5 MB, whatever the churn.
// Order: iteration visits slots in table order, a function of the insert/delete history and of the process's hash
// basis; use it where order does not matter (the trie it feeds orders by key; diagnostics). Values must not be
// undefined (undefined means absent).

import { randomBytes } from 'node:crypto';

/** Fewest slots a map keeps (a power of two). */
const MIN_SLOTS = 16;

// Keys carry names a cluster's users choose (pods, namespaces): a per-process random basis keeps anyone from
// precomputing keys that share one probe run (linear probing degrades to a scan), as V8 seeds its own string hash.
const HASH_BASIS = randomBytes(4).readInt32LE(0);

/** FNV-1a over UTF-16 code units, from a per-process basis. */
function hashOf(key: string): number {
  let h = HASH_BASIS;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h | 0;
}

// The last key hashed and its hash: an index usually looks a key up and then sets or deletes it.
let lastKey = '';
let lastHash = hashOf('');

function hashed(key: string): number {
  if (key !== lastKey) {
    lastHash = hashOf(key);
    lastKey = key;
  }
  return lastHash;
}

export class StringMap<V> {
  private keys: (string | undefined)[] = [];
  private vals: (V | undefined)[] = [];
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

  get(key: string): V | undefined {
    const i = this.find(key, hashed(key));
    return i < 0 ? undefined : this.vals[i];
  }

  has(key: string): boolean {
    return this.find(key, hashed(key)) >= 0;
  }

  /** Sets the value; returns the one it replaced (undefined when the key was absent). */
  set(key: string, value: V): V | undefined {
    const h = hashed(key);
    const keys = this.keys;
    const mask = this.mask;
    let i = h & mask;
    for (;;) {
      const k = keys[i];
      if (k === undefined) break;
      if (this.hashes[i] === h && k === key) {
        const previous = this.vals[i];
        this.vals[i] = value;
        return previous;
      }
      i = (i + 1) & mask;
    }
    if ((this.count + 1) * 4 > (mask + 1) * 3) {
      this.resize((mask + 1) * 2);
      return this.set(key, value);
    }
    keys[i] = key;
    this.vals[i] = value;
    this.hashes[i] = h;
    this.count++;
    return undefined;
  }

  /** Deletes the key; returns the value it had (undefined when absent). */
  delete(key: string): V | undefined {
    let i = this.find(key, hashed(key));
    if (i < 0) return undefined;
    const previous = this.vals[i];
    const keys = this.keys;
    const vals = this.vals;
    const hashes = this.hashes;
    const mask = this.mask;
    // Backward shift: every entry after the hole whose home slot is not between the hole and it moves into the hole.
    for (let j = (i + 1) & mask; keys[j] !== undefined; j = (j + 1) & mask) {
      const home = hashes[j]! & mask;
      if (((j - home) & mask) >= ((j - i) & mask)) {
        keys[i] = keys[j];
        vals[i] = vals[j];
        hashes[i] = hashes[j]!;
        i = j;
      }
    }
    keys[i] = undefined;
    vals[i] = undefined;
    this.count--;
    // Shrinks at 1/8 full, so memory follows the entries down too.
    if (this.count * 8 < mask + 1 && mask + 1 > MIN_SLOTS) this.resize((mask + 1) / 2);
    return previous;
  }

  forEach(fn: (value: V, key: string) => void): void {
    const keys = this.keys;
    const vals = this.vals;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i];
      if (k !== undefined) fn(vals[i] as V, k);
    }
  }

  *entries(): IterableIterator<[string, V]> {
    for (let i = 0; i < this.keys.length; i++) {
      const k = this.keys[i];
      if (k !== undefined) yield [k, this.vals[i] as V];
    }
  }

  private find(key: string, h: number): number {
    const keys = this.keys;
    const hashes = this.hashes;
    const mask = this.mask;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === undefined) return -1;
      if (hashes[i] === h && k === key) return i;
    }
  }

  private allocate(slots: number): void {
    this.keys = new Array<string | undefined>(slots).fill(undefined);
    this.vals = new Array<V | undefined>(slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    this.mask = slots - 1;
  }

  private resize(slots: number): void {
    const keys = this.keys;
    const vals = this.vals;
    const hashes = this.hashes;
    this.allocate(slots);
    const mask = this.mask;
    for (let j = 0; j < keys.length; j++) {
      const k = keys[j];
      if (k === undefined) continue;
      let i = hashes[j]! & mask;
      while (this.keys[i] !== undefined) i = (i + 1) & mask;
      this.keys[i] = k;
      this.vals[i] = vals[j];
      this.hashes[i] = hashes[j]!;
    }
  }
}
