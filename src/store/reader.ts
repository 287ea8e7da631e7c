// Reads the log in global order (revision, then position in the commit), page by page in bounded memory.
// Log keys sort by their writer's hint, not by commit revision; a record with hint h committed at C has h < C,
// so once every key with hint < X has been read, every buffered record with C <= X can be emitted in order.
import { GRPCResourceExhastedError, type Etcd3 } from 'etcd3';
import type { LoggedEvent as StoredEvent, DomainEvent } from '../../events/catalogue.js';
import { defaultCodec, MalformedEventError, type EventCodec } from '../../events/codec.js';
import { decodeRecordValue, RecordFormatError } from '../../events/record-codec.js';
import { REORDER_WINDOW } from './committer.js';
import type { KeyLayout } from './keys.js';
import { BeforeHorizon } from './errors.js';
import { FastRange, type WireRangeResponse } from './fast-range.js';

export interface ReadOptions {
  /** Only events committed after this revision (default 0: from the start). */
  readonly after?: number;
  /** Only events committed at or before this revision (default: the current revision when the read starts). */
  readonly until?: number;
  /** Only events carrying at least one of these tags. */
  readonly tags?: readonly string[];
  /** Only events of these types. */
  readonly types?: readonly string[];
  /** Records per etcd range request (default 256; halved while a page is too large for one gRPC message). */
  readonly pageSize?: number;
  /** About this many events per page handed out (default EVENTS_PER_PAGE; a page ends on a record boundary). */
  readonly eventsPerPage?: number;
  /** Bytes a page may take (default MAX_PAGE_BYTES, within the client's gRPC receive limit): pages are sized to it. */
  readonly maxPageBytes?: number;
  /** Range requests in flight at once over disjoint parts of the log (default DEFAULT_READS_IN_FLIGHT). */
  readonly readsInFlight?: number;
  /** What to do with an event that fails validation: default throw MalformedEventError. */
  readonly onMalformed?: (e: MalformedEventError) => void;
  /** Skip the historical head lookup: the caller knows `after` is a commit revision (checkpoints, resumes). */
  readonly afterIsCommit?: boolean;
  /**
   * Read what etcd still holds even where it starts before the horizon (the archiver, the checker). Otherwise such a
   * read fails with BeforeHorizon: records at or before the horizon may be gone (archived) and it would be incomplete.
   */
  readonly beforeHorizon?: 'allow';
}

export interface ReadPage {
  readonly events: StoredEvent[];
  /** Every commit at or before this revision has been delivered (within the read's bounds). */
  readonly through: number;
}

/** Records per range request: ~2-3 MiB of format-2 records of 60 events; halved when a page is over gRPC's limit. */
export const DEFAULT_PAGE_RECORDS = 256;

/**
 * Events decoded per page handed out, about: a page of records is decoded and handed out in parts of this size, so
 * the caller applies what was just decoded while it is still in V8's young generation (a whole page of 256
 * records, ~15,000 events, outgrew it: the events were promoted and died in the old generation, which then grew).
 */
export const EVENTS_PER_PAGE = 2048;

export async function* readLog(client: Etcd3, keys: KeyLayout, codec: EventCodec, opts: ReadOptions = {}): AsyncGenerator<ReadPage> {
  const tagSet = opts.tags ? new Set(opts.tags) : undefined;
  const typeSet = opts.types ? new Set(opts.types) : undefined;
  const per = opts.eventsPerPage ?? EVENTS_PER_PAGE;
  // Every record of a page is decoded before the next one is asked for: their bytes may live in reused buffers.
  for await (const page of readRecords(client, keys, opts, { reuseBuffers: true })) {
    const { records } = page;
    let events: StoredEvent[] = [];
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      decodeRecord(r.kv, r.revision, codec, tagSet, typeSet, opts.onMalformed, events);
      // Records are in commit order and the page holds every commit up to its `through`: a part ending at record
      // r has delivered every commit at or before r's revision.
      if (events.length >= per && i < records.length - 1) {
        yield { events, through: r.revision };
        events = [];
      }
    }
    yield { events, through: page.through };
  }
}

/** A record's key and value; views of the range response they came in (copy what you keep). */
export interface RecordKV {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** One commit record as etcd holds it (the archive keeps these bytes as they are). */
export interface RawRecord {
  readonly revision: number;
  readonly kv: RecordKV;
}

/**
 * Range requests in flight at once, over disjoint hint ranges of the log: etcd serves them concurrently while the
 * caller decodes and applies. Each answers at most one page, so at most this many pages are on their way at once.
 */
export const DEFAULT_READS_IN_FLIGHT = 4;

/** A quarter of the gRPC receive limit openEtcd sets (src/store/connect.ts, 64 MiB). */
export const MAX_PAGE_BYTES = 16 * 1024 * 1024;

/** etcd's default --max-request-bytes: no record (one txn's put) is larger. */
const ETCD_MAX_REQUEST_BYTES = 1.5 * 1024 * 1024;

/** A hint range [from, end) of the log, read page by page; `page` is the request in flight for it. */
interface Segment {
  from: Buffer;
  readonly end: Buffer;
  readonly endHint: number;
  readonly width: number;
  records: number;
  page: Promise<WireRangeResponse>;
}

/**
 * Buffers that range responses are copied into as they arrive, each reused once every record copied into it has been
 * handed out and the consumer has asked for the next page. A response then dies young, where it would otherwise wait
 * for its turn and its page's decoding and be promoted: measured, the replay of 1M events held 55-70 MB of such
 * responses at its peak RSS, freed only by full collections. At most `keep` free buffers are kept.
 */
export class PageBuffers {
  private readonly free: Buffer[] = [];
  private readonly left = new Map<Buffer, number>();
  private readonly of = new Map<RecordKV, Buffer>();
  constructor(private readonly keep: number) {}

  /** The response with its keys and values copied into one reused buffer. */
  copy(res: WireRangeResponse): WireRangeResponse {
    let need = 0;
    for (const kv of res.kvs) need += kv.key.length + kv.value.length;
    if (need === 0) return res;
    const i = this.free.findIndex((b) => b.length >= need);
    const buf = i >= 0 ? this.free.splice(i, 1)[0]! : Buffer.allocUnsafeSlow(Math.ceil(need / PAGE_BUFFER_UNIT) * PAGE_BUFFER_UNIT);
    let at = 0;
    const kvs = res.kvs.map((kv) => {
      const key = buf.subarray(at, (at += kv.key.copy(buf, at)));
      const value = buf.subarray(at, (at += kv.value.copy(buf, at)));
      const c = { key, modRevision: kv.modRevision, value };
      this.of.set(c, buf);
      return c;
    });
    this.left.set(buf, kvs.length);
    return { revision: res.revision, kvs, more: res.more };
  }

  /** These records are done with (handed out and decoded, or dropped): their buffers are reused once empty. */
  done(kvs: Iterable<RecordKV>): void {
    for (const kv of kvs) {
      const buf = this.of.get(kv);
      if (buf === undefined) continue;
      this.of.delete(kv);
      const n = this.left.get(buf)! - 1;
      if (n > 0) this.left.set(buf, n);
      else {
        this.left.delete(buf);
        if (this.free.length < this.keep) this.free.push(buf);
      }
    }
  }
}

/** Page buffers are sized in steps of this many bytes (so one fits the next page of about the same size). */
const PAGE_BUFFER_UNIT = 1 << 20;

/**
 * Pages of raw commit records in commit order (see readLog; tags, types and onMalformed do not apply). With
 * `reuseBuffers`, a page's keys and values are valid only until the next page is asked for (readLog decodes them
 * first); otherwise they are views of the range responses they came in.
 */
export async function* readRecords(client: Etcd3, keys: KeyLayout, opts: ReadOptions = {}, internal: { reuseBuffers?: boolean } = {}): AsyncGenerator<{ records: RawRecord[]; through: number }> {
  const after = opts.after ?? 0;
  const until = opts.until ?? (await currentRevision(client, keys));
  if (opts.beforeHorizon !== 'allow') await refuseBeforeHorizon(client, keys, after);
  let pageSize = opts.pageSize ?? DEFAULT_PAGE_RECORDS;
  const inFlight = Math.max(1, opts.readsInFlight ?? DEFAULT_READS_IN_FLIGHT);
  const startHint = after === 0 ? 0 : Math.max(0, (await lastCommitAtOrBefore(client, keys, after, opts.afterIsCommit ?? false)) - REORDER_WINDOW);
  const wire = new FastRange(client);
  const reuse = internal.reuseBuffers ? new PageBuffers(inFlight + 2) : undefined;
  const logKey = (hint: number) => Buffer.from(keys.logFrom(hint));

  let fromHint = startHint;
  let buffer: RawRecord[] = [];
  if (after > 0 && startHint <= after) {
    // Keys with hint <= after may still hold later commits (a stale writer's); most do not. Let etcd filter that
    // bounded window by revision, so a resume does not pull back up to REORDER_WINDOW commits only to drop them.
    const res = await wire.range({ key: logKey(startHint), rangeEnd: logKey(after + 1), minModRevision: after + 1, maxModRevision: until });
    for (const kv of res.kvs) buffer.push({ revision: kv.modRevision, kv });
    // Every key after the window has hint > after, hence commit revision > after: plain paging from here.
    fromHint = after + 1;
  }
  // A key with hint > until holds a commit after until: the scan ends there.
  const endHint = until + 1;

  // Segments are asked for ahead (up to inFlight requests out) and taken in key order, so records arrive as one
  // scan would bring them. A segment spans `width` hints: one page's worth at the density the last finished
  // segment had (a sparse stretch of the log, e.g. revisions spent on tag deletes, widens it; a dense one
  // continues page by page). A request the caller never takes (it stopped early) is dropped quietly.
  // A page must fit one gRPC message: etcd3 counts an oversized answer (RESOURCE_EXHAUSTED, which it deems
  // recoverable) against the host and retries it, so three open its circuit breaker before a halving could help.
  // Pages are sized from the largest record seen so far, starting from the largest one etcd takes in a request.
  const maxPageBytes = opts.maxPageBytes ?? MAX_PAGE_BYTES;
  let largest = ETCD_MAX_REQUEST_BYTES;
  let seen = 0;
  const limit = () => Math.max(1, Math.min(pageSize, Math.floor(maxPageBytes / largest)));
  const ask = (from: Buffer, end: Buffer) => {
    const asked = wire.range({ key: from, rangeEnd: end, limit: limit() });
    const p = reuse ? asked.then((res) => reuse.copy(res)) : asked;
    p.catch(() => undefined);
    return p;
  };
  const segments: Segment[] = [];
  let width = pageSize;
  const refill = () => {
    while (segments.length < inFlight && fromHint < endHint) {
      const hi = Math.min(endHint, fromHint + width);
      const from = logKey(fromHint);
      const end = logKey(hi);
      segments.push({ from, end, endHint: hi, width: hi - fromHint, records: 0, page: ask(from, end) });
      fromHint = hi;
    }
  };
  refill();
  while (segments.length > 0) {
    const seg = segments[0]!;
    let res: WireRangeResponse;
    try {
      res = await seg.page;
    } catch (e) {
      if (e instanceof GRPCResourceExhastedError && pageSize > 1) {
        pageSize = Math.max(1, pageSize >> 1);
        seg.page = ask(seg.from, seg.end);
        continue;
      }
      throw e;
    }
    const kvs = res.kvs;
    seg.records += kvs.length;
    for (const kv of kvs) if (kv.key.length + kv.value.length > seen) seen = kv.key.length + kv.value.length;
    if (seen > 0) largest = seen * 2; // twice the largest so far: a later record may be bigger
    // Every key with hint below `read` has been read: unread records have hint >= read, so commit revision > read.
    let read: number;
    if (res.more && kvs.length > 0) {
      const last = kvs[kvs.length - 1]!;
      seg.page = ask((seg.from = Buffer.concat([last.key, Buffer.from([0])])), seg.end); // first in line again
      read = keys.hintOf(last.key.toString());
    } else {
      segments.shift();
      read = seg.endHint;
      width = Math.max(16, Math.min(seg.width * 8, Math.floor((seg.width * pageSize) / Math.max(1, seg.records))));
      refill();
    }
    for (const kv of kvs) {
      const rev = kv.modRevision;
      if (rev > after && rev <= until) buffer.push({ revision: rev, kv });
      else reuse?.done([kv]);
    }
    buffer.sort((a, b) => a.revision - b.revision);
    let n = 0;
    while (n < buffer.length && buffer[n]!.revision <= read) n++;
    if (n > 0) {
      const ready = buffer.slice(0, n);
      buffer = buffer.slice(n);
      yield { records: ready, through: Math.min(read, until) };
      reuse?.done(ready.map((r) => r.kv));
    }
  }
  buffer.sort((a, b) => a.revision - b.revision);
  // The horizon may have moved past `after` while we read (and records been deleted under us): say so, not "done".
  if (opts.beforeHorizon !== 'allow') await refuseBeforeHorizon(client, keys, after);
  yield { records: buffer, through: until };
}

/** Horizon revision from the horizon key (0: none); see src/store/horizon.ts. */
async function refuseBeforeHorizon(client: Etcd3, keys: KeyLayout, after: number): Promise<void> {
  const res = await client.kv.range({ key: Buffer.from(keys.horizon) });
  const kv = res.kvs[0];
  if (!kv) return;
  const h = (JSON.parse(kv.value.toString()) as { revision: number }).revision;
  if (after < h) throw new BeforeHorizon(after, h);
}

export function decodeRecord(
  kv: RecordKV,
  rev: number,
  codec: EventCodec,
  tagSet: ReadonlySet<string> | undefined,
  typeSet: ReadonlySet<string> | undefined,
  onMalformed: ((e: MalformedEventError) => void) | undefined,
  /** Append the events to this array (a page's) instead of a new one; it is returned. */
  out: StoredEvent[] = [],
): StoredEvent[] {
  // The key names the record for the codec and in errors only: made once, when first asked for.
  let key: string | undefined;
  const keyOf = () => (key ??= kv.key.toString());
  let raw: unknown[];
  let checked: ArrayLike<number> | undefined;
  try {
    ({ events: raw, checked } = decodeRecordValue(kv.value));
  } catch (e) {
    if (e instanceof RecordFormatError) return report(new MalformedEventError(keyOf(), e.message), onMalformed, out);
    if (e instanceof SyntaxError) return report(new MalformedEventError(keyOf(), `record is not JSON: ${e.message}`), onMalformed, out);
    throw e;
  }
  for (let i = 0; i < raw.length; i++) {
    let event: DomainEvent;
    try {
      // Compact-layout events are checked by the record decoder; the shipped codec would return them unchanged.
      event = checked !== undefined && checked[i] === 1 && codec === defaultCodec ? (raw[i] as DomainEvent) : codec.decode(raw[i], `${keyOf()}#${i}`);
    } catch (e) {
      if (e instanceof MalformedEventError && onMalformed) {
        onMalformed(e);
        continue;
      }
      throw e;
    }
    if (typeSet && !typeSet.has(event.type)) continue;
    if (tagSet && !event.tags.some((t) => tagSet.has(t))) continue;
    out.push({ event, revision: rev, position: i });
  }
  return out;
}

function report(e: MalformedEventError, onMalformed: ((e: MalformedEventError) => void) | undefined, out: StoredEvent[]): StoredEvent[] {
  if (!onMalformed) throw e;
  onMalformed(e);
  return out;
}

/** The store's current revision (cheap: a count-only range on head). */
export async function currentRevision(client: Etcd3, keys: KeyLayout): Promise<number> {
  const res = await client.kv.range({ key: Buffer.from(keys.head), count_only: true });
  return Number(res.header.revision);
}

/** Revision of the last commit at or before `rev` (head's mod_revision then); 0 when unknown (compacted). */
async function lastCommitAtOrBefore(client: Etcd3, keys: KeyLayout, rev: number, isCommit: boolean): Promise<number> {
  if (isCommit) return rev;
  try {
    const res = await client.kv.range({ key: Buffer.from(keys.head), revision: rev });
    const kv = res.kvs[0];
    return kv ? Number(kv.mod_revision) : 0;
  } catch {
    return 0; // compacted: scan from the start, filtering by revision (slower, still exact)
  }
}
