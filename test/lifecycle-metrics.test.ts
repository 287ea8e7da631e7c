// The log lifecycle's metrics on a real daemon: the horizon (revision, age, last move) on the maintaining daemon and
// on a follower, the maintainer's last run and the archive's size, each equal to what etcd and the archive hold.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { ArchivedCheckpoints } from '../src/lifecycle/archived-checkpoints.js';
import { readHorizon } from '../src/store/horizon.js';
import { AT } from './helpers/alloc.js';
import { call, startDaemon, type DaemonFixture } from './helpers/daemon.js';
import { CHURN_POOL, churn, fastPolicy } from './helpers/lifecycle.js';
import { freshPrefix } from './helpers/store.js';

async function metrics(d: DaemonFixture): Promise<Map<string, number>> {
  const text = (await call(d, 'GET', '/metrics')).text;
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(ipam_log_[a-z_]+) (\S+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

async function until(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('horizon, maintenance and archive metrics equal what etcd and the archive hold', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  // A long interval after the first runs: the figures are compared while no run changes them.
  const m = await startDaemon({ prefix, node: 'm', extra: { lifecycle: { archiveDir: dir, policy: fastPolicy({ intervalMs: 300, segmentRecords: 20 }), checkpointSpacing: 1 } } });
  const f = await startDaemon({ prefix, node: 'f' });
  try {
    await m.daemon.allocator.definePool('churn', CHURN_POOL, { at: AT });
    const t0 = Date.now();
    await churn(m.daemon.allocator, 120, 20, 0, 4);
    await until('a horizon move seen in the metrics', async () => ((await metrics(m)).get('ipam_log_horizon_revision') ?? 0) > 0 && ((await metrics(m)).get('ipam_log_archive_checkpoints') ?? 0) > 0);
    await m.daemon.maintenance!.loop.stop(); // no more runs: what the metrics say must stay what the disk says
    await m.daemon.maintenance!.kept();
    const hs = (await readHorizon(m.store.client, m.store.keys)).horizon!;
    await m.daemon.horizon.refresh();
    await f.daemon.horizon.refresh();
    const mm = await metrics(m);
    const fm = await metrics(f);
    t.is(mm.get('ipam_log_horizon_revision'), hs.revision);
    t.is(fm.get('ipam_log_horizon_revision'), hs.revision, 'a follower reports the horizon too');
    // The events carry the helper's fixed time AT: the age is measured from the last one's `at`.
    const age = mm.get('ipam_log_horizon_age_seconds')!;
    const expected = (Date.now() - Date.parse(hs.lastEventAt)) / 1000;
    t.true(Math.abs(age - expected) < 5, `horizon age ${age} s, expected ~${expected} s`);
    t.is(mm.get('ipam_log_horizon_moved_timestamp_seconds'), Date.parse(hs.movedAt) / 1000);
    t.is(mm.get('ipam_log_maintainer'), 1);
    t.is(fm.get('ipam_log_maintainer'), undefined, 'no maintenance metrics without --archive-dir');
    t.true(mm.get('ipam_log_maintenance_runs_total')! >= 1);
    t.is(mm.get('ipam_log_maintenance_failures_total'), 0);
    t.is(mm.get('ipam_log_maintenance_last_run_ok'), 1);
    const last = mm.get('ipam_log_maintenance_last_run_timestamp_seconds')!;
    t.true(last * 1000 >= t0 && last * 1000 <= Date.now(), `last run at ${last}`);
    t.is(mm.get('ipam_log_maintenance_last_success_timestamp_seconds'), last);
    const archive = new ArchiveDir(dir, prefix);
    await archive.load();
    t.is(mm.get('ipam_log_archive_segments'), archive.segments.length);
    t.is(mm.get('ipam_log_archive_bytes'), archive.segments.reduce((n, s) => n + s.bytes, 0));
    t.is(mm.get('ipam_log_archive_revision'), archive.through);
    t.is(archive.through, hs.revision);
    t.is(mm.get('ipam_log_archive_checkpoints'), (await new ArchivedCheckpoints(dir, prefix).load()).length);
  } finally {
    await f.close();
    await m.close();
    await rm(dir, { recursive: true, force: true });
  }
});
