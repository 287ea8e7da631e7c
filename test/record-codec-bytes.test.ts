// The format-2 encoder's bytes stay exactly what the encoder that first wrote layouts 3 and 4 wrote (a speed-up must
// not change the format): the fixture holds its SHA-256 of each chunk of 2,000 varied members
// (test/helpers/varied-members.ts). And records written before those layouts (624b4bc's encoder, layouts 0-2, kept
// as bytes) still read back as the events they held.
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
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

test('given an engine event, when encoded, then its ip, endpoint and pool tags are codes, not strings; a tag of another shape stays a string', (t) => {
  const e = { id: 'a1', type: 'IPAllocated', v: 2, at: 'T', tags: ['ip:blue/10.0.0.9', 'ep:ns/p/eth0', 'pool:p1', 'pool:other', 'ip:x/10.0.0.1'], data: { allocationId: 'a1', pool: 'p1', ipVersion: 4, address: '10.0.0.9', prefixLength: 24, endpoint: { namespace: 'ns', name: 'p', uid: 'u', containerID: 'c', node: 'n', nic: 'eth0' } } };
  const chunk = JSON.parse(encodeChunk([e as never])) as [string[], number[]];
  t.false(chunk[0].some((s) => s.startsWith('ep:') || s === 'pool:p1' || s === 'ip:blue/10.0.0.9'), chunk[0].join(' '));
  t.true(chunk[0].includes('blue') && chunk[0].includes('pool:other') && chunk[0].includes('ip:x/10.0.0.1'));
  t.is(JSON.stringify(decodeRecordValue(encodeRecord([e as never])).events), JSON.stringify([e]));
});
