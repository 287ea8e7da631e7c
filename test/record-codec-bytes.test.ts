// The format-2 encoder's bytes stay exactly what the encoder that first wrote layouts 3 and 4 wrote (a speed-up must
// not change the format): the fixture holds its SHA-256 of each chunk of 2,000 varied members
// (test/helpers/varied-members.ts). And records written before those layouts (624b4bc's encoder, layouts 0-2, kept
// as bytes) still read back as the events they held.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { makeEvent, Tag } from '../events/index.js';
import { decodeRecordValue, encodeChunk, encodeRecord } from '../events/record-codec.js';
import { variedMembers } from './helpers/varied-members.js';

const FIXTURE = new URL('../../test/fixtures/record-codec/chunks-layouts-3-4.json', import.meta.url);
const OLD_RECORDS = new URL('../../test/fixtures/record-codec/records-624b4bc.json', import.meta.url);

test('given 2,000 varied members, when each is encoded, then every chunk is byte for byte what the previous encoder wrote', (t) => {
  const want = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { members: number; seed: number; sha256: string[] };
  const members = variedMembers(want.members, want.seed);
  const got = members.map((m) => createHash('sha256').update(encodeChunk(m)).digest('hex'));
  const differ = got.flatMap((h, i) => (h === want.sha256[i] ? [] : [i]));
  t.deepEqual(differ, [], 'members whose chunk differs');
  t.is(got.length, want.sha256.length);
});

test('given varied members, when encoded and decoded, then the events read back equal, key order included', (t) => {
  for (const m of variedMembers(300, 5)) {
    const back = decodeRecordValue(encodeRecord(m));
    t.is(JSON.stringify(back.events), JSON.stringify(m));
  }
});

test('given records an earlier encoder wrote (layouts 0-2), when decoded, then each reads back as its member, key order included', (t) => {
  const old = JSON.parse(readFileSync(OLD_RECORDS, 'utf8')) as { members: number; seed: number; records: string[] };
  const members = variedMembers(old.members, old.seed);
  t.is(old.records.length, members.length);
  old.records.forEach((r, i) => t.is(JSON.stringify(decodeRecordValue(Buffer.from(r)).events), JSON.stringify(members[i]), `record ${i}`));
  // the same members now encode to other bytes (layouts 3 and 4), read back equal too
  t.true(members.some((m, i) => !encodeRecord(m).equals(Buffer.from(old.records[i]!))), 'the encoder writes the new layouts');
});

test('given engine events, when encoded, then the tags events/tags.ts makes for them are codes, not strings; a tag of another shape stays a string', (t) => {
  const endpoint = { namespace: 'ns', name: 'p', uid: 'u', containerID: 'c', node: 'n', nic: 'eth0' };
  // the tags the deciders write (src/alloc/decide-alloc.ts), built by the engine's own Tag
  const own = [Tag.ip('blue', '10.0.0.9'), Tag.endpoint('ns', 'p', 'eth0'), Tag.pool('p1')];
  const others = [Tag.pool('other'), Tag.ip('x', '10.0.0.1')];
  const alloc = makeEvent('IPAllocated', { allocationId: 'a1', pool: 'p1', ipVersion: 4, address: '10.0.0.9', prefixLength: 24, endpoint }, { id: 'a1', at: 'T', tags: [...own, ...others] });
  const rel = makeEvent('IPReleased', { allocationId: 'a1', pool: 'p1', address: '10.0.0.9', reason: 'cni-del', endpoint: { namespace: 'ns', name: 'p', nic: 'eth0', containerID: 'c' } }, { id: 'r1', at: 'T', tags: [...own, ...others] });
  for (const e of [alloc, rel]) {
    const [strings] = JSON.parse(encodeChunk([e])) as [string[], number[]];
    t.false(strings.some((s) => own.includes(s)), `${e.type}: ${strings.join(' ')}`);
    t.true(strings.includes('blue') && others.every((o) => strings.includes(o)), `${e.type}: ${strings.join(' ')}`);
    t.is(JSON.stringify(decodeRecordValue(encodeRecord([e])).events), JSON.stringify([e]));
  }
});
