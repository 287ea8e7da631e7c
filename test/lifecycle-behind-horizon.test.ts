// A daemon cut off from etcd while another process moves the horizon past it (the records it needs next archived
// and deleted from etcd) restarts from the horizon checkpoint once it reaches etcd again: once, logged once, counted in
// ipam_log_horizon_restarts_total, not ready until caught up; then its model and projections equal a replay of the whole
// log (archive + etcd). Without the restart its subscription would retry the impossible read forever.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { pino } from 'pino';
import { currentHorizonCheckpoint } from '../projections/checkpoint.js';
import { ALL_PROJECTIONS, spiderEndpointProjection, spiderIPPoolProjection } from '../projections/index.js';
import { objectKey } from '../projections/read-model.js';
import { LiveProjections, readModelOf, replay, type ProjectionStates } from '../projections/runtime.js';
import { Allocator } from '../src/alloc/allocator.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { logSource, readLogWithArchive } from '../src/lifecycle/log-source.js';
import type { ArchiveDir } from '../src/lifecycle/archive.js';
import type { EventStore } from '../src/store/event-store.js';
import { readHorizon } from '../src/store/horizon.js';
import { AT, openAllocator, snapshot } from './helpers/alloc.js';
import { call, startDaemon } from './helpers/daemon.js';
import { CHURN_POOL, churn, fastPolicy, openMaintainer } from './helpers/lifecycle.js';
import { FlakyProxy } from './helpers/proxy.js';
import { freshPrefix, openStore, sharedEtcd } from './helpers/store.js';

interface Line {
  readonly msg: string;
  readonly err?: string;
  readonly ready?: boolean;
  readonly reason?: string;
}

async function wholeModel(store: EventStore, archive: ArchiveDir): Promise<AllocatorModel> {
  const m = new AllocatorModel();
  for await (const page of readLogWithArchive(store, archive)) for (const e of page.events) m.apply(e.event, e.revision);
  return m;
}

/** Every projection's objects by key (order of listing is not part of the state). */
function objects(list: (p: string) => Iterable<{ metadata: { name: string; namespace?: string } }>): Record<string, [string, unknown][]> {
  return Object.fromEntries(ALL_PROJECTIONS.map((p) => [p.name, [...list(p.name)].map((o) => [objectKey(o as never), o] as [string, unknown]).sort((a, b) => (a[0] < b[0] ? -1 : 1))]));
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('a daemon partitioned while the horizon moves past it restarts from the horizon checkpoint once and converges to a replay', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const proxy = await FlakyProxy.start((await sharedEtcd()).endpoints[0]!);
  const lines: Line[] = [];
  let d: Awaited<ReturnType<typeof startDaemon>> | undefined;
  // The daemon's log, with its readiness at the moment of each line (pino writes to this stream synchronously).
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push({ ...(JSON.parse(s) as Line), ready: d?.daemon.readiness.ready, reason: d?.daemon.readiness.reason }) });
  const w = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 50 }));
  d = await startDaemon({ prefix, endpoints: [proxy.url], extra: { log } });
  try {
    await w.allocator.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(w.allocator, 100, 20);
    await d.daemon.allocator.sync();
    const cutAt = d.daemon.allocator.revision;

    proxy.partition();
    next = await churn(w.allocator, 200, 20, next);
    const run = await m.maintainer.runOnce();
    t.true(run.horizon > cutAt && run.deletedRecords > 0, `the horizon ${run.horizon} moved past the daemon's ${cutAt} and records left etcd: ${JSON.stringify(run)}`);
    next = await churn(w.allocator, 50, 20, next); // the tail after the horizon, read from etcd after the restart
    proxy.heal();

    await until('the restart from the horizon checkpoint', () => d!.daemon.allocator.horizonRestarts >= 1);
    await d.daemon.allocator.sync();
    await until('ready again', async () => (await call(d!, 'GET', '/readyz')).status === 200);

    // Once: logged once, counted once, and never the endless BeforeHorizon retry.
    const restarts = lines.filter((l) => l.msg.startsWith('fell behind the log horizon'));
    t.is(restarts.length, 1, JSON.stringify(restarts));
    t.false(restarts[0]!.ready, 'not ready while catching up');
    t.regex(restarts[0]!.reason ?? '', /catching up after a restart from the horizon checkpoint/);
    t.true(lines.some((l) => l.msg.startsWith('caught up again')));
    t.false(lines.some((l) => /BeforeHorizon|needs the archive/.test(l.err ?? '')), 'no retry of the read behind the horizon');
    t.is(d.daemon.allocator.horizonRestarts, 1);
    const metrics = (await call(d, 'GET', '/metrics')).text;
    t.regex(metrics, /^ipam_log_horizon_restarts_total 1$/m);

    // Converged: model and projections equal a replay of the whole log, archive + etcd.
    await w.allocator.sync();
    const h = (await readHorizon(w.store.client, w.store.keys)).horizon!;
    t.is(h.revision, run.horizon);
    t.deepEqual(snapshot(d.daemon.allocator.model), snapshot(await wholeModel(w.store, m.archive)));
    t.deepEqual(snapshot(d.daemon.allocator.model), snapshot(w.allocator.model));
    await d.daemon.projections.sync();
    const replayed: ProjectionStates = await replay(w.store, ALL_PROJECTIONS, { pages: logSource(w.store, m.archive), until: d.daemon.projections.revision });
    const rm_ = readModelOf(replayed);
    t.deepEqual(objects((p) => d!.daemon.projections.list(p)), objects((p) => rm_.list(p)));

    // And it keeps following: a write after the restart reaches it.
    await churn(w.allocator, 10, 20, next);
    await d.daemon.allocator.sync();
    t.deepEqual(snapshot(d.daemon.allocator.model), snapshot(w.allocator.model));
  } finally {
    await d.close();
    await m.close();
    await w.close();
    await proxy.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('started on a log cut by the horizon, a projection runtime and an allocator of their own (the controller\'s) restart from the horizon checkpoint and equal a replay', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const w = await openAllocator(prefix);
  const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 50 }));
  const reader = await openStore({ prefix });
  const projections = [spiderIPPoolProjection, spiderEndpointProjection];
  const live = new LiveProjections(reader.store, projections);
  const allocator = new Allocator(reader.store);
  try {
    await w.allocator.definePool('churn', CHURN_POOL, { at: AT });
    const next = await churn(w.allocator, 150, 20);
    const run = await m.maintainer.runOnce();
    t.true(run.deletedRecords > 0);
    await churn(w.allocator, 20, 20, next);
    await w.allocator.sync();

    const restarts: number[] = [];
    await live.start({ onBehindHorizon: (rev) => restarts.push(rev) });
    t.deepEqual(restarts, [run.horizon], 'restarted once, at the horizon');
    await allocator.start({ onBehindHorizon: async () => (await currentHorizonCheckpoint(reader.store)).model });
    t.is(allocator.horizonRestarts, 1);
    t.deepEqual(snapshot(allocator.model), snapshot(w.allocator.model));

    await live.sync();
    const replayed = readModelOf(await replay(w.store, projections, { pages: logSource(w.store, m.archive), until: live.revision }));
    for (const p of projections) t.deepEqual(objects((q) => live.list(q))[p.name], objects((q) => replayed.list(q))[p.name], p.name);
  } finally {
    await live.stop();
    await allocator.stop();
    await reader.close();
    await m.close();
    await w.close();
    await rm(dir, { recursive: true, force: true });
  }
});
