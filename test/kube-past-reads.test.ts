// The Kubernetes-style API's reads of the past across the horizon: a list (or get) with resourceVersionMatch=Exact at
// a revision the daemon's view has passed is answered as it was listed live then, whether that revision is now
// before the horizon (the nearest checkpoint kept in the archive, then archived segments) or after it (the horizon
// checkpoint, then etcd). Too old for what the daemon can read is 410 Expired, beyond etcd's revision is 504 "Too
// large resource version" with cause ResourceVersionTooLarge (as kubernetes/apiserver answers), "0" with Exact 422.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { ArchivedCheckpoints } from '../src/lifecycle/archived-checkpoints.js';
import { logSource, readLogWithArchive, replayStart } from '../src/lifecycle/log-source.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { TimeMachine } from '../src/console/time-travel.js';
import { readHorizon } from '../src/store/horizon.js';
import { AT, snapshot } from './helpers/alloc.js';
import { call, startDaemon, type DaemonFixture } from './helpers/daemon.js';
import { CHURN_POOL, churn, fastPolicy } from './helpers/lifecycle.js';
import { freshPrefix } from './helpers/store.js';

const POOLS = '/apis/spiderpool.spidernet.io/v2beta1/spiderippools';
const ENDPOINTS = '/apis/spiderpool.spidernet.io/v2beta1/spiderendpoints';

interface List {
  metadata: { resourceVersion: string };
  items: { metadata: { name: string; namespace?: string; resourceVersion?: string } }[];
}

/** Items without their resourceVersion (a live list gives the batch's revision of an object's last change, a read of the past the commit's). */
const bare = (l: List) => l.items.map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } }));

async function list(d: DaemonFixture, path: string, query = ''): Promise<List> {
  const r = await call(d, 'GET', `${path}${query}`);
  if (r.status !== 200) throw new Error(`${path}${query}: ${r.status} ${r.text}`);
  return r.json<List>();
}

async function until(what: string, cond: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('exact lists and gets of a past resourceVersion, before and after the horizon, equal what was listed live then', async (t) => {
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const lifecycle = { archiveDir: dir, policy: fastPolicy({ intervalMs: 100, segmentRecords: 20, minRevisions: 30 }), checkpointSpacing: 1 };
  const d = await startDaemon({ prefix, extra: { lifecycle } });
  let plain: DaemonFixture | undefined;
  const kept = new ArchivedCheckpoints(dir, prefix);
  const horizon = async () => (await readHorizon(d.store.client, d.store.keys)).horizon?.revision ?? 0;
  try {
    const a = d.daemon.allocator;
    await a.definePool('churn', CHURN_POOL, { at: AT });
    let next = await churn(a, 80, 20, 0, 4);
    await until('a checkpoint kept in the archive', async () => (await kept.load()).length > 0);
    next = await churn(a, 40, 20, next, 4);

    // Listed live at R1, then the horizon moves past R1.
    const pools1 = await list(d, POOLS);
    const r1 = Number(pools1.metadata.resourceVersion);
    const eps1 = await list(d, ENDPOINTS, `?resourceVersion=${r1}&resourceVersionMatch=Exact`);
    t.is(eps1.metadata.resourceVersion, String(r1), 'the live view is still at R1 (nothing written since)');
    const pool1 = (await call(d, 'GET', `${POOLS}/churn`)).json<{ metadata: { resourceVersion: string } }>();
    next = await churn(a, 80, 20, next, 4);
    await until('the horizon past R1 and a kept checkpoint after the first', async () => (await horizon()) > r1 && (await kept.load()).length > 1);

    // Listed live at R2 (after the horizon), then the view moves on a little (the horizon stays behind R2).
    const pools2 = await list(d, POOLS);
    const r2 = Number(pools2.metadata.resourceVersion);
    await churn(a, 3, 20, next, 1);
    await a.sync();
    const h = await horizon();
    t.true(h > r1 && h < r2, `R1 ${r1} < H ${h} < R2 ${r2}`);
    t.true(d.daemon.projections.revision > r2);

    // Before the horizon: from the nearest kept checkpoint (not revision 0), then the archive.
    const start = await replayStart(d.store, new ArchiveDir(dir, prefix), { until: r1 }, ALL_PROJECTIONS);
    t.true(start.from !== undefined && start.from.revision > 0 && start.from.revision <= r1, `a read at ${r1} starts at ${start.from?.revision}`);
    const past1 = await list(d, POOLS, `?resourceVersion=${r1}&resourceVersionMatch=Exact`);
    t.is(past1.metadata.resourceVersion, String(r1));
    t.deepEqual(bare(past1), bare(pools1));
    const pastEps1 = await list(d, ENDPOINTS, `?resourceVersion=${r1}&resourceVersionMatch=Exact`);
    t.true(pastEps1.items.length > 0);
    t.deepEqual(bare(pastEps1), bare(eps1));
    const got1 = await call(d, 'GET', `${POOLS}/churn?resourceVersion=${r1}&resourceVersionMatch=Exact`);
    t.is(got1.status, 200);
    t.deepEqual({ ...got1.json(), metadata: { ...got1.json().metadata, resourceVersion: undefined } }, { ...pool1, metadata: { ...pool1.metadata, resourceVersion: undefined } });
    t.true(Number(got1.json().metadata.resourceVersion) <= r1, "an object's resourceVersion is not after the list's");

    // The console's time machine reads the same past the same way (from the kept checkpoint), equal to a replay from 0.
    const archive = new ArchiveDir(dir, prefix);
    const machine = new TimeMachine(d.store, logSource(d.store, archive), archive);
    const fromZero = new AllocatorModel();
    for await (const page of readLogWithArchive(d.store, archive, { until: r1 })) for (const e of page.events) fromZero.apply(e.event, e.revision);
    t.deepEqual(snapshot(await machine.modelAt({ revision: r1 })), snapshot(fromZero));

    // After the horizon: the horizon checkpoint, then etcd.
    const past2 = await list(d, POOLS, `?resourceVersion=${r2}&resourceVersionMatch=Exact`);
    t.is(past2.metadata.resourceVersion, String(r2));
    t.deepEqual(bare(past2), bare(pools2));
    t.notDeepEqual(bare(past1), bare(past2), 'two different points in time');

    // A daemon without the archive: after the horizon it still answers from etcd; before it, 410 Expired.
    plain = await startDaemon({ prefix, node: 'plain' });
    t.deepEqual(bare(await list(plain, POOLS, `?resourceVersion=${r2}&resourceVersionMatch=Exact`)), bare(pools2));
    const old = await call(plain, 'GET', `${POOLS}?resourceVersion=${r1}&resourceVersionMatch=Exact`);
    t.is(old.status, 410, old.text);
    t.like(old.json(), { kind: 'Status', reason: 'Expired', code: 410 });
    t.regex(old.json().message, /^The resourceVersion for the provided list is too old\..*--archive-dir/);

    // Beyond etcd's revision: "Too large resource version", at once (not after the wait of NotOlderThan).
    const current = await d.store.currentRevision();
    const future = await call(d, 'GET', `${POOLS}?resourceVersion=${current + 1000}&resourceVersionMatch=Exact`);
    t.is(future.status, 504, future.text);
    t.like(future.json(), { reason: 'Timeout', code: 504, details: { causes: [{ reason: 'ResourceVersionTooLarge' }] } });
    t.regex(future.json().message, new RegExp(`^Too large resource version: ${current + 1000}, current: \\d+$`));
    const zero = await call(d, 'GET', `${POOLS}?resourceVersion=0&resourceVersionMatch=Exact`);
    t.is(zero.status, 422);
    t.is(zero.json().message, 'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
  } finally {
    await plain?.close();
    await d.close();
    await rm(dir, { recursive: true, force: true });
  }
});
