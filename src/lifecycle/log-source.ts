// The whole log, archive and etcd as one: records at or before the horizon come from the archive's segments, later
// ones from etcd, so replay, history and check read the past exactly whatever etcd has dropped.
import type { IKeyValue } from 'etcd3';
import type { LoggedEvent } from '../../events/catalogue.js';
import { BeforeHorizon } from '../store/errors.js';
import type { EventStore } from '../store/event-store.js';
import { readHorizon } from '../store/horizon.js';
import type { ReadOptions, ReadPage } from '../store/reader.js';
import { decodeRecord } from '../store/reader.js';
import type { ModelCheckpoint } from '../alloc/model-checkpoint.js';
import type { ArchiveDir } from './archive.js';
import { ArchivedCheckpoints } from './archived-checkpoints.js';
import { loadAll, loadHorizonCheckpoint, statesOfHorizon } from '../../projections/checkpoint.js';
import type { AnyProjection, StatesAt } from '../../projections/runtime.js';

/** The log before the horizon is only in the archive, and none was given. */
export class ArchiveRequired extends Error {
  readonly code = 'ArchiveRequired';
  constructor(readonly horizon: number) {
    super(`the log at or before revision ${horizon} has been archived out of etcd: pass --archive-dir DIR (the daemon's archive directory) to read it`);
  }
}

export type PageSource = (opts: ReadOptions) => AsyncGenerator<ReadPage>;

/** Attempts of a read of the past while the horizon keeps moving under it. */
const HORIZON_ATTEMPTS = 3;

/**
 * Runs a read of the past that chose its start (replayStart) and then reads the log, again from a new start when the
 * horizon moved under it: past its start while it read etcd (BeforeHorizon), or between choosing the start and the
 * first read (ArchiveRequired, without an archive, for a horizon not after `revision`, the point asked for; unknown
 * for a point in time). ArchiveRequired for a horizon after `revision` is the answer, not retried.
 */
export async function retryWhileHorizonMoves<T>(revision: number | undefined, read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (e) {
      const moved = e instanceof BeforeHorizon || (e instanceof ArchiveRequired && (revision === undefined || e.horizon <= revision));
      if (!moved || attempt >= HORIZON_ATTEMPTS) throw e;
    }
  }
}

/** A page source over archive + etcd (etcd alone when the read starts after the horizon). */
export function logSource(store: EventStore, archive: ArchiveDir | undefined): PageSource {
  return (opts) => readLogWithArchive(store, archive, opts);
}

export async function* readLogWithArchive(store: EventStore, archive: ArchiveDir | undefined, opts: ReadOptions = {}): AsyncGenerator<ReadPage> {
  const { horizon } = await readHorizon(store.client, store.keys);
  const h = horizon?.revision ?? 0;
  const after = opts.after ?? 0;
  const until = opts.until ?? (await store.currentRevision());
  if (after >= h) return yield* store.readPages({ ...opts, until });
  if (!archive) throw new ArchiveRequired(h);
  await archive.load();
  if (archive.through < h) throw new Error(`archive ${archive.dir} ends at ${archive.through}, before the horizon ${h}`);
  const tagSet = opts.tags ? new Set(opts.tags) : undefined;
  const typeSet = opts.types ? new Set(opts.types) : undefined;
  const end = Math.min(until, h);
  for await (const page of archive.read(after, end)) {
    const events: LoggedEvent[] = [];
    for (const r of page.records) {
      const kv = { key: Buffer.from(store.keys.prefix + r.key), value: Buffer.from(r.value) } as IKeyValue;
      decodeRecord(kv, r.revision, store.codec, tagSet, typeSet, opts.onMalformed, events);
    }
    yield { events, through: page.through };
  }
  if (until > h) yield* store.readPages({ ...opts, after: h, until, afterIsCommit: true });
}

/**
 * Where a replay to `until` / `asOf` starts and reads from: the newest checkpoint not after the point asked for
 * (the projections' own, the horizon's, or before the horizon the nearest one kept in the archive), then the log.
 * `model` is the allocator model at `from` when the start is a horizon checkpoint (a model replay may start there).
 */
export async function replayStart(
  store: EventStore,
  archive: ArchiveDir | undefined,
  at: { until?: number; asOf?: Date },
  projections: readonly AnyProjection[],
): Promise<{ from?: StatesAt; model?: ModelCheckpoint; pages: PageSource }> {
  const pages = logSource(store, archive);
  const { horizon } = await readHorizon(store.client, store.keys);
  // The projections' own checkpoint when it is not after the point asked for (a time cannot be placed: not then).
  const own = at.asOf === undefined && (at.until === undefined || at.until >= (horizon?.revision ?? 0)) ? await loadAll(store, projections) : undefined;
  const ownFits = own !== undefined && (at.until === undefined || own.revision <= at.until);
  if (!horizon) return { ...(own && ownFits ? { from: own } : {}), pages };
  const afterHorizon = at.asOf !== undefined ? at.asOf.getTime() >= Date.parse(horizon.lastEventAt) : at.until === undefined || at.until >= horizon.revision;
  if (!afterHorizon) {
    // Before the horizon: the nearest checkpoint the archive keeps, else the archive from the start (ArchiveRequired without one).
    if (!archive) return { pages };
    const kept = new ArchivedCheckpoints(archive.dir, archive.prefix);
    const c = await kept.nearest(at.asOf !== undefined ? { time: at.asOf } : { revision: at.until! });
    if (!c) return { pages };
    const cp = await kept.read(c);
    return { from: statesOfHorizon(cp), model: cp.model, pages };
  }
  if (own && ownFits && own.revision >= horizon.revision) return { from: own, pages };
  const cp = await loadHorizonCheckpoint(store, horizon.checkpoint);
  return { from: statesOfHorizon(cp), model: cp.model, pages };
}
