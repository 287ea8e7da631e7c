// Random interleavings of allocations and releases on two allocators with horizon moves and tag-key GC running
// among them (a third client, the maintainer), once with the full sweep (collectTags) and once with the maintainer's
// incremental GC (collectTouchedTags: the tags of the events since the previous horizon, what Maintainer.runOnce does
// between sweeps). Afterwards the log shows no address held twice, every release matches an allocation, a replay
// equals both live views, no tag that guards something live was deleted, and (incremental) a sweep at the last
// horizon finds nothing dead left behind.
import test, { type ExecutionContext } from 'ava';
import fc from 'fast-check';
import type { LoggedEvent } from '../events/catalogue.js';
import { isAllocError } from '../src/alloc/errors.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { collectTags, collectTouchedTags, guardsLive, isCollected } from '../src/lifecycle/tag-gc.js';
import { moveHorizon, readHorizon } from '../src/store/horizon.js';
import { MaintenanceLease } from '../src/store/lease.js';
import type { EventStore } from '../src/store/event-store.js';
import { AT, openAllocator, request, snapshot, type AllocFixture } from './helpers/alloc.js';
import { freshPrefix, openStore } from './helpers/store.js';

type Cmd =
  | { kind: 'alloc'; who: 0 | 1; pod: number }
  | { kind: 'del'; who: 0 | 1; pod: number }
  | { kind: 'horizon' };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('alloc' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(15) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(15) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('horizon' as const) }) },
);

/** The model at revision `h` and the collectable tags of the events after `after`, replayed from etcd (records are not deleted in this test: only tags). */
async function modelAt(store: EventStore, h: number, after = 0): Promise<{ model: AllocatorModel; touched: Set<string> }> {
  const model = new AllocatorModel();
  const touched = new Set<string>();
  for await (const e of store.read({ until: h, beforeHorizon: 'allow' })) {
    model.apply(e.event, e.revision);
    if (e.revision > after) for (const tag of e.event.tags) if (isCollected(tag)) touched.add(tag);
  }
  return { model, touched };
}

/** How each maintenance run collects tags: a sweep of every ep:/ip: key, or the tags its run passed over. */
type Gc = 'sweep' | 'touched';

const interleavings = (gc: Gc) => async (t: ExecutionContext) => {
  let deletedTotal = 0;
  let fencedTotal = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(cmd, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 8 }), async (waves) => {
      const prefix = freshPrefix();
      const a = await openAllocator(prefix);
      const b = await openAllocator(prefix);
      const m = await openStore({ prefix });
      const lease = new MaintenanceLease(m.client, m.store.keys, 'maintainer');
      const ix: AllocFixture[] = [a, b];
      const fenced = () => a.store.stats.conflicts + b.store.stats.conflicts;
      try {
        await a.allocator.definePool('v4', { ipVersion: 4, subnet: '10.31.0.0/28', ips: ['10.31.0.1-10.31.0.10'], default: true }, { at: AT });
        await b.allocator.sync();
        const holder = (await lease.tryAcquire())!;
        // One maintainer: its runs follow one another (as the daemon's do), among the allocators' concurrent work.
        let chain = Promise.resolve();
        const maintain = () => (chain = chain.then(maintainOnce));
        let lastH = 0;
        const maintainOnce = async () => {
          const h = await m.store.headRevision();
          const { model, touched } = await modelAt(m.store, h, lastH);
          const { mod } = await readHorizon(m.client, m.store.keys);
          const moved = await moveHorizon(m.client, m.store.keys, m.store.writer, { revision: h, lastEventAt: AT, movedAt: AT, checkpoint: 'test' }, mod, holder);
          const r = gc === 'touched' ? await collectTouchedTags(m.store, model, touched, h, moved, holder) : await collectTags(m.store, model, h, moved, holder);
          lastH = h;
          deletedTotal += r.deleted;
        };
        const before = fenced();
        for (const wave of waves) {
          await Promise.all(
            wave.map(async (c) => {
              if (c.kind === 'horizon') return maintain();
              const al = ix[c.who]!.allocator;
              try {
                if (c.kind === 'alloc') await al.allocate(request(`pod-${c.pod}`));
                else await al.releaseContainer(`ctr-pod-${c.pod}`, undefined, AT);
              } catch (e) {
                if (!isAllocError(e) || !['PoolExhausted', 'StaleRelease'].includes(e.code)) throw e;
              }
            }),
          );
        }
        await maintain(); // and one at the end, so every run collects something
        fencedTotal += fenced() - before;
        await a.allocator.sync();
        await b.allocator.sync();
        const log: LoggedEvent[] = [];
        for await (const e of a.store.read({ beforeHorizon: 'allow' })) log.push(e);
        const check = checkAllocationLog(log);
        t.deepEqual(check.details, []);
        t.is(check.live, a.allocator.model.byId.size, 'what the log says is live is what the model holds');
        const { model: fresh } = await modelAt(a.store, await a.store.currentRevision());
        t.deepEqual(snapshot(a.allocator.model), snapshot(fresh));
        t.deepEqual(snapshot(b.allocator.model), snapshot(fresh));
        // Every tag that guards something live still has its key.
        const tags = await m.client.getAll().prefix(m.store.keys.tagPrefix).keys();
        const present = new Set(tags.map((k) => k.slice(m.store.keys.tagPrefix.length)));
        for (const e of log) for (const tag of e.event.tags) if (guardsLive(fresh, tag)) t.true(present.has(tag), `live tag ${tag} kept`);
        // The incremental runs left nothing dead behind that a sweep at the last horizon would still delete.
        if (gc === 'sweep') return;
        const hs = await readHorizon(m.client, m.store.keys);
        const sweep = await collectTags(m.store, (await modelAt(m.store, hs.horizon!.revision)).model, hs.horizon!.revision, hs.mod, holder);
        t.is(sweep.deleted, 0, 'a sweep after the incremental runs deletes nothing');
      } finally {
        await lease.release();
        await a.close();
        await b.close();
        await m.close();
      }
    }),
    { numRuns: 20 },
  );
  t.true(deletedTotal > 0, `the ${gc} tag GC deleted keys`);
  t.log(`tags deleted: ${deletedTotal}; conflicts (tags or fence) met by the allocators: ${fencedTotal}`);
};

test('random interleavings of allocations, releases, horizon moves and tag GC (full sweeps) across two allocators keep the log consistent', interleavings('sweep'));
test('random interleavings with the incremental tag GC (the tags of the events since the last horizon) keep the log consistent', interleavings('touched'));
