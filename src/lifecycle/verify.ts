// Archive + etcd continuity, for `ipam check` and the tests: the archive's segments are contiguous from the start of
// the log with sound checksums, it reaches the horizon, records etcd still holds at or before the horizon (a
// deletion in progress) are byte for byte the archived ones, and the checkpoint at the horizon equals a replay of
// the archive up to it (allocator model and every projection); so does each checkpoint the archive keeps (checked in
// one pass over the archive, not one replay each).
import { isDeepStrictEqual } from 'node:util';
import { loadHorizonCheckpoint, statesOfHorizon, type HorizonCheckpoint } from '../../projections/checkpoint.js';
import { readModelOf, replay, type AnyProjection, type ProjectionStates } from '../../projections/runtime.js';
import { AllocatorModel } from '../alloc/model.js';
import { modelCheckpoint, restoreModel, type ModelCheckpoint } from '../alloc/model-checkpoint.js';
import type { EventStore } from '../store/event-store.js';
import { readHorizon } from '../store/horizon.js';
import { readRecords } from '../store/reader.js';
import type { ArchiveDir } from './archive.js';
import { ArchivedCheckpoints } from './archived-checkpoints.js';
import { readLogWithArchive } from './log-source.js';

export interface LifecycleCheck {
  readonly horizon: number;
  readonly archivedThrough: number;
  readonly segments: number;
  readonly problems: string[];
}

export async function verifyLifecycle(store: EventStore, archive: ArchiveDir | undefined, projections: readonly AnyProjection[], maxDetails = 20): Promise<LifecycleCheck> {
  const problems: string[] = [];
  const note = (s: string) => problems.length < maxDetails && problems.push(s);
  const { horizon } = await readHorizon(store.client, store.keys);
  const h = horizon?.revision ?? 0;
  if (!archive) {
    if (h > 0) note(`the log at or before revision ${h} is archived: pass --archive-dir to check it`);
    return { horizon: h, archivedThrough: 0, segments: 0, problems };
  }
  await archive.load();
  for (const p of await archive.verify()) note(p);
  if (archive.through < h) note(`gap: the horizon is at ${h} but the archive ends at ${archive.through}`);
  if (!horizon) return { horizon: 0, archivedThrough: archive.through, segments: archive.segments.length, problems };

  // Overlap: what etcd still holds at or before the archive's end must be exactly what the archive holds.
  const inEtcd = new Map<number, string>();
  for await (const page of readRecords(store.client, store.keys, { until: archive.through, beforeHorizon: 'allow' })) for (const r of page.records) inEtcd.set(r.revision, r.kv.value.toString());
  if (inEtcd.size > 0) {
    for await (const page of archive.read(0, archive.through)) {
      for (const r of page.records) {
        const v = inEtcd.get(r.revision);
        if (v !== undefined && v !== r.value) note(`record at revision ${r.revision} differs between etcd and the archive`);
        inEtcd.delete(r.revision);
      }
    }
    for (const rev of inEtcd.keys()) note(`record at revision ${rev} is in etcd at or before the archive's end but not in the archive`);
  }

  // The checkpoint at H equals a replay of the archive up to H.
  let cp;
  try {
    cp = await loadHorizonCheckpoint(store, horizon.checkpoint);
  } catch (e) {
    note((e as Error).message);
    return { horizon: h, archivedThrough: archive.through, segments: archive.segments.length, problems };
  }
  try {
    await compareCheckpoint(store, archive, projections, cp, h, note);
  } catch (e) {
    note(`replaying the archive up to ${h}: ${(e as Error).message}`);
  }
  try {
    await compareKept(store, archive, projections, note);
  } catch (e) {
    note(`checking the checkpoints kept in the archive: ${(e as Error).message}`);
  }
  return { horizon: h, archivedThrough: archive.through, segments: archive.segments.length, problems };
}

async function compareCheckpoint(store: EventStore, archive: ArchiveDir, projections: readonly AnyProjection[], cp: HorizonCheckpoint, h: number, note: (s: string) => void): Promise<void> {
  const pages = (o: Parameters<typeof readLogWithArchive>[2]) => readLogWithArchive(store, archive, o);
  const model = new AllocatorModel();
  for await (const page of pages({ until: h })) for (const e of page.events) model.apply(e.event, e.revision);
  model.revision = h;
  if (!isDeepStrictEqual(normal(modelCheckpoint(model)), normal(cp.model))) note(`allocator checkpoint at ${h} differs from a replay of the archive up to ${h}`);
  if (!isDeepStrictEqual(normal(modelCheckpoint(restoreModel(cp.model))), normal(cp.model))) note(`allocator checkpoint at ${h} does not restore to itself`);
  const replayed = readModelOf(await replay(store, projections, { until: h, pages }));
  const fromCp = readModelOf(await replay(store, projections, { from: statesOfHorizon(cp), until: h, pages }));
  for (const p of projections) {
    if (!isDeepStrictEqual(sorted([...replayed.list(p.name)]), sorted([...fromCp.list(p.name)]))) note(`projection ${p.name}: checkpoint at ${h} differs from a replay of the archive up to ${h}`);
  }
}

/** Each checkpoint kept in the archive (checksum, and equal to a replay of the archive up to it), in one pass. */
async function compareKept(store: EventStore, archive: ArchiveDir, projections: readonly AnyProjection[], note: (s: string) => void): Promise<void> {
  const kept = new ArchivedCheckpoints(archive.dir, archive.prefix);
  const entries = [...(await kept.load())].sort((a, b) => a.revision - b.revision);
  const pages = (o: Parameters<typeof readLogWithArchive>[2]) => readLogWithArchive(store, archive, o);
  const model = new AllocatorModel();
  let states: ProjectionStates | undefined;
  for (const c of entries) {
    if (c.revision > archive.through) {
      note(`kept checkpoint ${c.file} at ${c.revision} is beyond the archive's end at ${archive.through}`);
      continue;
    }
    let cp: HorizonCheckpoint;
    try {
      cp = await kept.read(c);
    } catch (e) {
      note((e as Error).message);
      continue;
    }
    for await (const page of pages({ after: model.revision, until: c.revision, afterIsCommit: model.revision > 0 })) for (const e of page.events) model.apply(e.event, e.revision);
    model.revision = c.revision;
    if (!isDeepStrictEqual(normal(modelCheckpoint(model)), normal(cp.model))) note(`kept checkpoint ${c.file}: allocator model differs from a replay of the archive up to ${c.revision}`);
    states = await replay(store, projections, { ...(states ? { from: states } : {}), until: c.revision, pages });
    const replayed = readModelOf(states);
    const fromCp = readModelOf(await replay(store, projections, { from: statesOfHorizon(cp), until: c.revision, pages }));
    for (const p of projections) {
      if (!isDeepStrictEqual(sorted([...replayed.list(p.name)]), sorted([...fromCp.list(p.name)]))) note(`kept checkpoint ${c.file}: projection ${p.name} differs from a replay of the archive up to ${c.revision}`);
    }
  }
}

/** Order-free form of a model checkpoint (a replay and a restore may list the same things in another order). */
function normal(m: ModelCheckpoint): unknown {
  const s = <T>(xs: readonly T[]) => xs.map((x) => JSON.stringify(x)).sort();
  return { ...m, subnets: s(m.subnets), carved: s(m.carved), pools: s(m.pools), reservations: s(m.reservations), allocations: s(m.allocations), problems: [...m.problems].sort() };
}

function sorted(xs: unknown[]): string[] {
  return xs.map((x) => JSON.stringify(x)).sort();
}
