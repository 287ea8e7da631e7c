// kill -9 of the maintaining process in the middle of its work (between segments, after the checkpoint before the
// horizon moved, in the middle of deleting): nothing is lost, no gap; the next maintainer (after the dead one's
// lease expires; until then it only follows) resumes and finishes, and the whole check passes.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import type { LoggedEvent } from '../events/catalogue.js';
import { ALL_PROJECTIONS } from '../projections/index.js';
import { readLogWithArchive } from '../src/lifecycle/log-source.js';
import { verifyLifecycle } from '../src/lifecycle/verify.js';
import { readHorizon, recordsThrough } from '../src/store/horizon.js';
import type { EventStore } from '../src/store/event-store.js';
import type { ArchiveDir } from '../src/lifecycle/archive.js';
import { AT, openAllocator } from './helpers/alloc.js';
import { CHURN_POOL, churn, fastPolicy, openMaintainer } from './helpers/lifecycle.js';
import { freshPrefix, sharedEtcd } from './helpers/store.js';

const CHILD = fileURLToPath(new URL('./helpers/maintain-child.js', import.meta.url));

async function wholeLog(store: EventStore, archive?: ArchiveDir): Promise<string[]> {
  const out: string[] = [];
  for await (const p of readLogWithArchive(store, archive)) out.push(...p.events.map((e: LoggedEvent) => `${e.revision}/${e.position} ${e.event.id}`));
  return out;
}

/** Starts the child, waits until it pauses at `step`, kills it with SIGKILL. */
async function killAt(endpoints: string[], prefix: string, dir: string, step: string, count: number): Promise<void> {
  const child = spawn(process.execPath, [CHILD], { env: { ...process.env, ETCD_ENDPOINTS: endpoints.join(','), PREFIX: prefix, DIR: dir, STOP_AT: step, STOP_COUNT: String(count) }, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  await new Promise<void>((ok, fail) => {
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('paused at')) ok();
      if (out.includes('finished')) fail(new Error(`child finished without reaching ${step} #${count}`));
    });
    child.once('exit', (code) => fail(new Error(`child exited (${code}) before ${step}: ${out}`)));
  });
  const gone = new Promise((ok) => child.once('exit', ok));
  process.kill(child.pid!, 'SIGKILL');
  await gone;
}

for (const [step, count] of [['segment', 2], ['checkpoint', 1], ['deleted', 1]] as const) {
  test(`kill -9 of the maintainer at ${step} #${count}: the next one resumes, nothing lost, no gap`, async (t) => {
    const { endpoints } = await sharedEtcd();
    const prefix = freshPrefix();
    const dir = await mkdtemp(join(tmpdir(), 'ipam-archive-'));
    const a = await openAllocator(prefix);
    const m = await openMaintainer(prefix, dir, fastPolicy({ segmentRecords: 10 }));
    try {
      await a.allocator.definePool('churn', CHURN_POOL, { at: AT });
      await churn(a.allocator, 250, 30, 0, 2);
      const written = await wholeLog(a.store);
      await killAt(endpoints, prefix, dir, step, count);
      const before = await readHorizon(a.store.client, a.store.keys);
      t.is(before.horizon === undefined, step !== 'deleted', 'the horizon moved only in the deletion case');
      // The dead maintainer's lease lives on for its TTL: meanwhile this one follows.
      let run = await m.maintainer.runOnce();
      let followed = 0;
      while (run.role === 'follower') {
        followed++;
        await new Promise((r) => setTimeout(r, 250));
        run = await m.maintainer.runOnce();
      }
      t.true(followed > 0, 'followed while the killed maintainer still held the lease');
      t.log(`followed ${followed} passes (${followed * 250} ms)`);
      t.true(run.horizon > 0);
      t.deepEqual(await recordsThrough(a.store.client, a.store.keys, run.horizon, 5), []);
      t.deepEqual((await wholeLog(a.store, m.archive)).slice(0, written.length), written, 'archive + etcd is the log as written');
      const check = await verifyLifecycle(a.store, m.archive, ALL_PROJECTIONS);
      t.deepEqual(check.problems, []);
      const generations = new Set((await a.store.client.getAll().prefix(a.store.keys.checkpoint('@horizon/')).keys()).map((k) => k.split('/')[3]));
      t.is(generations.size, 1, 'an interrupted run\'s checkpoint generation is pruned');
    } finally {
      await a.close();
      await m.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
