// History stays exact across the horizon, as a user reads it with the CLI (child processes) beside a maintaining
// daemon: `ipam replay --at <time before H> --archive-dir` equals what the daemon's API listed live at that time, and
// `ipam history pod|ip|pool` is one continuous story from the archive into etcd, equal to what the test did.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import test from 'ava';
import type { Holding } from '../projections/history.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { ArchivedCheckpoints } from '../src/lifecycle/archived-checkpoints.js';
import { replayStart } from '../src/lifecycle/log-source.js';
import { readHorizon } from '../src/store/horizon.js';
import { request } from './helpers/alloc.js';
import { call, startDaemon } from './helpers/daemon.js';
import { CHURN_POOL, fastPolicy } from './helpers/lifecycle.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const CLI = resolve(fileURLToPath(import.meta.url), '../../src/cli/main.js');

function ipam(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ETCD_ENDPOINTS: '' }, timeout: 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => ok({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A distinct time per event (the log's times order with its revisions here, as on one writer). */
async function now(): Promise<string> {
  await sleep(2);
  return new Date().toISOString();
}

interface Item {
  metadata: { name: string; namespace?: string; resourceVersion?: string };
}
const bare = (items: Item[]) => items.map((o) => ({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } })).sort((a, b) => `${a.metadata.namespace}/${a.metadata.name}`.localeCompare(`${b.metadata.namespace}/${b.metadata.name}`));
/** What a holding says, without revisions (the test knows the times, not the revisions). */
const story = (h: Holding) => ({ address: h.address, pod: h.pod, from: h.from.at, until: h.until?.at, reason: h.until?.reason });

test('replay --at a time before the horizon equals the live list then; history pod, ip and pool run continuously across the horizon', async (t) => {
  const { endpoints } = await sharedEtcd();
  const prefix = freshPrefix();
  const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
  const args = ['--etcd', endpoints.join(','), '--prefix', prefix];
  const d = await startDaemon({ prefix, extra: { lifecycle: { archiveDir: dir, policy: fastPolicy({ intervalMs: 200, minRevisions: 20, segmentRecords: 20 }), checkpointSpacing: 1 } } });
  const a = d.daemon.allocator;
  const done: ReturnType<typeof story>[] = []; // every holding as the test made it, in the order they began
  const held = new Map<string, number>();
  const allocate = async (name: string) => {
    const at = await now();
    const r = await a.allocate(request(name, { at }));
    held.set(name, done.push({ address: r.allocations[0]!.address, pod: `default/${name}`, from: at, until: undefined, reason: undefined }) - 1);
  };
  const release = async (name: string) => {
    const at = await now();
    await a.releaseContainer(`ctr-${name}`, undefined, at);
    Object.assign(done[held.get(name)!]!, { until: at, reason: 'cni-del' });
  };
  try {
    await a.definePool('churn', { ...CHURN_POOL, ips: ['10.40.0.1-10.40.0.30'] }, { at: await now() });
    for (let i = 0; i < 30; i++) await allocate(`p${i}`);
    for (let i = 0; i < 10; i++) await release(`p${i}`);
    // A horizon move before T1, so the replay of T1 starts from the checkpoint the archive keeps, not from revision 0.
    const kept = new ArchivedCheckpoints(dir, prefix);
    for (let i = 0; (await kept.load()).length === 0; i++) {
      if (i > 300) throw new Error('no checkpoint kept in the archive');
      await sleep(100);
    }

    // Recorded live at T1: what the daemon's API lists (a consistent read), then time moves on.
    await sleep(20);
    const t1 = new Date().toISOString();
    const pools = (await call(d, 'GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderippools')).json<{ items: Item[]; metadata: { resourceVersion: string } }>();
    const endpointsLive = (await call(d, 'GET', '/apis/spiderpool.spidernet.io/v2beta1/spiderendpoints')).json<{ items: Item[] }>();
    const r1 = Number(pools.metadata.resourceVersion);
    await sleep(20);

    // Churn until the horizon is past T1 (its revision and its time) (addresses of the released pods are handed out again).
    for (let i = 0; ; i++) {
      await allocate(`q${i}`);
      if (i >= 4) await release(`q${i - 4}`);
      const h = (await readHorizon(d.store.client, d.store.keys)).horizon;
      if (h && h.revision > r1 && Date.parse(h.lastEventAt) > Date.parse(t1) && i >= 20) break;
      if (i > 2000) throw new Error(`the horizon did not pass ${r1}`);
    }
    // Holdings that began before the horizon and end after it; then maintenance stops so the horizon stays put.
    for (let i = 10; i < 15; i++) await release(`p${i}`);
    await d.daemon.maintenance!.loop.stop();
    await a.sync();
    const hz = (await readHorizon(d.store.client, d.store.keys)).horizon!;
    t.true(hz.revision > r1 && Date.parse(hz.lastEventAt) > Date.parse(t1), `horizon ${hz.revision} at ${hz.lastEventAt} is past T1 (${r1}, ${t1})`);

    const start = await replayStart(d.store, new ArchiveDir(dir, prefix), { asOf: new Date(t1) }, ALL_PROJECTIONS);
    t.true((start.from?.revision ?? 0) > 0 && start.from!.revision <= r1, `replay --at T1 starts from the kept checkpoint at ${start.from?.revision}`);
    const asOf = await ipam([...args, 'replay', '--at', t1, '--kind', 'spiderippool', '-o', 'json', '--archive-dir', dir]);
    t.is(asOf.code, 0, asOf.stderr);
    t.deepEqual(bare((JSON.parse(asOf.stdout) as { items: Item[] }).items), bare(pools.items), 'replay --at T1 equals the pools listed live at T1');
    const eps = await ipam([...args, 'replay', '--at', t1, '--kind', 'spiderendpoint', '-o', 'json', '--archive-dir', dir]);
    t.is(eps.code, 0, eps.stderr);
    t.true(endpointsLive.items.length === 20);
    t.deepEqual(bare((JSON.parse(eps.stdout) as { items: Item[] }).items), bare(endpointsLive.items), 'and the endpoints');

    const pod = await ipam([...args, 'history', 'pod', 'default/p10', '-o', 'json', '--archive-dir', dir]);
    t.is(pod.code, 0, pod.stderr);
    const podRows = JSON.parse(pod.stdout) as Holding[];
    t.is(podRows.length, 1);
    t.true(podRows[0]!.from.revision <= hz.revision && podRows[0]!.until!.revision > hz.revision, `p10 held ${podRows[0]!.from.revision}-${podRows[0]!.until?.revision} across the horizon ${hz.revision}`);
    t.deepEqual(story(podRows[0]!), done[held.get('p10')!]);

    // The pool is full after the p pods: the q pods take the ten addresses the first p pods gave back, again and again.
    const holdings = (x: string) => done.filter((h) => h.address === x).length;
    const address = done.map((h) => h.address).reduce((best, x) => (holdings(x) > holdings(best) ? x : best));
    t.true(holdings(address) >= 3, `${address} held ${holdings(address)} times`);
    const ip = await ipam([...args, 'history', 'ip', address, '-o', 'json', '--archive-dir', dir]);
    t.is(ip.code, 0, ip.stderr);
    t.deepEqual((JSON.parse(ip.stdout) as Holding[]).map(story), done.filter((h) => h.address === address));

    const pool = await ipam([...args, 'history', 'pool', 'churn', '-o', 'json', '--archive-dir', dir]);
    t.is(pool.code, 0, pool.stderr);
    const rows = JSON.parse(pool.stdout) as Holding[];
    t.deepEqual(rows.map(story), done, 'every holding, in order, the archive and etcd as one');
    t.true(rows.some((h) => h.until && h.until.revision <= hz.revision) && rows.some((h) => h.from.revision > hz.revision), 'the story spans the horizon');
    // The CLI's own allocator (--etcd) on the cut log starts from the horizon checkpoint and allocates.
    const direct = await ipam([...args, 'alloc', '--pod', 'default/cli-pod', '--container-id', 'ctr-cli-pod', '-o', 'json']);
    t.is(direct.code, 0, direct.stderr);
    const got = (JSON.parse(direct.stdout) as { allocations: { address: string }[] }).allocations[0]!.address;
    await a.sync();
    t.false(done.some((h) => h.address === got.split('/')[0] && h.until === undefined), `${got} was free`);

    const withoutArchive = await ipam([...args, 'history', 'pool', 'churn']);
    t.is(withoutArchive.code, 1);
    t.regex(withoutArchive.stderr, /--archive-dir/);

    // `ipam check` verifies the kept checkpoints too: sound, then one altered is named...
    const ok = await ipam([...args, 'check', '--archive-dir', dir]);
    t.is(ok.code, 0, ok.stdout + ok.stderr);
    const entry = [...(await kept.load())].sort((x, y) => y.revision - x.revision)[0]!; // the newest: it holds allocations
    const file = join(dir, 'checkpoints', entry.file);
    const pristine = await readFile(file);
    const flipped = Buffer.from(pristine);
    flipped[flipped.length - 12]! ^= 1;
    await writeFile(file, flipped);
    const lifeOf = async () => {
      const r = await ipam([...args, 'check', '--archive-dir', dir, '-o', 'json']);
      t.is(r.code, 1, r.stderr);
      return (JSON.parse(r.stdout) as { findings: { check: string; details: string[] }[] }).findings.find((f) => f.check.startsWith('archive and etcd'))!.details;
    };
    const flippedFound = await lifeOf();
    t.true(flippedFound.some((x) => x.includes(entry.file) && x.includes('sha256')), JSON.stringify(flippedFound));
    // ...and a forged one (an allocation dropped, size and checksum updated in the index) by the replay it must equal.
    const body = JSON.parse(gunzipSync(pristine).toString()) as { model: { allocations: unknown[] } };
    t.true(body.model.allocations.length > 0);
    body.model.allocations.pop();
    const forged = gzipSync(JSON.stringify(body));
    await writeFile(file, forged);
    const index = JSON.parse(await readFile(join(dir, 'checkpoints.json'), 'utf8')) as { checkpoints: { file: string; bytes: number; sha256: string }[] };
    for (const c of index.checkpoints) if (c.file === entry.file) Object.assign(c, { bytes: forged.length, sha256: createHash('sha256').update(forged).digest('hex') });
    await writeFile(join(dir, 'checkpoints.json'), JSON.stringify(index));
    const forgedFound = await lifeOf();
    t.true(forgedFound.some((x) => x.includes(entry.file) && x.includes('allocator model differs')), JSON.stringify(forgedFound));
  } finally {
    await d.close();
    await rm(dir, { recursive: true, force: true });
  }
});
