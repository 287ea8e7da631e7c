// The 'block' tag layout (src/store/tag-layout.ts): ip: tags guarded by one key per block of 32 addresses. Events
// keep their precise tags; etcd sees one compare and one put per block per txn; false conflicts between writers in
// one block are honest conflicts the allocator re-decides; tag GC and `ipam check` work on the block keys; a log
// written with per-address keys keeps them.
import test from 'ava';
import fc from 'fast-check';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Tag } from '../events/tags.js';
import { checkAllocationLog } from '../src/alloc/log-check.js';
import { AllocatorModel } from '../src/alloc/model.js';
import { runChecks } from '../src/cli/commands/check.js';
import { collectTags, collectTouchedTags, isCollected } from '../src/lifecycle/tag-gc.js';
import { parseAddress } from '../src/net/address.js';
import { EventStore } from '../src/store/event-store.js';
import { moveHorizon, readHorizon } from '../src/store/horizon.js';
import { MaintenanceLease } from '../src/store/lease.js';
import { OwnGuardWrites } from '../src/store/own-guards.js';
import { blockAddresses, blockOfIpTag, BLOCK_LAYOUT, GUARD_BLOCK_ADDRESSES, readTagLayout } from '../src/store/tag-layout.js';
import { allocated, allocationCondition } from './helpers/events.js';
import { AT, openAllocator, request, snapshot } from './helpers/alloc.js';
import { appendWithLostAnswer } from './helpers/proxy.js';
import { freshPrefix, openStore, sharedEtcd } from './helpers/store.js';

const BLOCK = { tagLayout: 'block' } as const;

async function tagKeys(client: import('etcd3').Etcd3, store: EventStore): Promise<Map<string, { value: string; mod: number }>> {
  const res = await client.kv.range({ key: Buffer.from(store.keys.tagPrefix), range_end: Buffer.from(store.keys.tagPrefix.slice(0, -1) + '0') });
  return new Map(res.kvs.map((kv) => [kv.key.toString().slice(store.keys.tagPrefix.length), { value: kv.value.toString(), mod: Number(kv.mod_revision) }]));
}

async function logOf(store: EventStore) {
  const out = [];
  for await (const e of store.read({ beforeHorizon: 'allow' })) out.push(e);
  return out;
}

test('the block of an ip: tag: 32 addresses of one scope, IPv4 and IPv6; other tags and unparsable addresses guard themselves', (t) => {
  t.is(blockOfIpTag('ip:default/10.0.0.37'), 'ipblock:default/10.0.0.32/27');
  t.is(blockOfIpTag('ip:default/10.0.0.63'), 'ipblock:default/10.0.0.32/27');
  t.is(blockOfIpTag('ip:default/10.0.0.64'), 'ipblock:default/10.0.0.64/27');
  t.is(blockOfIpTag('ip:net-a/fd00::5f'), 'ipblock:net-a/fd00::40/123');
  t.is(blockOfIpTag('ip:odd/scope/10.1.1.1'), 'ipblock:odd/scope/10.1.1.0/27', 'a scope containing "/" keeps it');
  t.is(BLOCK_LAYOUT.guardOf('ip:default/not-an-address'), 'ip:default/not-an-address');
  t.is(BLOCK_LAYOUT.guardOf(Tag.endpoint('ns', 'pod', 'eth0')), 'ep:ns/pod/eth0', 'ep: stays per endpoint');
  t.is(BLOCK_LAYOUT.guardOf(Tag.pool('p1')), 'pool:p1');
  const b = blockAddresses('ipblock:net-a/fd00::40/123')!;
  t.is(b.scope, 'net-a');
  t.is(b.addresses.length, GUARD_BLOCK_ADDRESSES);
  t.deepEqual([b.addresses[0], b.addresses[31]], ['fd00::40', 'fd00::5f']);
  for (const a of b.addresses) t.is(blockOfIpTag(`ip:net-a/${a}`), 'ipblock:net-a/fd00::40/123');
});

/** The IPv4 path before it called the dotted-quad parser directly: the last octet checked by Number, the rest by parseAddress. */
function blockOfIpv4TagByParseAddress(tag: string): string | undefined {
  const slash = tag.lastIndexOf('/');
  const dot = tag.lastIndexOf('.');
  const octet = Number(tag.slice(dot + 1));
  let parses = true;
  try {
    parseAddress(tag.slice(slash + 1), 'tag');
  } catch {
    parses = false;
  }
  if (!(Number.isInteger(octet) && octet >= 0 && octet <= 255 && String(octet) === tag.slice(dot + 1) && parses)) return undefined;
  return `ipblock:${tag.slice(3, dot + 1)}${octet & ~(GUARD_BLOCK_ADDRESSES - 1)}/27`;
}

test('the block of an IPv4 ip: tag is what parsing the address with parseAddress gives, for valid and malformed dotted quads alike', (t) => {
  const octet = fc.oneof(fc.nat(255).map(String), fc.constantFrom('', '0', '00', '01', '010', '255', '256', '999', '1000', '-1', '+1', ' 1', '1e1', '0x1', '1.0'), fc.string({ unit: fc.constantFrom('0', '1', '9', '.', 'a', ' '), maxLength: 4 }));
  const tag = fc.tuple(fc.constantFrom('default', 'net-a', 'odd/scope'), fc.array(octet, { minLength: 1, maxLength: 5 })).map(([scope, parts]) => `ip:${scope}/${parts.join('.')}`);
  fc.assert(
    fc.property(tag, (tg) => {
      const slash = tg.lastIndexOf('/');
      fc.pre(tg.lastIndexOf('.') > slash && tg.indexOf(':', slash) < 0); // the IPv4 path
      t.is(blockOfIpTag(tg), blockOfIpv4TagByParseAddress(tg), tg);
    }),
    { numRuns: 5000 },
  );
  t.is(blockOfIpTag('ip:default/10.0.0.037'), undefined, 'a leading zero is refused as parseAddress refuses it');
  t.is(blockOfIpTag('ip:default/10.0.0.256'), undefined);
  t.is(blockOfIpTag('ip:default/10.0.0.0.1'), undefined);
});

test('own chain on a block: a member may compare with the chain end only when its view is inside the chain and none of its tags were written after it', (t) => {
  const own = new OwnGuardWrites(2);
  const k = 'ipblock:default/10.0.0.0/27';
  own.committed(new Map([[k, ['ip:default/10.0.0.1']]]), new Map([[k, 100]]), 110);
  t.is(own.bound(k, ['ip:default/10.0.0.2'], 105), 110, 'only our txn wrote the block in (100, 110]');
  t.is(own.bound(k, ['ip:default/10.0.0.1'], 105), 105, 'we wrote its own address after its view: no raise');
  t.is(own.bound(k, ['ip:default/10.0.0.2'], 99), 99, 'a view before the chain starts: unknown writes');
  own.committed(new Map([[k, ['ip:default/10.0.0.3']]]), new Map([[k, 110]]), 120);
  t.is(own.bound(k, ['ip:default/10.0.0.2'], 100), 120, 'chained: (100, 120] is ours');
  own.committed(new Map([[k, ['ip:default/10.0.0.4']]]), new Map([[k, 125]]), 130);
  t.is(own.bound(k, ['ip:default/10.0.0.2'], 120), 120, '(120, 125] unknown: a new chain from 125');
  t.is(own.bound(k, ['ip:default/10.0.0.2'], 126), 130);
  own.committed(new Map([['b2', []], ['b3', []]]), new Map([['b2', 1], ['b3', 1]]), 2);
  t.is(own.remembered, 2, 'bounded');
  own.begin([k]);
  t.true(own.busy(k));
  own.end([k]);
  t.false(own.busy(k));
});

test('given several members in one block, when appended together, then one txn compares and puts the block key once, naming the last event', async (t) => {
  const f = await openStore(BLOCK);
  const r0 = await f.store.currentRevision();
  const ids = Array.from({ length: 8 }, () => f.store.newId());
  const res = await f.store.appendBatch(ids.map((id, i) => ({ events: [allocated(id, `10.0.9.${i}`, `p${i}`)], condition: allocationCondition(`10.0.9.${i}`, `p${i}`, r0) })));
  t.true(res.every((r) => r.ok));
  t.is(f.store.stats.txns, 1);
  const keys = await tagKeys(f.client, f.store);
  const block = keys.get('ipblock:default/10.0.9.0/27');
  t.is(block?.value, ids[7], 'the block names the txn\'s last event in it');
  t.false([...keys.keys()].some((k) => k.startsWith('ip:')), 'no per-address keys');
  t.is([...keys.keys()].filter((k) => k.startsWith('ep:')).length, 8);
  t.is((await readTagLayout(f.client, f.store.keys))?.name, 'block');
  // The precise tags are still in the log.
  t.deepEqual((await logOf(f.store)).map((e) => e.event.tags[0]), ids.map((_, i) => Tag.ip('default', `10.0.9.${i}`)));
  await f.close();
});

test('given a block another writer wrote after R, when appending another address of it conditioned after R, then the (false) conflict names the precise tag', async (t) => {
  const f = await openStore(BLOCK);
  const other = await openStore({ prefix: f.prefix, ...BLOCK });
  const r0 = await f.store.currentRevision();
  await other.store.append([allocated(other.store.newId(), '10.0.10.1', 'a')], allocationCondition('10.0.10.1', 'a', r0));
  const err = await t.throwsAsync(f.store.append([allocated(f.store.newId(), '10.0.10.2', 'b')], allocationCondition('10.0.10.2', 'b', r0)));
  t.deepEqual((err as unknown as { tags: string[] }).tags, [Tag.ip('default', '10.0.10.2')]);
  // Another block is untouched; and our own earlier write of a block does not fail our next member in it.
  await t.notThrowsAsync(f.store.append([allocated(f.store.newId(), '10.0.10.40', 'c')], allocationCondition('10.0.10.40', 'c', r0)));
  await t.notThrowsAsync(f.store.append([allocated(f.store.newId(), '10.0.10.41', 'd')], allocationCondition('10.0.10.41', 'd', r0)));
  await f.close();
  await other.close();
});

test('given committed members sharing a block, when the same ids are appended again, then each is a duplicate (the block names only the last one; the ep: key names each)', async (t) => {
  const f = await openStore(BLOCK);
  const r0 = await f.store.currentRevision();
  const evs = Array.from({ length: 4 }, (_, i) => allocated(f.store.newId(), `10.0.11.${i}`, `d${i}`));
  const first = await f.store.appendBatch(evs.map((e, i) => ({ events: [e], condition: allocationCondition(`10.0.11.${i}`, `d${i}`, r0) })));
  const again = await f.store.appendBatch(evs.map((e, i) => ({ events: [e], condition: allocationCondition(`10.0.11.${i}`, `d${i}`, r0) })));
  t.deepEqual(
    again.map((r) => (r.ok ? { dup: r.result.duplicate, rev: r.result.revision } : r.error.message)),
    first.map((r) => ({ dup: true, rev: r.ok ? r.result.revision : -1 })),
  );
  t.is((await logOf(f.store)).length, 4);
  await f.close();
});

test('given an ambiguous txn (answer lost, etcd3 resends), then the block layout still reports the original commit, not a conflict', async (t) => {
  const lost = await appendWithLostAnswer(BLOCK, (store, r0) =>
    store.appendBatch(['10.0.12.1', '10.0.12.2'].map((a, i) => ({ events: [allocated(store.newId(), a, `x${i}`)], condition: allocationCondition(a, `x${i}`, r0) }))),
  );
  t.teardown(() => lost.close());
  t.true(lost.answerLost, 'an answer was really lost');
  t.true(lost.result.every((r) => r.ok && r.result.duplicate), JSON.stringify(lost.result));
  t.is((await logOf(lost.store)).length, 2);
});

test('given a log written with per-address keys (no layout recorded), when a store that wants blocks opens it, then it keeps writing per-address keys', async (t) => {
  const old = await openStore({ tagLayout: 'address' });
  const r0 = await old.store.currentRevision();
  await old.store.append([allocated(old.store.newId(), '10.0.13.1', 'o1')], allocationCondition('10.0.13.1', 'o1', r0));
  t.is(await old.client.get(old.store.keys.tagLayout), null, 'an address log records nothing: absence is what older builds wrote');
  const next = await openStore({ prefix: old.prefix, ...BLOCK });
  t.is((await next.store.tagLayout()).name, 'address');
  // The old writer's precise key still guards: a decision on a view before its write fails.
  await t.throwsAsync(next.store.append([allocated(next.store.newId(), '10.0.13.1', 'n1')], allocationCondition('10.0.13.1', 'n1', r0)), { message: /ip:default\/10\.0\.13\.1/ });
  const r1 = await next.store.currentRevision();
  await next.store.append([allocated(next.store.newId(), '10.0.13.2', 'n2')], allocationCondition('10.0.13.2', 'n2', r1));
  const keys = await tagKeys(next.client, next.store);
  t.true(keys.has('ip:default/10.0.13.2'));
  t.false([...keys.keys()].some((k) => k.startsWith('ipblock:')));
  await old.close();
  await next.close();
});

test('given an address store opened on an empty log, when a block store records its layout first, then the address store writes under blocks (its first txn checks)', async (t) => {
  const prefix = freshPrefix();
  const a = await openStore({ prefix, tagLayout: 'address' });
  const b = await openStore({ prefix, ...BLOCK });
  t.is((await b.store.tagLayout()).name, 'block');
  const r0 = await a.store.currentRevision();
  await a.store.append([allocated(a.store.newId(), '10.0.14.1', 'z')], allocationCondition('10.0.14.1', 'z', r0));
  t.is((await a.store.tagLayout()).name, 'block');
  const keys = await tagKeys(a.client, a.store);
  t.true(keys.has('ipblock:default/10.0.14.0/27'));
  t.false(keys.has('ip:default/10.0.14.1'));
  // And the other way round: once a log has a commit, a block store follows the address log.
  const c = await openStore({ tagLayout: 'address' });
  await c.store.append([allocated(c.store.newId(), '10.0.14.2', 'y')], allocationCondition('10.0.14.2', 'y', await c.store.currentRevision()));
  const d = await openStore({ prefix: c.prefix, ...BLOCK });
  t.is((await d.store.tagLayout()).name, 'address');
  for (const f of [a, b, c, d]) await f.close();
});

test('given one writer with 1,024 requests in flight on one pool, then its pipelined txns sharing blocks do not conflict with one another', async (t) => {
  const a = await openAllocator(freshPrefix(), { store: BLOCK });
  try {
    await a.allocator.definePool('own', { ipVersion: 4, subnet: '10.41.0.0/20', ips: ['10.41.0.1-10.41.15.254'], default: true }, { at: AT });
    const res = await Promise.all(Array.from({ length: 1024 }, (_, i) => a.allocator.allocate(request(`own-${i}`))));
    t.is(new Set(res.map((r) => r.allocations[0]!.address)).size, 1024);
    t.log(`txns ${a.store.stats.txns}, failed txns ${a.store.stats.txnFailures}, conflicts ${a.store.stats.conflicts}, peak in flight ${a.store.stats.peakInflight}`);
    // A member deferred past a chain's start may still meet an honest conflict on its block; our own txns alone
    // must not make a habit of it.
    t.true(a.store.stats.conflicts <= 1024 / 20, `conflicts ${a.store.stats.conflicts}`);
    t.deepEqual(checkAllocationLog(await logOf(a.store)).details, []);
  } finally {
    await a.close();
  }
});

type Cmd = { kind: 'alloc' | 'del'; who: 0 | 1; pod: number } | { kind: 'gc' };
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('alloc' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(15) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('del' as const), who: fc.constantFrom(0 as const, 1 as const), pod: fc.nat(15) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('gc' as const) }) },
);

test('random interleavings of two writers in one block with horizon moves and block-key GC: no address twice, replay equals both views, live blocks keep their keys', async (t) => {
  let conflictsTotal = 0;
  let deletedTotal = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(fc.array(cmd, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 6 }), async (waves) => {
      const prefix = freshPrefix();
      // Same rng: both scans start at the same place, in the one block of a /28.
      const a = await openAllocator(prefix, { store: BLOCK, rng: () => 0 });
      const b = await openAllocator(prefix, { store: BLOCK, rng: () => 0 });
      const m = await openStore({ prefix, ...BLOCK });
      const lease = new MaintenanceLease(m.client, m.store.keys, 'maintainer');
      try {
        await a.allocator.definePool('v4', { ipVersion: 4, subnet: '10.42.0.0/28', ips: ['10.42.0.1-10.42.0.12'], default: true }, { at: AT });
        await b.allocator.sync();
        const holder = (await lease.tryAcquire())!;
        let lastH = 0;
        let runs = 0;
        let chain = Promise.resolve();
        const maintainOnce = async () => {
          const h = await m.store.headRevision();
          const model = new AllocatorModel();
          const touched = new Set<string>();
          for await (const e of m.store.read({ until: h, beforeHorizon: 'allow' })) {
            model.apply(e.event, e.revision);
            if (e.revision > lastH) for (const tag of e.event.tags) if (isCollected(tag)) touched.add(tag);
          }
          const { mod } = await readHorizon(m.client, m.store.keys);
          const moved = await moveHorizon(m.client, m.store.keys, m.store.writer, { revision: h, lastEventAt: AT, movedAt: AT, checkpoint: 'test' }, mod, holder);
          // Alternately the incremental GC (the run's tags mapped to their blocks) and the full sweep.
          const r = runs++ % 2 === 0 ? await collectTouchedTags(m.store, model, touched, h, moved, holder) : await collectTags(m.store, model, h, moved, holder);
          deletedTotal += r.deleted;
          lastH = h;
        };
        const maintain = () => (chain = chain.then(maintainOnce));
        const ix = [a, b];
        for (const wave of waves) {
          await Promise.all(
            wave.map(async (c) => {
              if (c.kind === 'gc') return maintain();
              const al = ix[c.who]!.allocator;
              try {
                if (c.kind === 'alloc') await al.allocate(request(`pod-${c.pod}`));
                else await al.releaseContainer(`ctr-pod-${c.pod}`, undefined, AT);
              } catch (e) {
                if (!['PoolExhausted', 'StaleRelease'].includes((e as { code?: string }).code ?? '')) throw e;
              }
            }),
          );
        }
        await maintain();
        await a.allocator.sync();
        await b.allocator.sync();
        conflictsTotal += a.allocator.stats.conflicts + b.allocator.stats.conflicts;
        const log = await logOf(a.store);
        t.deepEqual(checkAllocationLog(log).details, []);
        const fresh = new AllocatorModel();
        for (const e of log) fresh.apply(e.event, e.revision);
        t.deepEqual(snapshot(a.allocator.model), snapshot(fresh));
        t.deepEqual(snapshot(b.allocator.model), snapshot(fresh));
        const keys = await tagKeys(m.client, m.store);
        t.false([...keys.keys()].some((k) => k.startsWith('ip:')), 'no per-address keys');
        const block = 'ipblock:default/10.42.0.0/27';
        if (fresh.byAddress.size > 0) t.true(keys.has(block), 'a block holding an address keeps its key');
        else if ((log.at(-1)?.revision ?? 0) <= lastH) t.false(keys.has(block), 'an empty block whose last event is before the horizon is collected');
        for (const id of fresh.byEndpoint.keys()) t.true(keys.has(`ep:${id}`), `live ep:${id} kept`);
      } finally {
        await lease.release();
        await a.close();
        await b.close();
        await m.close();
      }
    }),
    { numRuns: 10 },
  );
  t.true(conflictsTotal > 0, 'the two writers met in the block (false conflicts re-decided)');
  t.true(deletedTotal > 0, 'GC deleted guard keys');
  t.log(`conflicts re-decided ${conflictsTotal}, guard keys deleted ${deletedTotal}`);
});

test('ipam check on a block log: the block keys agree with the log (the last event of each block), and a missing live block is reported', async (t) => {
  const prefix = freshPrefix();
  const a = await openAllocator(prefix, { store: BLOCK });
  const b = await openAllocator(prefix, { store: BLOCK });
  try {
    await a.allocator.definePool('c4', { ipVersion: 4, subnet: '10.43.0.0/24', ips: ['10.43.0.1-10.43.0.200'], default: true }, { at: AT });
    await b.allocator.sync();
    await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).allocator.allocate(request(`chk-${i}`))));
    await a.allocator.releaseContainer('ctr-chk-3', undefined, AT);
    const g = { etcd: (await sharedEtcd()).endpoints.join(','), prefix, dataDir: await mkdtemp(join(tmpdir(), 'ipam-guard-')) };
    const tagsOf = async () => (await runChecks(g)).findings.find((f) => f.check.startsWith('tag keys agree'))!;
    const ok = await tagsOf();
    t.is(ok.check, 'tag keys agree with the log (block layout)');
    t.deepEqual(ok.details, []);
    const live = [...a.allocator.model.byId.values()][0]!;
    const key = BLOCK_LAYOUT.guardOf(Tag.ip('default', live.address));
    await a.store.client.delete().key(a.store.keys.tag(key));
    const broken = await tagsOf();
    t.is(broken.problems, 1);
    t.true(broken.details[0]!.startsWith(`tag ${key}: key holds (missing)`), broken.details[0]);
  } finally {
    await a.close();
    await b.close();
  }
});
