// Random interleavings of allocate / release across two independent allocator instances (own etcd client and
// store each, same log): afterwards the log must show no address held twice, every release matching a live
// allocation, and a fresh replay equal to both live views.
import test from 'ava';
import fc from 'fast-check';
import type { LoggedEvent } from '../events/catalogue.js';
import { isAllocError } from '../src/alloc/errors.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { AT, openAllocator, replay, request, snapshot, type AllocFixture } from './helpers/alloc.js';
import { freshPrefix } from './helpers/store.js';

type Cmd =
  | { kind: 'alloc'; who: 0 | 1; pod: number; dual: boolean }
  | { kind: 'del'; who: 0 | 1; pod: number }
  | { kind: 'releaseId'; who: 0 | 1; pick: number };

const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  fc.record({ kind: fc.constant('alloc' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(11), dual: fc.boolean() }),
  fc.record({ kind: fc.constant('del' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(11) }),
  fc.record({ kind: fc.constant('releaseId' as const), who: fc.constantFrom(0 as const, 1 as const), pick: fc.nat(50) }),
);


test('random interleavings across two allocators keep the log consistent, and replay equals both live views', async (t) => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(cmd, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), async (waves) => {
      const prefix = freshPrefix();
      const a = await openAllocator(prefix);
      const b = await openAllocator(prefix);
      const ix: AllocFixture[] = [a, b];
      try {
        await a.allocator.definePool('v4', { ipVersion: 4, subnet: '10.30.0.0/28', ips: ['10.30.0.1-10.30.0.14'], default: true }, { at: AT });
        await a.allocator.definePool('v6', { ipVersion: 6, subnet: 'fd00:30::/124', ips: ['fd00:30::1-fd00:30::8'] }, { at: AT });
        await b.allocator.sync();
        const ids: string[] = [];
        // Each wave runs concurrently, split across the two instances.
        for (const wave of waves) {
          await Promise.all(
            wave.map(async (c) => {
              const al = ix[c.who]!.allocator;
              try {
                if (c.kind === 'alloc') {
                  const r = await al.allocate(request(`pod-${c.pod}`, c.dual ? { pools: { ipv4: ['v4'], ipv6: ['v6'] } } : {}));
                  ids.push(...r.allocations.map((x) => x.allocationId));
                } else if (c.kind === 'del') {
                  await al.releaseContainer(`ctr-pod-${c.pod}`, undefined, AT);
                } else if (ids.length > 0) {
                  await al.releaseById(ids[c.pick % ids.length]!, 'admin', AT);
                }
              } catch (e) {
                // Exhaustion, stale releases and losing a race are legitimate answers; anything else is a bug.
                if (!isAllocError(e) || !['PoolExhausted', 'StaleRelease', 'NoPoolMatches'].includes(e.code)) throw e;
              }
            }),
          );
        }
        await a.allocator.sync();
        await b.allocator.sync();
        const log: LoggedEvent[] = [];
        for await (const e of a.store.read()) log.push(e);
        const check = checkAllocationLog(log);
        t.deepEqual(check.details, []);
        t.is(check.live, a.allocator.model.byId.size, 'what the log says is live is what the model holds');
        const fresh = snapshot(await replay(a.store));
        t.deepEqual(snapshot(a.allocator.model), fresh);
        t.deepEqual(snapshot(b.allocator.model), fresh);
      } finally {
        await a.close();
        await b.close();
      }
    }),
    { numRuns: 20 },
  );
});
