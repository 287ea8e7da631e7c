// Record formats (events/record-codec.ts): the compact format 2 the store writes now and the JSON arrays (format 1)
// every earlier store wrote are both read, alone and mixed in one log, through etcd and through archive segments;
// events read back equal (key order included) what was appended; old event versions are still upcast; bad records
// are reported with their key, and a compact event the codec would refuse is refused naming its field.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { makeEvent, Tag, type DomainEvent } from '../events/index.js';
import { MalformedEventError } from '../events/codec.js';
import { decodeRecordValue, encodeRecord, encodeRecordV1 } from '../events/record-codec.js';
import { ArchiveDir } from '../src/lifecycle/archive.js';
import { decodeRecord } from '../src/store/reader.js';
import { defaultCodec } from '../events/codec.js';
import type { IKeyValue } from 'etcd3';
import { allocated } from './helpers/events.js';
import { openStore } from './helpers/store.js';
import { EventStore } from '../src/store/event-store.js';

const AT = '2026-12-01T10:00:00.000Z';
const json = (x: unknown) => JSON.stringify(x);

/** Events of every shape the compact layouts take or must refuse (those go as format 1 envelopes inside). */
function mixedEvents(): DomainEvent[] {
  const ep = { namespace: 'ns', name: 'pod-a', uid: 'u1', containerID: 'c1', node: 'n1', nic: 'eth0' };
  const a = (id: string, data: Record<string, unknown>) => makeEvent('IPAllocated', data as never, { id, at: AT, tags: [Tag.ip('default', String(data.address)), Tag.pool(String(data.pool))] });
  return [
    makeEvent('PoolDefined', { name: 'p1', spec: { ipVersion: 4, subnet: '10.0.0.0/24', ips: ['10.0.0.1-10.0.0.254'], gateway: '10.0.0.1', routes: [{ dst: '0.0.0.0/0', gw: '10.0.0.1' }] }, metadata: { labels: { a: 'b' } } }, { id: 'pd', at: AT, tags: [Tag.poolConfig('p1')] }),
    allocated('a1', '10.0.0.7', 'pod-a'), // with an owner
    a('a2', { allocationId: 'a2', pool: 'p1', ipVersion: 4, address: '10.0.0.8', prefixLength: 24, endpoint: ep }),
    a('a3', { allocationId: 'a3', pool: 'p6', ipVersion: 6, address: 'fd00::8', prefixLength: 64, endpoint: ep }), // same endpoint strings
    a('a4', { allocationId: 'a4', pool: 'p1', ipVersion: 4, address: '10.0.0.9', prefixLength: 24, endpoint: ep, gateway: '10.0.0.1', vlan: 0, routes: [{ dst: '10.9.0.0/16', gw: '10.0.0.1' }] }),
    a('a5', { allocationId: 'a5', pool: 'p1', ipVersion: 4, address: '10.0.0.10', prefixLength: 24, endpoint: ep, vlan: 12 }),
    a('a6', { allocationId: 'a6', pool: 'p1', ipVersion: 4, address: '10.0.0.11', prefixLength: 24, endpoint: ep, reason: 'adopted', adoptedFrom: 'whereabouts IPPool x' }),
    a('a7', { pool: 'p1', allocationId: 'a7', ipVersion: 4, address: '10.0.0.12', prefixLength: 24, endpoint: ep }), // another key order
    a('a8', { allocationId: 'a8', pool: 'p1', ipVersion: 4, address: '10.0.0.13', prefixLength: 24, endpoint: { ...ep, extra: 'kept' } }),
    a('a9', { allocationId: 'a9', pool: 'p1', ipVersion: 4, address: '10.0.0.14', prefixLength: 24, endpoint: ep, routes: [] }),
    makeEvent('IPReleased', { allocationId: 'a2', pool: 'p1', address: '10.0.0.8', reason: 'cni-del', endpoint: { namespace: 'ns', name: 'pod-a', nic: 'eth0', containerID: 'c1' } }, { id: 'r2', at: AT, tags: [Tag.ip('default', '10.0.0.8')] }),
    makeEvent('IPReserved', { name: 'keep', ipVersion: 4, ips: ['10.0.0.200'] }, { id: 'rs', at: AT, tags: ['reserved:keep'] }),
    makeEvent('PoolRemoved', { name: 'gone' }, { id: 'pr', at: AT, tags: [Tag.poolConfig('gone')] }),
  ];
}

const kvOf = (value: Buffer, key = '/t/log/000000000001-w-1'): IKeyValue => ({ key: Buffer.from(key), value }) as IKeyValue;

test('format 2 decodes every event equal to what was encoded, key order included; the v4 and v6 events of a pod share one endpoint object', (t) => {
  const events = mixedEvents();
  const v2 = encodeRecord(events);
  t.is(v2.toString('utf8').startsWith('{"f":2,"m":['), true);
  t.true(v2.length < encodeRecordV1(events).length, 'smaller than the JSON array');
  const back = decodeRecord(kvOf(v2), 5, defaultCodec, undefined, undefined, undefined);
  t.is(json(back.map((e) => e.event)), json(events));
  t.deepEqual(back.map((e) => [e.revision, e.position]), events.map((_, i) => [5, i]));
  // the v4 and v6 events of one endpoint share one endpoint object after decoding
  const [, , e2, e3] = back.map((e) => e.event) as { data: { endpoint: object } }[];
  t.is(e2!.data.endpoint, e3!.data.endpoint);
  // a format-1 record of the same events decodes to the same events
  t.is(json(decodeRecord(kvOf(encodeRecordV1(events)), 5, defaultCodec, undefined, undefined, undefined).map((e) => e.event)), json(events));
});

test('property: any IPAllocated / IPReleased the engine can write survives format 2 exactly', (t) => {
  const s = fc.string({ maxLength: 12 });
  const ep = fc.record({ namespace: s, name: s, uid: s, containerID: s, node: s, nic: s, owner: fc.option(fc.record({ kind: s, name: s }), { nil: undefined }) });
  const alloc = fc.record({
    allocationId: s,
    pool: s,
    ipVersion: fc.constantFrom(4, 6),
    address: s,
    prefixLength: fc.nat(128),
    endpoint: ep,
    gateway: fc.option(s, { nil: undefined }),
    vlan: fc.option(fc.nat(4094), { nil: undefined }),
    routes: fc.option(fc.array(fc.record({ dst: s, gw: s }), { maxLength: 3 }), { nil: undefined }),
  });
  const clean = <T extends object>(o: T): T => JSON.parse(JSON.stringify(o)) as T; // drops undefined fields as the engine never writes them
  fc.assert(
    fc.property(fc.array(fc.tuple(alloc, fc.array(s, { minLength: 1, maxLength: 4 }), fc.boolean()), { minLength: 1, maxLength: 8 }), (xs) => {
      const events = xs.map(([d, tags, release], i) =>
        release
          ? makeEvent('IPReleased', { allocationId: d.allocationId, pool: d.pool, address: d.address, reason: 'pod-gone', endpoint: { namespace: d.endpoint.namespace, name: d.endpoint.name, nic: d.endpoint.nic, containerID: d.endpoint.containerID } }, { id: `r${i}`, at: AT, tags })
          : makeEvent('IPAllocated', clean(d), { id: `a${i}`, at: AT, tags }),
      );
      const back = decodeRecordValue(encodeRecord(events)).events;
      return json(back) === json(events);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test('a log written in format 1 (as every earlier store wrote it) and then in format 2 reads back as one log, in order, old versions upcast', async (t) => {
  const old = await openStore({ recordFormat: 1 });
  const now = new EventStore(old.client, { prefix: old.prefix });
  await now.open();
  try {
    const first = mixedEvents().slice(0, 7);
    // an IPAllocated v1 event as an older build wrote it: read back as v2 (the catalogue's upcaster)
    const v1 = { ...allocated('old-1', '10.0.0.99', 'pod-old'), v: 1 } as DomainEvent;
    const second = mixedEvents().slice(7).map((e) => ({ ...e, id: `${e.id}-2` }) as DomainEvent);
    const r1 = await old.store.append([...first, v1], undefined, { trusted: true });
    const r2 = await now.append(second, undefined, { trusted: true });
    const values = Object.values(await old.client.getAll().prefix(`${old.prefix}log/`).strings());
    t.true(values.some((v) => v.startsWith('[{')) && values.some((v) => v.startsWith('{"f":2,')), 'both formats in etcd');
    const got = [];
    for await (const e of now.read()) got.push(e);
    t.is(json(got.map((e) => e.event)), json([...first, { ...v1, v: 2 }, ...second]));
    t.deepEqual([...new Set(got.map((e) => e.revision))], [r1.revision, r2.revision]);
    // the live path (a watch) decodes both formats too
    const seen: string[] = [];
    const sub = now.subscribe({ after: r2.revision, onEvents: (es) => void seen.push(...es.map((e) => e.event.id)) });
    await old.store.append([{ ...first[1]!, id: 'w1' } as DomainEvent], undefined, { trusted: true });
    const r4 = await now.append([{ ...first[2]!, id: 'w2' } as DomainEvent], undefined, { trusted: true });
    await sub.waitFor(r4.revision);
    await sub.close();
    t.deepEqual(seen, ['w1', 'w2']);
  } finally {
    await now.close();
    await old.close();
  }
});

test('archive segments hold format-1 and format-2 records as they are, and read back to the same events', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ipam-recfmt-'));
  try {
    const events = mixedEvents();
    const archive = new ArchiveDir(dir, '/ipam/');
    await archive.load();
    const records = [
      { revision: 3, key: 'log/000000000001-w-1', value: encodeRecordV1(events.slice(0, 6)).toString() },
      { revision: 4, key: 'log/000000000003-w-2', value: encodeRecord(events.slice(6)).toString() },
      { revision: 5, key: 'log/000000000004-w-3', value: '[]' }, // a horizon move
    ];
    const entry = await archive.append(records, 5, { firstAt: AT, lastAt: AT }, events.length);
    const reread = new ArchiveDir(dir, '/ipam/');
    await reread.load();
    const back = await reread.readSegment(entry);
    t.deepEqual(back, records, 'values byte for byte');
    const decoded = back.flatMap((r) => decodeRecord(kvOf(Buffer.from(r.value), `/ipam/${r.key}`), r.revision, defaultCodec, undefined, undefined, undefined));
    t.is(json(decoded.map((e) => e.event)), json(events));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('bad records are reported with their key: a newer format, a broken chunk; a compact event the codec would refuse names its field', (t) => {
  const key = '/t/log/000000000009-w-1';
  const bad = (value: string) => {
    const errors: MalformedEventError[] = [];
    const out = decodeRecord(kvOf(Buffer.from(value), key), 9, defaultCodec, undefined, undefined, (e) => errors.push(e));
    return { out, errors };
  };
  t.throws(() => decodeRecord(kvOf(Buffer.from('{"f":3,"m":[]}'), key), 9, defaultCodec, undefined, undefined, undefined), { instanceOf: MalformedEventError, message: /record format 3 is newer than this build reads \(2\); upgrade/ });
  const r1 = bad('{"f":2,"m":[[["a"],[1,0,5]]]}');
  t.is(r1.out.length, 0);
  t.regex(r1.errors[0]!.message, /malformed event at \/t\/log\/000000000009-w-1: format-2 record: string 5 out of range/);
  t.regex(bad('{"f":2,"m":[[["a"],[7]]]}').errors[0]!.message, /unknown event layout 7/);
  // layout 3 (IPAllocated, tags last): a tag code no build writes
  t.regex(bad('{"f":2,"m":[[["a"],[3,0,0,0,0,4,0,0,0,0,0,0,0,0,-1,-1,-1,-1,1,-9]]]}').errors[0]!.message, /unknown tag code -9/);
  t.regex(bad('{"f":2,"m":[[["a"],[1,0]]]}').errors[0]!.message, /chunk ends inside an event/);
  t.regex(bad('{"f":2,"m":[[[1],[]]]}').errors[0]!.message, /chunk strings must be strings/);
  t.regex(bad('"x"').errors[0]!.message, /neither a JSON array of events/);
  t.regex(bad('{"f":2,').errors[0]!.message, /record is not JSON/);
  // ipVersion 5 in a compact IPAllocated: the codec sees it and refuses that event only, naming the field
  const good = allocated('ok', '10.0.0.1', 'p');
  const text = encodeRecord([good]).toString();
  const chunk = JSON.parse(text).m[0] as [string[], number[]];
  // the same compact layout with ipVersion 5 (what a corrupted or foreign writer could store)
  const ints = [...chunk[1]];
  t.is(ints[5], 4, 'layout 3: the ipVersion slot after layout, id, at, allocationId, pool (its tags come last)');
  ints[5] = 5;
  const r3 = bad(JSON.stringify({ f: 2, m: [[chunk[0], ints], JSON.parse(encodeRecord([good]).toString()).m[0]] }));
  t.is(r3.out.length, 1);
  t.is(r3.out[0]!.position, 1);
  t.regex(r3.errors[0]!.message, /#0: IPAllocated data.ipVersion must be one of 4, 6/);
});
