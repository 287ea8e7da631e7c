// `bench codec`: the record codec alone, in this process, on the synthetic log's records as the store writes them
// (bench/lib/synth.ts, one member per pod as the allocator appends, a commit's members in one record): nanoseconds per
// event to encode (encodeMember + recordValue, the committer's path) and to decode (the reader's decodeRecord, the
// codec's checks included), in the current record format and in format 1 (JSON arrays) as the same run's baseline,
// paired rounds in alternating order. Decoding is also split into its byte scan (record-scan.ts) and the rest.
// What it measures is the CPU a replay or a cold start spends on record bytes, without etcd or the projections.
import { defaultCodec } from '../events/codec.js';
import { decodeRecordValue, encodeMember, recordValue, type RecordFormat } from '../events/record-codec.js';
import { scanFormat2 } from '../events/record-scan.js';
import type { LoggedEvent as StoredEvent, DomainEvent } from '../events/catalogue.js';
import { decodeRecord } from '../src/store/reader.js';
import { EVENTS_PER_COMMIT, podStages, synthLog } from './lib/synth.js';
import { median, round } from './lib/stats.js';

export interface CodecBenchOptions {
  readonly events: number;
  readonly live: number;
  readonly rounds: number;
}

type Members = readonly { readonly events: readonly DomainEvent[] }[];

/** Per format: what one round measured, per event. */
interface FormatRound {
  readonly encodeNs: number;
  readonly decodeNs: number;
  /** Format 2 only: the byte scan alone. */
  readonly scanNs?: number;
}

function encodeAll(records: readonly Members[], format: RecordFormat): Buffer[] {
  return records.map((members) => recordValue(members.map((m) => ({ format, ...encodeMember(m.events, format) }))));
}

function timeNs(events: number, work: () => void): number {
  const t0 = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - t0) / events;
}

export function runCodecBench(o: CodecBenchOptions) {
  // The log's records as member lists: every commit's stages (a release after its allocation in the same commit is
  // a later txn, so a later record), as the replay bench's loader appends them.
  const records: Members[] = [];
  let events = 0;
  for (const c of synthLog({ events: o.events, poolPairs: 10, live: o.live, perCommit: EVENTS_PER_COMMIT })) {
    for (const stage of podStages(c)) {
      if (stage.length === 0) continue;
      records.push(stage);
      for (const m of stage) events += m.events.length;
    }
  }
  const bytes: Record<RecordFormat, Buffer[]> = { 1: encodeAll(records, 1), 2: encodeAll(records, 2) };
  // Both formats must read back as the same events (checked once, untimed): a faster decoder that differs is wrong.
  const decodeAll = (values: readonly Buffer[], out: StoredEvent[]) => {
    for (let r = 0; r < values.length; r++) decodeRecord({ key: KEY, value: values[r]! }, r + 1, defaultCodec, undefined, undefined, undefined, out);
  };
  const a: StoredEvent[] = [];
  const b: StoredEvent[] = [];
  decodeAll(bytes[1], a);
  decodeAll(bytes[2], b);
  if (a.length !== events || b.length !== events) throw new Error(`bench codec: ${events} events written, ${a.length} (format 1) and ${b.length} (format 2) read back`);
  for (let i = 0; i < events; i++) if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) throw new Error(`bench codec: event ${i} decodes differently from format 1 and format 2 records`);

  const measure = (format: RecordFormat): FormatRound => {
    const encodeNs = timeNs(events, () => void encodeAll(records, format));
    const sink: StoredEvent[] = [];
    const decodeNs = timeNs(events, () => {
      // A page's worth at a time, as readLog hands them out (the events die young, as in a replay).
      for (let r = 0; r < bytes[format].length; r++) {
        decodeRecord({ key: KEY, value: bytes[format][r]! }, r + 1, defaultCodec, undefined, undefined, undefined, sink);
        if (sink.length >= 2048) sink.length = 0;
      }
    });
    if (format === 1) return { encodeNs, decodeNs };
    const scanNs = timeNs(events, () => {
      for (const v of bytes[2]) if (scanFormat2(v) === undefined) void decodeRecordValue(v); // layout-0 records: JSON.parse
    });
    return { encodeNs, decodeNs, scanNs };
  };
  measure(1); // warm-up: JIT both paths
  measure(2);
  const rounds: { 1: FormatRound; 2: FormatRound }[] = [];
  for (let r = 0; r < o.rounds; r++) {
    // Alternating which goes first (the machine's speed drifts; a young generation full of the other's garbage).
    if (r % 2 === 0) {
      const f2 = measure(2);
      rounds.push({ 1: measure(1), 2: f2 });
    } else {
      const f1 = measure(1);
      rounds.push({ 1: f1, 2: measure(2) });
    }
  }
  const med = (f: (x: { 1: FormatRound; 2: FormatRound }) => number, digits = 0) => round(median(rounds.map(f)), digits);
  const size = (format: RecordFormat) => bytes[format].reduce((n, v) => n + v.length, 0);
  return {
    scenario: 'codec',
    events,
    records: records.length,
    bytesPerEvent: { format1: round(size(1) / events, 1), format2: round(size(2) / events, 1) },
    format2: {
      encodeNsPerEvent: med((x) => x[2].encodeNs),
      decodeNsPerEvent: med((x) => x[2].decodeNs),
      scanNsPerEvent: med((x) => x[2].scanNs!),
      decodedEventsPerSec: med((x) => 1e9 / x[2].decodeNs),
    },
    format1: { encodeNsPerEvent: med((x) => x[1].encodeNs), decodeNsPerEvent: med((x) => x[1].decodeNs), decodedEventsPerSec: med((x) => 1e9 / x[1].decodeNs) },
    // Paired: format 2's time over format 1's in the same round, median of the rounds.
    ratioToFormat1: { encode: med((x) => x[2].encodeNs / x[1].encodeNs, 3), decode: med((x) => x[2].decodeNs / x[1].decodeNs, 3) },
    rounds: rounds.map((x) => ({ format2: { encodeNs: round(x[2].encodeNs), decodeNs: round(x[2].decodeNs), scanNs: round(x[2].scanNs!) }, format1: { encodeNs: round(x[1].encodeNs), decodeNs: round(x[1].decodeNs) } })),
  };
}

/** Records are decoded under a key only for error messages. */
const KEY = Buffer.from('/bench-codec/log/0');
