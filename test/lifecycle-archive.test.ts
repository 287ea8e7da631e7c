// Horizon + archive on real etcd: records before the horizon leave etcd only once archived and checkpointed; the
// log read through archive + etcd is the log as written; a daemon-like allocator restarts from the horizon
// checkpoint; `verifyLifecycle` (ipam check) finds continuity sound and detects tampering.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import test from 'ava';
import type { LoggedEvent } from '../events/catalogue.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { loadHorizonCheckpoint } from '../projections/checkpoint.js';
import { history } from '../projections/history.js';
import { Allocator } from '../src/alloc/allocator.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { decodeRecordValue } from '../events/record-codec.js';
import { ArchiveRequired, logSource, readLogWithArchive } from '../src/lifecycle/log-source.js';
import { verifyLifecycle } from '../src/lifecycle/verify.js';
import { readHorizon, recordsThrough } from '../src/store/horizon.js';
import type { EventStore } from '../src/store/event-store.js';
import { AT, openAllocator, replay, snapshot } from './helpers/alloc.js';
import { CHURN_POOL, churn, fastPolicy, openMaintainer } from './helpers/lifecycle.js';
import { freshPrefix } from './helpers/store.js';

async function wholeLog(store: EventStore, archive?: ArchiveDir): Promise<LoggedEvent[]> {
  const out: LoggedEvent[] = [];
  for await (const p of readLogWithArchive(store, archive)) out.push(...p.events);
  return out;
}

const ids = (log: LoggedEvent[]) => log.map((e) => `${e.revision}/${e.position} ${e.event.id}`);

test('given churn, when maintenance runs, then etcd keeps only the tail, the archive holds the rest, and archive + etcd is the log as written', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const a = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 20 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(a.allocator, 300, 40);
    const written = await wholeLog(a.store);
    const tagsBefore = (await a.store.client.getAll().prefix(a.store.keys.tagPrefix).keys()).length;
    const run = await m.maintainer.runOnce();
    t.is(run.role, 'maintainer');
    t.true(run.horizon > 0 && run.archivedRecords > 0 && run.segments > 1, JSON.stringify(run));
    t.is(run.deletedRecords, run.archivedRecords);
    const { horizon } = await readHorizon(a.store.client, a.store.keys);
    t.is(horizon!.revision, run.horizon);
    t.is(m.archive.through, run.horizon, 'the archive ends exactly at the horizon');
    t.deepEqual(await recordsThrough(a.store.client, a.store.keys, run.horizon, 10), [], 'etcd holds nothing at or before the horizon');
    const tagsAfter = (await a.store.client.getAll().prefix(a.store.keys.tagPrefix).keys()).length;
    t.true(tagsAfter < tagsBefore / 2, `tag keys ${tagsBefore} -> ${tagsAfter}`);
    t.deepEqual(ids(await wholeLog(a.store, m.archive)).slice(0, written.length), ids(written));
    await t.throwsAsync(wholeLog(a.store), { instanceOf: ArchiveRequired });

    // Service goes on across the horizon: stale views are fenced and re-decided, the log stays consistent.
    next = await churn(a.allocator, 200, 40, next);
    const run2 = await m.maintainer.runOnce();
    t.true(run2.horizon > run.horizon);
    const all = await wholeLog(a.store, m.archive);
    t.deepEqual(checkAllocationLog(all).details, []);
    const replayed = await replay(a.store).catch((e: unknown) => e);
    t.true(replayed instanceof Error, 'a plain etcd replay can no longer rebuild the model');

    // A fresh allocator starts from the horizon checkpoint plus the tail and equals the live one.
    await a.allocator.sync();
    const hz = (await readHorizon(a.store.client, a.store.keys)).horizon!;
    const cp = await loadHorizonCheckpoint(a.store, hz.checkpoint);
    const b = new Allocator(a.store);
    await b.start({ from: cp.model });
    await b.sync();
    t.deepEqual(snapshot(b.model), snapshot(a.allocator.model));
    await b.stop();

    // History reads the archive transparently.
    const first = all.find((e) => e.event.type === 'IPAllocated')!;
    const addr = (first.event.data as { address: string }).address;
    const h = await history(a.store, { address: addr }, logSource(a.store, m.archive));
    t.is(h[0]!.allocationId, (first.event.data as { allocationId: string }).allocationId);

    const check = await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS);
    t.deepEqual(check.problems, []);
    t.is(check.horizon, run2.horizon);
  } finally {
    await a.close();
    await m.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('given an archive, when a segment is altered, then the check names it: flipped bytes by checksum, a rewritten segment (checksum updated) by the checkpoint or by the records', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const a = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 10 }));
  try {
    await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
    await churn(a.allocator, 150, 20);
    await m.maintainer.runOnce();
    t.deepEqual((await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS)).problems, []);
    const seg = m.archive.segments[1]!;
    const path = join(dir, 'segments', seg.file);
    const original = await readFile(path);

    const flipped = Buffer.from(original);
    flipped[flipped.length >> 1]! ^= 0xff;
    await writeFile(path, flipped);
    const c1 = await verifyLifecycle(a.store, new ArchiveDir(dir, prefix), ALL_PROJECTIONS);
    t.true(c1.problems.some((p) => p.includes(seg.file) && p.includes('sha256')), c1.problems.join('\n'));

    await writeFile(path, original);
    // A careful forger: drops one allocation's record and fixes the manifest's checksum, size and count. The victim's
    // allocation must still be held at the horizon: dropping one released later inside the archive changes no state the
    // check can compare (and which records hold which events depends on how the churn's appends were batched).
    const held = a.allocator.model.byId;
    // (records are in the store's record format: decode them to find one; format 2 does not spell type names out)
    const holdsLive = (l: string) =>
      decodeRecordValue(Buffer.from(JSON.stringify((JSON.parse(l) as { events: unknown }).events))).events.some(
        (e) => (e as { type: string }).type === 'IPAllocated' && held.has((e as { data: { allocationId: string } }).data.allocationId),
      );
    let forgedFile: string | undefined;
    let forged = Buffer.alloc(0);
    for (const s of [...m.archive.segments].reverse()) {
      const file = join(dir, 'segments', s.file);
      const lines = gunzipSync(await readFile(file)).toString().split('\n').filter(Boolean);
      const victim = lines.findIndex(holdsLive);
      if (victim < 0) continue;
      lines.splice(victim, 1);
      forged = gzipSync(Buffer.from(lines.map((l) => `${l}\n`).join('')));
      await writeFile(file, forged);
      forgedFile = s.file;
      break;
    }
    t.truthy(forgedFile, 'an archived record holds an allocation still held at the horizon');
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { segments: { file: string; sha256: string; bytes: number; records: number }[] };
    const entry = manifest.segments.find((s) => s.file === forgedFile)!;
    Object.assign(entry, { sha256: createHash('sha256').update(forged).digest('hex'), bytes: forged.length, records: entry.records - 1 });
    await writeFile(manifestPath, JSON.stringify(manifest));
    const c2 = await verifyLifecycle(a.store, new ArchiveDir(dir, prefix), ALL_PROJECTIONS);
    t.true(c2.problems.some((p) => p.includes('differs from a replay of the archive')), c2.problems.join('\n'));

    // A removed segment is a gap.
    manifest.segments.splice(1, 1);
    await writeFile(manifestPath, JSON.stringify(manifest));
    const c3 = await verifyLifecycle(a.store, new ArchiveDir(dir, prefix), ALL_PROJECTIONS);
    t.true(c3.problems.some((p) => p.includes('gap')), c3.problems.join('\n'));
  } finally {
    await a.close();
    await m.close();
    await rm(dir, { recursive: true, force: true });
  }
});
