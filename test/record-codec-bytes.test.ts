// The format-2 encoder's bytes stay exactly what the encoder of bc54e65 (before its speed-ups) wrote: no format
// change. The fixture holds that encoder's SHA-256 of each chunk of 2,000 varied members (test/helpers/varied-members.ts).
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { decodeRecordValue, encodeChunk, encodeRecord } from '../events/record-codec.js';
import { variedMembers } from './helpers/varied-members.js';

const FIXTURE = new URL('../../test/fixtures/record-codec/chunks-bc54e65.json', import.meta.url);

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
