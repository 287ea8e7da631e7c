// The archive: log records before the horizon, as immutable, checksummed, gzip-compressed segments in a directory
// (a PVC in a cluster), named in a manifest by the revision range each covers. Format: src/lifecycle/README.md.
// A segment is written to a temporary file, fsynced, renamed into place, the directory fsynced, then read back and
// verified; only then does the manifest (written the same way) name it, and only then may etcd drop its records.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const ARCHIVE_FORMAT = 'ipam-es-archive/1';

export interface SegmentEntry {
  /** File name inside `segments/`. */
  readonly file: string;
  /** The segment holds every record committed after `after` and at or before `through` (a half-open range). */
  readonly after: number;
  readonly through: number;
  readonly records: number;
  readonly events: number;
  /** Compressed size and its sha256 (hex). */
  readonly bytes: number;
  readonly sha256: string;
  /** `at` of its first and last event (empty when it holds none). */
  readonly firstAt: string;
  readonly lastAt: string;
}

export interface ArchiveManifest {
  readonly format: typeof ARCHIVE_FORMAT;
  /** The engine's key prefix the records came from (record keys in segments are relative to it). */
  readonly prefix: string;
  readonly segments: readonly SegmentEntry[];
}

/** One archived commit record: its revision, key (relative to the prefix) and value exactly as etcd held it. */
export interface ArchivedRecord {
  readonly revision: number;
  readonly key: string;
  readonly value: string;
}

export class ArchiveInvalid extends Error {
  readonly code = 'ArchiveInvalid';
}

const MANIFEST = 'manifest.json';

export class ArchiveDir {
  private manifest: ArchiveManifest | undefined;

  constructor(
    readonly dir: string,
    readonly prefix: string,
  ) {}

  /** Reads the manifest (an empty archive when there is none yet); refuses an archive of another prefix. */
  async load(): Promise<ArchiveManifest> {
    let raw: string;
    try {
      raw = await readFile(join(this.dir, MANIFEST), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return (this.manifest = { format: ARCHIVE_FORMAT, prefix: this.prefix, segments: [] });
    }
    const m = JSON.parse(raw) as ArchiveManifest;
    if (m.format !== ARCHIVE_FORMAT) throw new ArchiveInvalid(`${join(this.dir, MANIFEST)}: format ${JSON.stringify(m.format)}, expected ${ARCHIVE_FORMAT}`);
    if (m.prefix !== this.prefix) throw new ArchiveInvalid(`${this.dir} archives prefix ${m.prefix}, not ${this.prefix}: use another --archive-dir`);
    return (this.manifest = m);
  }

  /** Every record at or before this revision is archived (0: nothing). */
  get through(): number {
    const s = this.loaded.segments;
    return s.length === 0 ? 0 : s[s.length - 1]!.through;
  }

  get segments(): readonly SegmentEntry[] {
    return this.loaded.segments;
  }

  private get loaded(): ArchiveManifest {
    if (!this.manifest) throw new Error('archive manifest not loaded: call load() first');
    return this.manifest;
  }

  /**
   * Appends one segment holding `records` (in commit order, all after `through`), covering up to `upTo`: durable and
   * verified before the manifest names it. Returns its entry.
   */
  async append(records: readonly ArchivedRecord[], upTo: number, times: { firstAt: string; lastAt: string }, events: number): Promise<SegmentEntry> {
    const after = this.through;
    if (records.length > 0 && (records[0]!.revision <= after || records[records.length - 1]!.revision > upTo)) {
      throw new Error(`segment records ${records[0]!.revision}..${records[records.length - 1]!.revision} outside (${after}, ${upTo}]`);
    }
    const body = Buffer.from(records.map(lineOf).join(''));
    const gz = await gzipAsync(body);
    const sha256 = createHash('sha256').update(gz).digest('hex');
    const file = `seg-${pad(after)}-${pad(upTo)}.jsonl.gz`;
    await mkdir(join(this.dir, 'segments'), { recursive: true });
    await writeDurably(join(this.dir, 'segments'), file, gz);
    const entry: SegmentEntry = { file, after, through: upTo, records: records.length, events, bytes: gz.length, sha256, ...times };
    // Read back what the disk now holds before anyone relies on it: the same bytes, and they inflate to the same lines
    // (byte comparisons: parsing every line again cost more than writing it).
    const disk = await readFile(join(this.dir, 'segments', file));
    if (!disk.equals(gz) || !(await gunzipAsync(disk)).equals(body)) throw new ArchiveInvalid(`segment ${file} read back differs from what was written`);
    const next: ArchiveManifest = { ...this.loaded, segments: [...this.loaded.segments, entry] };
    await writeDurably(this.dir, MANIFEST, Buffer.from(JSON.stringify(next, null, 1)));
    this.manifest = next;
    return entry;
  }

  /** A segment's records, after checking its size, checksum, line format and revision bounds. */
  async readSegment(s: SegmentEntry): Promise<ArchivedRecord[]> {
    const path = join(this.dir, 'segments', s.file);
    const gz = await readFile(path);
    const sha = createHash('sha256').update(gz).digest('hex');
    if (gz.length !== s.bytes || sha !== s.sha256) throw new ArchiveInvalid(`${path}: sha256 ${sha} (${gz.length} bytes), manifest says ${s.sha256} (${s.bytes} bytes)`);
    const text = (await gunzipAsync(gz)).toString();
    const out: ArchivedRecord[] = [];
    let last = s.after;
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const r = JSON.parse(line) as { revision: number; key: string; events: unknown };
      if (!(r.revision > last && r.revision <= s.through)) throw new ArchiveInvalid(`${path}: record at revision ${r.revision} out of order or outside (${s.after}, ${s.through}]`);
      last = r.revision;
      out.push({ revision: r.revision, key: r.key, value: JSON.stringify(r.events) });
    }
    if (out.length !== s.records) throw new ArchiveInvalid(`${path}: ${out.length} records, manifest says ${s.records}`);
    return out;
  }

  /** Records committed after `after` and at or before `until`, segment by segment (bounded memory). */
  async *read(after: number, until: number): AsyncGenerator<{ records: ArchivedRecord[]; through: number }> {
    for (const s of this.loaded.segments) {
      if (s.through <= after || s.after >= until) continue;
      const records = (await this.readSegment(s)).filter((r) => r.revision > after && r.revision <= until);
      yield { records, through: Math.min(s.through, until) };
    }
  }

  /** Problems with the manifest's segments: gaps, overlaps, checksums, order (empty: sound). */
  async verify(): Promise<string[]> {
    const problems: string[] = [];
    let expect = 0;
    for (const s of this.loaded.segments) {
      if (s.after !== expect) problems.push(`segment ${s.file} starts after ${s.after}, the previous one ends at ${expect}: ${s.after > expect ? 'gap' : 'overlap'}`);
      expect = s.through;
      try {
        await this.readSegment(s);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return problems;
  }
}

/** `events` is the record's value as etcd held it (a JSON array), embedded byte for byte. */
function lineOf(r: ArchivedRecord): string {
  return `{"revision":${r.revision},"key":${JSON.stringify(r.key)},"events":${r.value}}\n`;
}

function pad(n: number): string {
  return n.toString().padStart(12, '0');
}

/** Write to a temporary file, fsync, rename over `name`, fsync the directory: all of it or none survives a crash. */
export async function writeDurably(dir: string, name: string, data: Buffer): Promise<void> {
  const tmp = join(dir, `.${name}.tmp`);
  await rm(tmp, { force: true });
  const f = await open(tmp, 'wx', 0o640);
  try {
    await f.writeFile(data);
    await f.sync();
  } finally {
    await f.close();
  }
  await rename(tmp, join(dir, name));
  const d = await open(dir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}
