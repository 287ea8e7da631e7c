// A persistent string-keyed map (a hash array mapped trie) with transient edits: updates mutate the nodes created
// since the last snapshot in place, and copy only the path to a key (O(log n)) when a snapshot shares it. So a
// replay pays for plain in-place updates, and a live projection can hand out a pool's allocations as of a batch in
// O(1) (snapshot) while the next batch changes them in O(changed · log n), never copying the whole pool.
// Iteration order is a function of the key set alone (hash order; colliding keys sorted), so two maps with the same
// entries, however they were built, list them in the same order.

import { StringMap } from './string-map.js';

type Edit = object;

interface Node<V> {
  edit: Edit;
  /** Bits (of the 5-bit hash digit at this level) that hold an entry here; 0 in a collision node. */
  dataMap: number;
  /** Bits that hold a subnode. */
  nodeMap: number;
  keys: string[];
  vals: V[];
  kids: Node<V>[];
  /** Keys whose 32-bit hashes are equal (below the last level): kept sorted by key. */
  collision: boolean;
}

const BITS = 5;
const MASK = 31;

/** FNV-1a over UTF-16 code units. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 63;
}

const index = (map: number, bit: number): number => popcount(map & (bit - 1));

function node<V>(edit: Edit, dataMap: number, nodeMap: number, keys: string[], vals: V[], kids: Node<V>[], collision = false): Node<V> {
  return { edit, dataMap, nodeMap, keys, vals, kids, collision };
}

/** Diagnostics: nodes copied because a snapshot shared them (tests show updates copy O(log n), not O(n)). */
export const mapStats = { copies: 0 };

function editable<V>(n: Node<V>, edit: Edit): Node<V> {
  if (n.edit === edit) return n;
  mapStats.copies++;
  return node(edit, n.dataMap, n.nodeMap, n.keys.slice(), n.vals.slice(), n.kids.slice(), n.collision);
}

/** A node holding two entries whose hashes agree below `shift`. */
function pair<V>(edit: Edit, k1: string, h1: number, v1: V, k2: string, h2: number, v2: V, shift: number): Node<V> {
  if (shift >= 32) return k1 < k2 ? node(edit, 0, 0, [k1, k2], [v1, v2], [], true) : node(edit, 0, 0, [k2, k1], [v2, v1], [], true);
  const b1 = 1 << ((h1 >>> shift) & MASK);
  const b2 = 1 << ((h2 >>> shift) & MASK);
  if (b1 === b2) return node(edit, 0, b1, [], [], [pair(edit, k1, h1, v1, k2, h2, v2, shift + BITS)]);
  return b1 >>> 0 < b2 >>> 0 ? node(edit, b1 | b2, 0, [k1, k2], [v1, v2], []) : node(edit, b1 | b2, 0, [k2, k1], [v2, v1], []);
}

// In-place insert/remove (Array.prototype.splice allocates its result on every call).
function insertAt<T>(a: T[], i: number, v: T): void {
  a.push(v);
  for (let j = a.length - 1; j > i; j--) a[j] = a[j - 1]!;
  a[i] = v;
}

function removeAt<T>(a: T[], i: number): void {
  for (let j = i; j < a.length - 1; j++) a[j] = a[j + 1]!;
  a.pop();
}

/** Result of one set/delete, shared to avoid allocating per call: whether the size changed, and the previous value. */
const flag: { changed: boolean; previous: unknown } = { changed: false, previous: undefined };

function setIn<V>(n: Node<V>, edit: Edit, key: string, hash: number, val: V, shift: number): Node<V> {
  if (n.collision) {
    let i = 0;
    while (i < n.keys.length && n.keys[i]! < key) i++;
    if (n.keys[i] === key) {
      flag.previous = n.vals[i];
      if (n.vals[i] === val) return n;
      const m = editable(n, edit);
      m.vals[i] = val;
      return m;
    }
    const m = editable(n, edit);
    insertAt(m.keys, i, key);
    insertAt(m.vals, i, val);
    flag.changed = true;
    return m;
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  if (n.dataMap & bit) {
    const i = index(n.dataMap, bit);
    const k = n.keys[i]!;
    if (k === key) {
      flag.previous = n.vals[i];
      if (n.vals[i] === val) return n;
      const m = editable(n, edit);
      m.vals[i] = val;
      return m;
    }
    const sub = pair(edit, k, hashOf(k), n.vals[i]!, key, hash, val, shift + BITS);
    const m = editable(n, edit);
    removeAt(m.keys, i);
    removeAt(m.vals, i);
    m.dataMap ^= bit;
    m.nodeMap |= bit;
    insertAt(m.kids, index(m.nodeMap, bit), sub);
    flag.changed = true;
    return m;
  }
  if (n.nodeMap & bit) {
    const j = index(n.nodeMap, bit);
    const kid = n.kids[j]!;
    const next = setIn(kid, edit, key, hash, val, shift + BITS);
    if (next === kid) return n;
    const m = editable(n, edit);
    m.kids[j] = next;
    return m;
  }
  const m = editable(n, edit);
  const i = index(n.dataMap, bit);
  insertAt(m.keys, i, key);
  insertAt(m.vals, i, val);
  m.dataMap |= bit;
  flag.changed = true;
  return m;
}

/** The node without `key`; undefined when it ends up empty. */
function deleteIn<V>(n: Node<V>, edit: Edit, key: string, hash: number, shift: number): Node<V> | undefined {
  if (n.collision) {
    const i = n.keys.indexOf(key);
    if (i < 0) return n;
    flag.changed = true;
    flag.previous = n.vals[i];
    if (n.keys.length === 1) return undefined;
    const m = editable(n, edit);
    removeAt(m.keys, i);
    removeAt(m.vals, i);
    return m;
  }
  const bit = 1 << ((hash >>> shift) & MASK);
  if (n.dataMap & bit) {
    const i = index(n.dataMap, bit);
    if (n.keys[i] !== key) return n;
    flag.changed = true;
    flag.previous = n.vals[i];
    if (n.keys.length === 1 && n.nodeMap === 0) return undefined;
    const m = editable(n, edit);
    removeAt(m.keys, i);
    removeAt(m.vals, i);
    m.dataMap ^= bit;
    return m;
  }
  if (n.nodeMap & bit) {
    const j = index(n.nodeMap, bit);
    const kid = n.kids[j]!;
    const next = deleteIn(kid, edit, key, hash, shift + BITS);
    if (next === kid) return n;
    if (next === undefined && n.kids.length === 1 && n.dataMap === 0) return undefined;
    const m = editable(n, edit);
    if (next === undefined) {
      removeAt(m.kids, j);
      m.nodeMap ^= bit;
    } else {
      m.kids[j] = next;
    }
    return m;
  }
  return n;
}

function getIn<V>(root: Node<V>, key: string): V | undefined {
  const hash = hashOf(key);
  let n = root;
  for (let shift = 0; ; shift += BITS) {
    if (n.collision) {
      const i = n.keys.indexOf(key);
      return i < 0 ? undefined : n.vals[i];
    }
    const bit = 1 << ((hash >>> shift) & MASK);
    if (n.dataMap & bit) {
      const i = index(n.dataMap, bit);
      return n.keys[i] === key ? n.vals[i] : undefined;
    }
    if (!(n.nodeMap & bit)) return undefined;
    n = n.kids[index(n.nodeMap, bit)]!;
  }
}

/** Visits entries in hash order: per node, bit by bit, an entry or the subnode at that bit. */
function forEachIn<V>(n: Node<V>, fn: (value: V, key: string) => void): void {
  if (n.collision) {
    for (let i = 0; i < n.keys.length; i++) fn(n.vals[i]!, n.keys[i]!);
    return;
  }
  let i = 0;
  let j = 0;
  for (let bits = n.dataMap | n.nodeMap; bits !== 0; bits &= bits - 1) {
    const bit = bits & -bits;
    if (n.dataMap & bit) fn(n.vals[i]!, n.keys[i++]!);
    else forEachIn(n.kids[j++]!, fn);
  }
}

/** An immutable view of a map at one moment. */
export class MapSnapshot<V> {
  constructor(
    private readonly root: Node<V>,
    readonly size: number,
  ) {}

  get(key: string): V | undefined {
    return getIn(this.root, key);
  }

  forEach(fn: (value: V, key: string) => void): void {
    forEachIn(this.root, fn);
  }
}

export class PersistentMap<V> {
  private edit: Edit = {};
  private root: Node<V> = node(this.edit, 0, 0, [], [], []);
  private count = 0;
  private shared: MapSnapshot<V> | undefined;
  /**
   * Until the first snapshot or ordered walk, entries live in a flat hash map (string-map.ts: no tombstones, so a
   * replay's churn does not double it): no one can see a state in between, and a replay's updates then cost one
   * hash lookup instead of a trie walk. Moved into the trie once, for good (the trie orders by key, not by history).
   */
  private flat: StringMap<V> | undefined = new StringMap();

  get size(): number {
    return this.count;
  }

  get(key: string): V | undefined {
    return this.flat !== undefined ? this.flat.get(key) : getIn(this.root, key);
  }

  /** Sets the value; returns the one it replaced (undefined when the key was absent). */
  set(key: string, value: V): V | undefined {
    if (this.flat !== undefined) {
      const previous = this.flat.set(key, value);
      this.count = this.flat.size;
      return previous;
    }
    flag.changed = false;
    flag.previous = undefined;
    const root = setIn(this.root, this.edit, key, hashOf(key), value, 0);
    if (flag.changed) this.count++;
    this.changed(root);
    return flag.previous as V | undefined;
  }

  /** Deletes the key; returns the value it had (undefined when absent). */
  delete(key: string): V | undefined {
    if (this.flat !== undefined) {
      const previous = this.flat.delete(key);
      this.count = this.flat.size;
      return previous;
    }
    flag.changed = false;
    flag.previous = undefined;
    const root = deleteIn(this.root, this.edit, key, hashOf(key), 0) ?? node(this.edit, 0, 0, [], [], []);
    if (!flag.changed) return undefined;
    this.count--;
    this.changed(root);
    return flag.previous as V;
  }

  /** Visits the entries in hash order (a function of the keys alone). */
  forEach(fn: (value: V, key: string) => void): void {
    this.intoTrie();
    forEachIn(this.root, fn);
  }

  /** The map as it is now, unaffected by later updates: O(1); the next update of a shared path copies it. */
  snapshot(): MapSnapshot<V> {
    this.intoTrie();
    if (this.shared === undefined) {
      this.shared = new MapSnapshot(this.root, this.count);
      this.edit = {}; // every existing node now belongs to the snapshot
    }
    return this.shared;
  }

  private intoTrie(): void {
    const flat = this.flat;
    if (flat === undefined) return;
    this.flat = undefined;
    let root = this.root;
    flat.forEach((value, key) => (root = setIn(root, this.edit, key, hashOf(key), value, 0)));
    this.root = root;
  }

  private changed(root: Node<V>): void {
    this.root = root;
    this.shared = undefined;
  }
}
