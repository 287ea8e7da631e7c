// The bytes of one commit record (one etcd value under <prefix>log/), in two formats that every reader takes:
//   format 1 (every record before 2026-12-01): a JSON array of event envelopes, `[{"id":…,"type":…,…},…]`;
//   format 2: `{"f":2,"m":[CHUNK,…]}`, one CHUNK per group-committed append (member), `[S,E]` or `[S,E,G]`:
//     S  the member's distinct strings, each once (an endpoint's names are shared by its v4 and v6 events);
//     E  a flat array of integers, event after event, each starting with its layout (below): strings are indices
//        into S, numbers are themselves, -1 is "absent";
//     G  events in format 1's envelope form, for layout 0 (every type and shape the compact layouts do not cover).
// Layouts (the layout fixes the type AND its data version; a new version gets a new layout, old ones stay):
//   0  G[g]                                            any event, as format 1 writes it
//   1  IPAllocated v2: id at nTags tag… allocationId pool ipVersion address prefixLength namespace name uid
//      containerID node nic ownerKind(-1) [ownerName] gateway(-1) vlan(-1) nRoutes (dst gw)…
//   2  IPReleased v1: id at nTags tag… allocationId pool address reason namespace name nic containerID
//   3  IPAllocated v2 as layout 1, its tags last and derived: id at allocationId … nRoutes (dst gw)… nTags code…
//   4  IPReleased v1 as layout 2, its tags last and derived: id at allocationId … containerID nTags code…
//      A tag code is a string index, or one of the engine's tags rebuilt from the event's own fields (events/tags.ts):
//      -2 ep:<namespace>/<name>/<nic>, -3 pool:<pool>, -4 S ip:<S>/<address> (S: the scope's string). An engine event's
//      three tags then cost 2 ints and no strings (they were ~a quarter of a record's bytes, each a string to make).
//   Layouts 1 and 2 are still read (records written before 2026-12-02); the encoder writes 3 and 4.
// Both are text (valid UTF-8), so an archive segment keeps a format-2 record as it keeps a format-1 one. Decoding
// rebuilds each event with its keys in the order the engine writes them; an event whose keys are not exactly a
// layout's (extra fields, another order, reason/adoptedFrom, metadata) is written with layout 0, so every event
// reads back equal to what was appended, key order included. The store's codec (codec.ts) then validates and
// upcasts the rebuilt envelopes as it always did: format is about bytes, versions are about data.
import type { EventEnvelope } from './envelope.js';
import { scanFormat2 } from './record-scan.js';

export const RECORD_FORMAT = 2;

/** A record this build cannot read (a newer format, or not a record at all). */
export class RecordFormatError extends Error {}

const L_GENERIC = 0;
const L_ALLOCATED = 1;
const L_RELEASED = 2;
const L_ALLOCATED_DERIVED_TAGS = 3;
const L_RELEASED_DERIVED_TAGS = 4;

// Tag codes of layouts 3 and 4 (a string index otherwise). Their shapes are part of the format, spelled out here
// and not taken from events/tags.ts: a record must read back as written even if Tag's spelling changes one day (a
// tag of another shape is then simply written as a string; test/record-codec-bytes checks Tag's shapes are coded).
const TAG_ENDPOINT = -2;
const TAG_POOL = -3;
const TAG_IP = -4;
const SLASH = 0x2f;

/** `t` is head + a + '/' + b + '/' + c (the endpoint tag's shape), compared without building it. */
function joined3(t: string, head: string, a: string, b: string, c: string): boolean {
  const i = head.length + a.length;
  const j = i + 1 + b.length;
  return t.length === j + 1 + c.length && t.startsWith(head) && t.startsWith(a, head.length) && t.charCodeAt(i) === SLASH && t.startsWith(b, i + 1) && t.charCodeAt(j) === SLASH && t.endsWith(c);
}

const ENVELOPE = ['id', 'type', 'v', 'at', 'tags', 'data'] as const;
const ALLOC_DATA = ['allocationId', 'pool', 'ipVersion', 'address', 'prefixLength', 'endpoint', 'gateway', 'vlan', 'routes'] as const;
const ENDPOINT = ['namespace', 'name', 'uid', 'containerID', 'node', 'nic', 'owner'] as const;
const OWNER = ['kind', 'name'] as const;
const ROUTE = ['dst', 'gw'] as const;
const RELEASE_DATA = ['allocationId', 'pool', 'address', 'reason', 'endpoint'] as const;
const RELEASE_ENDPOINT = ['namespace', 'name', 'nic', 'containerID'] as const;

/** Own keys of `o` are, in this order, the first `required` of `order` and then any of the rest; none undefined. */
function keysIn(o: unknown, order: readonly string[], required: number): o is Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o) || Object.getPrototypeOf(o) !== Object.prototype) return false;
  let i = 0;
  for (const k in o) {
    while (i < order.length && order[i] !== k) {
      if (i < required) return false;
      i++;
    }
    if (i === order.length || (o as Record<string, unknown>)[k] === undefined) return false;
    i++;
  }
  return i >= required;
}

const isStr = (v: unknown): v is string => typeof v === 'string';
const isTags = (v: unknown): v is string[] => Array.isArray(v) && v.every(isStr);

/** Distinct strings looked up by a linear scan up to here (a member's usual ~14), by a Map past it. */
const SCAN_STRINGS = 24;

class ChunkWriter {
  readonly strings: string[] = [];
  readonly ints: number[] = [];
  readonly generic: unknown[] = [];
  /** Made only once the strings outgrow a scan (a Map per member cost ~1 µs of the ~5 µs encoding). */
  private index: Map<string, number> | undefined;

  s(v: string): void {
    const strings = this.strings;
    let i: number | undefined;
    if (this.index === undefined) {
      const n = strings.length;
      for (let j = 0; j < n; j++) {
        if (strings[j] === v) {
          this.ints.push(j);
          return;
        }
      }
      if (n === SCAN_STRINGS) {
        this.index = new Map();
        for (let j = 0; j < n; j++) this.index.set(strings[j]!, j);
      }
    } else i = this.index.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      this.index?.set(v, i);
    }
    this.ints.push(i);
  }

  /** Layouts 3 and 4: a tag the event's own fields make is a code (see the top of this file), any other a string. */
  derivedTags(t: readonly string[], address: string, pool: string, namespace: string, name: string, nic: string): void {
    this.ints.push(t.length);
    for (const x of t) {
      if (joined3(x, 'ep:', namespace, name, nic)) this.ints.push(TAG_ENDPOINT);
      else if (x.length === 5 + pool.length && x.startsWith('pool:') && x.endsWith(pool)) this.ints.push(TAG_POOL);
      else if (x.length >= 4 + address.length && x.startsWith('ip:') && x.endsWith(address) && x.charCodeAt(x.length - address.length - 1) === SLASH) {
        this.ints.push(TAG_IP);
        this.s(x.slice(3, x.length - address.length - 1));
      } else this.s(x);
    }
  }

  optS(v: unknown): void {
    if (v === undefined) this.ints.push(-1);
    else this.s(v as string);
  }

  /** `[S,E]` or `[S,E,G]`: one JSON.stringify of the array is the same text as the parts joined, made in one pass. */
  text(): string {
    return JSON.stringify(this.generic.length > 0 ? [this.strings, this.ints, this.generic] : [this.strings, this.ints]);
  }
}

function allocatedFits(e: EventEnvelope): boolean {
  const d = e.data as Record<string, unknown>;
  if (!keysIn(d, ALLOC_DATA, 6) || !isStr(d.allocationId) || !isStr(d.pool) || (d.ipVersion !== 4 && d.ipVersion !== 6) || !isStr(d.address)) return false;
  if (!Number.isSafeInteger(d.prefixLength) || (d.prefixLength as number) < 0) return false;
  if (d.gateway !== undefined && !isStr(d.gateway)) return false;
  if (d.vlan !== undefined && (!Number.isSafeInteger(d.vlan) || (d.vlan as number) < 0)) return false;
  if (d.routes !== undefined && !(Array.isArray(d.routes) && d.routes.every((r) => keysIn(r, ROUTE, 2) && isStr(r.dst) && isStr(r.gw)))) return false;
  const p = d.endpoint;
  if (!keysIn(p, ENDPOINT, 6) || !isStr(p.namespace) || !isStr(p.name) || !isStr(p.uid) || !isStr(p.containerID) || !isStr(p.node) || !isStr(p.nic)) return false;
  return p.owner === undefined || (keysIn(p.owner, OWNER, 2) && isStr(p.owner.kind) && isStr(p.owner.name));
}

function releasedFits(e: EventEnvelope): boolean {
  const d = e.data as Record<string, unknown>;
  if (!keysIn(d, RELEASE_DATA, 5) || !isStr(d.allocationId) || !isStr(d.pool) || !isStr(d.address) || !isStr(d.reason)) return false;
  const p = d.endpoint;
  return keysIn(p, RELEASE_ENDPOINT, 4) && isStr(p.namespace) && isStr(p.name) && isStr(p.nic) && isStr(p.containerID);
}

function envelopeFits(e: EventEnvelope, v: number): boolean {
  return keysIn(e, ENVELOPE, 6) && e.v === v && isStr(e.id) && isStr(e.at) && isTags(e.tags);
}

/** One member's events as a format-2 chunk (see the top of this file). */
export function encodeChunk(events: readonly EventEnvelope[]): string {
  const w = new ChunkWriter();
  for (const e of events) {
    if (e.type === 'IPAllocated' && envelopeFits(e, 2) && allocatedFits(e)) {
      const d = e.data as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const p = d.endpoint;
      w.ints.push(L_ALLOCATED_DERIVED_TAGS);
      w.s(e.id);
      w.s(e.at);
      w.s(d.allocationId);
      w.s(d.pool);
      w.ints.push(d.ipVersion);
      w.s(d.address);
      w.ints.push(d.prefixLength);
      w.s(p.namespace);
      w.s(p.name);
      w.s(p.uid);
      w.s(p.containerID);
      w.s(p.node);
      w.s(p.nic);
      if (p.owner === undefined) w.ints.push(-1);
      else {
        w.s(p.owner.kind);
        w.s(p.owner.name);
      }
      w.optS(d.gateway);
      w.ints.push(d.vlan ?? -1);
      const routes = (d.routes ?? []) as { dst: string; gw: string }[];
      w.ints.push(d.routes === undefined ? -1 : routes.length);
      for (const r of routes) {
        w.s(r.dst);
        w.s(r.gw);
      }
      w.derivedTags(e.tags, d.address, d.pool, p.namespace, p.name, p.nic);
    } else if (e.type === 'IPReleased' && envelopeFits(e, 1) && releasedFits(e)) {
      const d = e.data as unknown as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const p = d.endpoint;
      w.ints.push(L_RELEASED_DERIVED_TAGS);
      w.s(e.id);
      w.s(e.at);
      w.s(d.allocationId);
      w.s(d.pool);
      w.s(d.address);
      w.s(d.reason);
      w.s(p.namespace);
      w.s(p.name);
      w.s(p.nic);
      w.s(p.containerID);
      w.derivedTags(e.tags, d.address, d.pool, p.namespace, p.name, p.nic);
    } else {
      w.ints.push(L_GENERIC, w.generic.length);
      w.generic.push(e);
    }
  }
  return w.text();
}

export type RecordFormat = 1 | 2;

const HEAD = `{"f":${RECORD_FORMAT},"m":[`;
/** Bytes of a format-2 record's framing around its chunks. */
const RECORD_OVERHEAD = HEAD.length + 2;

/**
 * One append's (member's) events encoded once, for the record whichever members share it: format 2 one chunk,
 * format 1 each event's JSON. `bytes` bounds what the member adds to a record (framing counted on every member).
 */
export function encodeMember(events: readonly EventEnvelope[], format: RecordFormat): { encoded: string[]; bytes: number } {
  if (format === 1) {
    const encoded = events.map((e) => JSON.stringify(e));
    return { encoded, bytes: encoded.reduce((n, s) => n + s.length + 1, 0) };
  }
  const chunk = encodeChunk(events);
  return { encoded: [chunk], bytes: chunk.length + 1 + RECORD_OVERHEAD };
}

/** A record's value from its members' encodings (encodeMember), in order; the members share one format. */
export function recordValue(members: readonly { readonly format: RecordFormat; readonly encoded: readonly string[] }[]): Buffer {
  const body: string[] = [];
  for (const m of members) for (const s of m.encoded) body.push(s);
  return Buffer.from(members[0]?.format === 1 ? `[${body.join(',')}]` : `${HEAD}${body.join(',')}]}`);
}

/** A whole record (one member) in format 2: what the store writes for these events. */
export function encodeRecord(events: readonly EventEnvelope[]): Buffer {
  return recordValue([{ format: 2, ...encodeMember(events, 2) }]);
}

/** A format-1 record (as every store before format 2 wrote): for tests and tools that need the old bytes. */
export function encodeRecordV1(events: readonly EventEnvelope[]): Buffer {
  return Buffer.from(JSON.stringify(events));
}

/** A record's events in envelope form, not validated by the codec yet. */
export interface DecodedRecord {
  readonly events: unknown[];
  /**
   * Format 2: 1 where the event came from a compact layout and passed the checks the codec would make (types hold
   * by construction; ids, ipVersion and reason are checked here), 0 where the codec must look (layout 0, or a value
   * it would refuse: it then reports which). Undefined for format 1.
   */
  readonly checked: ArrayLike<number> | undefined;
}

/**
 * The events of a record: format 1 as parsed, format 2 rebuilt. Throws RecordFormatError for a value that is
 * neither (or a newer format, or a chunk that breaks the layout), SyntaxError for bad JSON.
 */
export function decodeRecordValue(value: Buffer): DecodedRecord {
  const first = value[0];
  if (first === 0x5b /* [ */) {
    const raw: unknown = JSON.parse(value.toString());
    if (!Array.isArray(raw)) throw new RecordFormatError('record must be a JSON array of events');
    return { events: raw, checked: undefined };
  }
  if (first !== 0x7b /* { */) throw new RecordFormatError('record is neither a JSON array of events (format 1) nor a format-2 object');
  const scanned = scanFormat2(value);
  if (scanned !== undefined) {
    const events: unknown[] = [];
    const flags: number[] = [];
    const { bounds, strings, ints } = scanned;
    for (let c = 0; c < scanned.count; c++) rebuildChunk(strings, bounds[4 * c]!, bounds[4 * c + 1]!, ints, bounds[4 * c + 2]!, bounds[4 * c + 3]!, NO_EVENTS, events, flags);
    return { events, checked: flags };
  }
  const rec = JSON.parse(value.toString()) as { f?: unknown; m?: unknown };
  if (rec.f !== RECORD_FORMAT) {
    throw new RecordFormatError(typeof rec.f === 'number' && rec.f > RECORD_FORMAT ? `record format ${rec.f} is newer than this build reads (${RECORD_FORMAT}); upgrade` : `record format ${JSON.stringify(rec.f)} unknown`);
  }
  if (!Array.isArray(rec.m)) throw new RecordFormatError('format-2 record: m must be an array of chunks');
  const events: unknown[] = [];
  const flags: number[] = [];
  for (const c of rec.m as unknown[]) decodeChunk(c, events, flags);
  return { events, checked: flags };
}

const RELEASE_REASONS: ReadonlySet<string> = new Set(['cni-del', 'pod-gone', 'orphan', 'admin']);

function decodeChunk(c: unknown, out: unknown[], checked: number[]): void {
  if (!Array.isArray(c) || c.length < 2 || c.length > 3 || !Array.isArray(c[0]) || !Array.isArray(c[1]) || (c.length === 3 && !Array.isArray(c[2]))) {
    throw new RecordFormatError('format-2 record: a chunk must be [strings, ints] or [strings, ints, events]');
  }
  const S = c[0] as unknown[];
  const E = c[1] as number[];
  const G = (c[2] ?? []) as unknown[];
  for (const s of S) if (typeof s !== 'string') throw new RecordFormatError('format-2 record: chunk strings must be strings');
  rebuildChunk(S as string[], 0, S.length, E, 0, E.length, G, out, checked);
}

const NO_EVENTS: readonly unknown[] = [];
const NO_TAGS: string[] = [];

/**
 * A chunk's events from its strings S[sFrom, sTo), ints E[from, to) and layout-0 events G (shapes checked; contents
 * checked here).
 */
function rebuildChunk(S: readonly string[], sFrom: number, sTo: number, E: ArrayLike<number>, from: number, to: number, G: readonly unknown[], out: unknown[], checked: number[]): void {
  const strings = sTo - sFrom;
  const n = to;
  let i = from;
  const int = (): number => {
    if (i >= n) throw new RecordFormatError('format-2 record: chunk ends inside an event');
    const v = E[i++]!;
    if (!Number.isSafeInteger(v)) throw new RecordFormatError('format-2 record: chunk ints must be integers');
    // A small int as a small integer (the scan's ints are doubles): fields holding it then need no boxed number.
    return (v | 0) === v && (v !== 0 || 1 / v > 0) ? v | 0 : v;
  };
  const str = (): string => {
    const k = int();
    if (k < 0 || k >= strings) throw new RecordFormatError(`format-2 record: string ${k} out of range`);
    return S[sFrom + k] as string;
  };
  const optStr = (): string | undefined => {
    const k = int();
    if (k === -1) return undefined;
    if (k < 0 || k >= strings) throw new RecordFormatError(`format-2 record: string ${k} out of range`);
    return S[sFrom + k] as string;
  };
  const tags = (): string[] => {
    const t = new Array<string>(int());
    for (let j = 0; j < t.length; j++) t[j] = str();
    return t;
  };
  // Layouts 3 and 4: the engine's tags made from the event's fields (concatenations V8 keeps unflattened until read).
  const derivedTags = (address: string, pool: string, namespace: string, name: string, nic: string): string[] => {
    const t = new Array<string>(int());
    for (let j = 0; j < t.length; j++) {
      const k = int();
      if (k >= 0) {
        if (k >= strings) throw new RecordFormatError(`format-2 record: string ${k} out of range`);
        t[j] = S[sFrom + k] as string;
      } else if (k === TAG_ENDPOINT) t[j] = `ep:${namespace}/${name}/${nic}`;
      else if (k === TAG_POOL) t[j] = `pool:${pool}`;
      else if (k === TAG_IP) t[j] = `ip:${str()}/${address}`;
      else throw new RecordFormatError(`format-2 record: unknown tag code ${k}`);
    }
    return t;
  };
  // The previous event's endpoint, reused when the next one names the same strings (a pod's v4 and v6 events).
  let lastEp: { namespace: string; name: string; uid: string; containerID: string; node: string; nic: string; owner?: { kind: string; name: string } } | undefined;
  while (i < n) {
    const layout = int();
    if (layout === L_ALLOCATED || layout === L_ALLOCATED_DERIVED_TAGS) {
      const last = layout === L_ALLOCATED_DERIVED_TAGS;
      const id = str();
      const at = str();
      let t = last ? NO_TAGS : tags();
      const allocationId = str();
      const pool = str();
      const ipVersion = int();
      const address = str();
      const prefixLength = int();
      const namespace = str();
      const name = str();
      const uid = str();
      const containerID = str();
      const node = str();
      const nic = str();
      const kind = optStr();
      let endpoint;
      if (kind === undefined) {
        endpoint =
          lastEp !== undefined && lastEp.namespace === namespace && lastEp.name === name && lastEp.uid === uid && lastEp.containerID === containerID && lastEp.node === node && lastEp.nic === nic && !('owner' in lastEp)
            ? lastEp
            : { namespace, name, uid, containerID, node, nic };
      } else {
        const oname = str();
        endpoint =
          lastEp !== undefined && lastEp.namespace === namespace && lastEp.name === name && lastEp.uid === uid && lastEp.containerID === containerID && lastEp.node === node && lastEp.nic === nic && lastEp.owner?.kind === kind && lastEp.owner.name === oname
            ? lastEp
            : { namespace, name, uid, containerID, node, nic, owner: { kind, name: oname } };
      }
      lastEp = endpoint;
      const gateway = optStr();
      const vlan = int();
      const nr = int();
      let routes: { dst: string; gw: string }[] | undefined;
      if (nr >= 0) {
        routes = new Array(nr);
        for (let j = 0; j < nr; j++) routes[j] = { dst: str(), gw: str() };
      }
      if (last) t = derivedTags(address, pool, namespace, name, nic);
      // One literal per combination of the optional fields the engine writes, so decoded events share hidden
      // classes (a spread-and-add literal would give each its own: see the #5 note).
      let data;
      if (gateway === undefined && vlan === -1 && routes === undefined) data = { allocationId, pool, ipVersion, address, prefixLength, endpoint };
      else if (vlan === -1 && routes === undefined) data = { allocationId, pool, ipVersion, address, prefixLength, endpoint, gateway };
      else {
        const d: Record<string, unknown> = { allocationId, pool, ipVersion, address, prefixLength, endpoint };
        if (gateway !== undefined) d.gateway = gateway;
        if (vlan !== -1) d.vlan = vlan;
        if (routes !== undefined) d.routes = routes;
        data = d;
      }
      out.push({ id, type: 'IPAllocated', v: 2, at, tags: t, data });
      checked.push(id !== '' && (ipVersion === 4 || ipVersion === 6) ? 1 : 0);
    } else if (layout === L_RELEASED || layout === L_RELEASED_DERIVED_TAGS) {
      const last = layout === L_RELEASED_DERIVED_TAGS;
      const id = str();
      const at = str();
      let t = last ? NO_TAGS : tags();
      const allocationId = str();
      const pool = str();
      const address = str();
      const reason = str();
      const endpoint = { namespace: str(), name: str(), nic: str(), containerID: str() };
      if (last) t = derivedTags(address, pool, endpoint.namespace, endpoint.name, endpoint.nic);
      out.push({ id, type: 'IPReleased', v: 1, at, tags: t, data: { allocationId, pool, address, reason, endpoint } });
      checked.push(id !== '' && RELEASE_REASONS.has(reason) ? 1 : 0);
    } else if (layout === L_GENERIC) {
      const g = int();
      if (g < 0 || g >= G.length) throw new RecordFormatError(`format-2 record: event ${g} out of range`);
      out.push(G[g]);
      checked.push(0);
    } else {
      throw new RecordFormatError(`format-2 record: unknown event layout ${layout} (a newer build wrote it; upgrade)`);
    }
  }
}
