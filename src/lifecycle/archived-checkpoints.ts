// Checkpoints kept in the archive: copies of horizon checkpoints (allocator model + every projection at H), spaced
// some revisions apart, so a read of the past before the horizon starts from the nearest one at or before the point
// asked for instead of replaying the archive from revision 0. The cost of such a read is bounded by the spacing plus
// one horizon move. Same durability as segments (tmp file, fsync, rename, dir fsync, read back); format in README.md.
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isDeepStrictEqual, promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { HorizonCheckpoint } from '../../projections/checkpoint.js';
import { ArchiveInvalid, writeDurably } from './archive.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

export const CHECKPOINTS_FORMAT = 'ipam-es-archive-checkpoints/1';
const INDEX = 'checkpoints.json';
const DIR = 'checkpoints';

export interface ArchivedCheckpointEntry {
  /** File name inside `checkpoints/`. */
  readonly file: string;
  /** The checkpoint holds every commit at or before this revision. */
  readonly revision: number;
  /** `at` of the last event at or before `revision` (a read as of a later time may start here). */
  readonly lastEventAt: string;
  /** Compressed size and its sha256 (hex). */
  readonly bytes: number;
  readonly sha256: string;
}

interface Index {
  readonly format: typeof CHECKPOINTS_FORMAT;
  readonly prefix: string;
  readonly checkpoints: readonly ArchivedCheckpointEntry[];
}

/** Default spacing: one archived checkpoint per this many revisions of log (the default retention's minimum). */
export const DEFAULT_CHECKPOINT_SPACING = 10_000;

export class ArchivedCheckpoints {
  constructor(
    readonly dir: string,
    readonly prefix: string,
  ) {}

  /** The index (read each time: it is small, and another daemon's maintainer may have added to it). */
  async load(): Promise<readonly ArchivedCheckpointEntry[]> {
    let raw: string;
    try {
      raw = await readFile(join(this.dir, INDEX), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      return [];
    }
    const m = JSON.parse(raw) as Index;
    if (m.format !== CHECKPOINTS_FORMAT) throw new ArchiveInvalid(`${join(this.dir, INDEX)}: format ${JSON.stringify(m.format)}, expected ${CHECKPOINTS_FORMAT}`);
    if (m.prefix !== this.prefix) throw new ArchiveInvalid(`${this.dir} holds checkpoints of prefix ${m.prefix}, not ${this.prefix}`);
    return m.checkpoints;
  }

  /** The newest archived checkpoint at or before `revision` (or, given a time, whose last event is not after it). */
  async nearest(at: { revision: number } | { time: Date }): Promise<ArchivedCheckpointEntry | undefined> {
    const all = await this.load();
    let best: ArchivedCheckpointEntry | undefined;
    for (const c of all) {
      const fits = 'revision' in at ? c.revision <= at.revision : Date.parse(c.lastEventAt) <= at.time.getTime();
      if (fits && (!best || c.revision > best.revision)) best = c;
    }
    return best;
  }

  /**
   * Archives `cp` unless one at most `spacing` revisions older is there already. Durable and read back before the
   * index names it. Returns the entry written, or undefined when it was not due.
   */
  async save(cp: HorizonCheckpoint, lastEventAt: string, spacing: number): Promise<ArchivedCheckpointEntry | undefined> {
    const all = await this.load();
    const newest = all.reduce((n, c) => Math.max(n, c.revision), 0);
    if (all.length > 0 && cp.revision < newest + spacing) return undefined;
    const gz = await gzipAsync(Buffer.from(JSON.stringify(cp)));
    const entry: ArchivedCheckpointEntry = {
      file: `cp-${cp.revision.toString().padStart(12, '0')}.json.gz`,
      revision: cp.revision,
      lastEventAt,
      bytes: gz.length,
      sha256: createHash('sha256').update(gz).digest('hex'),
    };
    await mkdir(join(this.dir, DIR), { recursive: true });
    await writeDurably(join(this.dir, DIR), entry.file, gz);
    if (!isDeepStrictEqual(await this.read(entry), cp)) throw new ArchiveInvalid(`archived checkpoint ${entry.file} read back differs from what was written`);
    const next: Index = { format: CHECKPOINTS_FORMAT, prefix: this.prefix, checkpoints: [...all.filter((c) => c.revision !== cp.revision), entry] };
    await writeDurably(this.dir, INDEX, Buffer.from(JSON.stringify(next, null, 1)));
    return entry;
  }

  /** An archived checkpoint, after checking its size and checksum. */
  async read(c: ArchivedCheckpointEntry): Promise<HorizonCheckpoint> {
    const path = join(this.dir, DIR, c.file);
    const gz = await readFile(path);
    const sha = createHash('sha256').update(gz).digest('hex');
    if (gz.length !== c.bytes || sha !== c.sha256) throw new ArchiveInvalid(`${path}: sha256 ${sha} (${gz.length} bytes), the index says ${c.sha256} (${c.bytes} bytes)`);
    const cp = JSON.parse((await gunzipAsync(gz)).toString()) as HorizonCheckpoint;
    if (cp.revision !== c.revision) throw new ArchiveInvalid(`${path}: a checkpoint at ${cp.revision}, the index says ${c.revision}`);
    return cp;
  }
}
