// guardKeysOf (src/store/txn-plan.ts) works out a member's guard keys once; its memo and loops are an optimisation,
// so on any member it must give what the straightforward mapping gives: the same reads (keys, precise tags, order),
// guard key, writes and coarse writes, under both tag layouts.
import test from 'ava';
import fc from 'fast-check';
import type { EventEnvelope } from '../events/envelope.js';
import type { Member, MemberKeys } from '../src/store/member.js';
import { makeMemberShape } from '../src/store/member.js';
import { ADDRESS_LAYOUT, BLOCK_LAYOUT, type TagLayout } from '../src/store/tag-layout.js';
import { guardKeysOf } from '../src/store/txn-plan.js';

/** The mapping as it was written before the memo: each tag through layout.guardOf, reads grouped by key. */
function referenceKeys(m: Member, layout: TagLayout): MemberKeys {
  const coarse = layout.name !== 'address';
  const keyOf = (t: string) => (coarse ? layout.guardOf(t) : t);
  const reads: { key: string; tags: string[]; coarse: boolean }[] = [];
  for (const t of m.condition?.tags ?? []) {
    const key = keyOf(t);
    const r = key === t ? undefined : reads.find((x) => x.key === key);
    if (r) r.tags.push(t);
    else reads.push({ key, tags: [t], coarse: key !== t && layout.isCoarse(key) });
  }
  let writes: ReadonlyMap<string, string> = m.lastIdByTag;
  let coarseWrites: ReadonlyMap<string, readonly string[]> = new Map();
  if (coarse) {
    const w = new Map<string, string>();
    for (const e of m.events) for (const t of e.tags) w.set(keyOf(t), e.id);
    const cw = new Map<string, string[]>();
    for (const t of m.lastIdByTag.keys()) {
      const key = keyOf(t);
      if (key === t || !layout.isCoarse(key)) continue;
      cw.set(key, [...(cw.get(key) ?? []), t]);
    }
    writes = w;
    coarseWrites = cw;
  }
  return { layout: layout.name, reads, guardKey: m.guard ? keyOf(m.guard.tag) : undefined, writes, coarseWrites };
}

const plain = (k: MemberKeys) => ({ ...k, writes: [...k.writes], coarseWrites: [...k.coarseWrites] });

// Tags from a small alphabet so members repeat tags and share blocks: ip: tags of two blocks, IPv6, unparsable ones.
const tag = fc.oneof(
  fc.nat(70).map((n) => `ip:default/10.0.0.${n}`),
  fc.nat(40).map((n) => `ip:net-a/fd00::${n.toString(16)}`),
  fc.constantFrom('ip:default/not-an-address', 'ip:default/10.0.0.010', 'ep:ns/pod-a/eth0', 'ep:ns/pod-b/eth0', 'pool:p1', 'poolcfg:p1', 'reservations'),
);
const memberArb = fc.record({
  events: fc.array(fc.array(tag, { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 }),
  condition: fc.option(fc.array(tag, { maxLength: 20 }), { nil: undefined }), // past 64 tag pairs: makeMemberShape's Set path
});

test('guardKeysOf gives the straightforward mapping on any member, under the block and the address layout', (t) => {
  fc.assert(
    fc.property(memberArb, ({ events: tagLists, condition: condTags }) => {
      const events = tagLists.map((tags, i) => ({ id: `000000000010-w-${i}`, type: 'X', v: 1, at: 'T', tags, data: {} }) as EventEnvelope);
      const condition = condTags === undefined ? undefined : { tags: condTags, after: 10 };
      for (const layout of [BLOCK_LAYOUT, ADDRESS_LAYOUT]) {
        const shape = makeMemberShape(events, condition, 10, 2);
        const m = { events, condition, ...shape, priorAttempts: [], deadline: 0, mayExist: false, checked: true, keys: undefined, resolve: () => undefined, reject: () => undefined } as Member;
        t.deepEqual(plain(guardKeysOf(m, layout)), plain(referenceKeys(m, layout)));
      }
    }),
    { numRuns: 2000 },
  );
});

test('makeMemberShape guards a member by its first tag exactly when its condition reads none of the first event\'s tags', (t) => {
  fc.assert(
    fc.property(memberArb, ({ events: tagLists, condition: condTags }) => {
      const events = tagLists.map((tags, i) => ({ id: `000000000010-w-${i}`, type: 'X', v: 1, at: 'T', tags, data: {} }) as EventEnvelope);
      const condition = condTags === undefined ? undefined : { tags: condTags, after: 10 };
      const { guard } = makeMemberShape(events, condition, 10, 2);
      const covered = condition !== undefined && condition.tags.some((x) => events[0]!.tags.includes(x));
      t.deepEqual(guard, covered ? undefined : { tag: events[0]!.tags[0], after: 10 });
    }),
    { numRuns: 2000 },
  );
});
