// `bench alloc --etcd-shapes`: etcd's CPU per allocation for txns shaped like the store's allocation txn, one
// ingredient at a time (puts of small keys, the record's bytes, the compares, a watcher on the log), next to raw
// puts: where etcd's microseconds per allocation go, on the same etcd in the same run.
import { randomBytes } from 'node:crypto';
import { openEtcd } from '../../src/store/connect.js';
import { FastTxn } from '../../src/store/fast-txn.js';
import { CompareResult, CompareTarget, type WireCompare, type WireOp } from '../../src/store/proto.js';
import { cpuSeconds } from '../lib/proc-cpu.js';
import { median, round } from '../lib/stats.js';

export interface ShapeFigure {
  readonly shape: string;
  /** etcd CPU µs per allocation (per key for the raw shape). */
  readonly etcdUs: number;
  readonly perSec: number;
}

/** A bench allocation's IPAllocated as the codec writes it is ~490 bytes (the figure is about etcd, not the codec). */
const EVENT_BYTES = 490;
const PER_TXN = 61;
/** Members the planner fits in one txn under the block layout: ep: compare and put each, within 128 ops. */
const BLOCK_PER_TXN = 118;

export async function measureEtcdShapes(endpoints: string[], etcdPids: readonly number[], o: { txns: number; inflight: number; rounds: number }): Promise<ShapeFigure[]> {
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const wire = new FastTxn(client);
  const base = `/bench-shapes-${randomBytes(4).toString('hex')}/`;
  const filler = Buffer.alloc(EVENT_BYTES * PER_TXN, 'x');
  const etcd = () => etcdPids.reduce((n, p) => n + (cpuSeconds(p) ?? NaN), 0);
  let seq = 0;
  const shapes: { name: string; units: number; watch?: boolean; build: () => { compare: WireCompare[]; success: WireOp[] } }[] = [
    {
      name: 'raw: 128 puts of 200 B (per key)',
      units: 128,
      build: () => ({ compare: [], success: Array.from({ length: 128 }, () => ({ put: { key: Buffer.from(`${base}raw/${seq++}`), value: Buffer.alloc(200, 'v') } })) }),
    },
    {
      name: '2 tag puts per allocation',
      units: PER_TXN,
      build: () => ({ compare: [], success: Array.from({ length: 2 * PER_TXN }, () => ({ put: { key: Buffer.from(`${base}tag/ip:default/10.${seq++}`), value: Buffer.from(`000000001234-abcdef0123-${seq}-a`) } })) }),
    },
    {
      name: '+ the record (61 events, 30 KB) and head',
      units: PER_TXN,
      build: () => ({
        compare: [],
        success: [
          { put: { key: Buffer.from(`${base}log/${seq++}`), value: filler } },
          { put: { key: Buffer.from(`${base}head`), value: Buffer.from(String(seq)) } },
          ...Array.from({ length: 2 * PER_TXN }, () => ({ put: { key: Buffer.from(`${base}tag/ip:default/10.${seq++}`), value: Buffer.from(`000000001234-abcdef0123-${seq}-a`) } })),
        ],
      }),
    },
    {
      name: '+ 2 compares per allocation (mod <), 3 shared',
      units: PER_TXN,
      build: () => {
        const keys = Array.from({ length: 2 * PER_TXN }, () => Buffer.from(`${base}tag/ip:default/10.${seq++}`));
        return {
          compare: [...keys, Buffer.from(`${base}tag/poolcfg:bench`), Buffer.from(`${base}tag/reservations`), Buffer.from(`${base}horizon`)].map((key) => ({ key, target: CompareTarget.Mod, result: CompareResult.Less, number: 1e12 })),
          success: [
            { put: { key: Buffer.from(`${base}log/${seq++}`), value: filler } },
            { put: { key: Buffer.from(`${base}head`), value: Buffer.from(String(seq)) } },
            ...keys.map((key) => ({ put: { key, value: Buffer.from(`000000001234-abcdef0123-${seq}-a`) } })),
          ],
        };
      },
    },
  ];
  shapes.push({ ...shapes[3]!, name: '+ a watcher on the log prefix (the store\'s subscription)', watch: true });
  // The 'block' tag layout (src/store/tag-layout.ts): per allocation the ep: key alone; the ip: addresses of
  // consecutive allocations share one block key per 32 (compared and put once per txn), the rest as above.
  const blockShape = (perTxn: number, epKeys = true) => () => {
    const eps = epKeys ? Array.from({ length: perTxn }, () => Buffer.from(`${base}tag/ep:bench/pod-${seq++}/eth0`)) : [];
    const first = seq;
    seq += perTxn;
    const blocks = Array.from({ length: Math.ceil(perTxn / 32) + 1 }, (_, i) => Buffer.from(`${base}tag/ipblock:default/10.${first + i * 32}/27`));
    const value = Buffer.from(`000000001234-abcdef0123-${seq}-a`);
    return {
      compare: [...eps, ...blocks, Buffer.from(`${base}tag/poolcfg:bench`), Buffer.from(`${base}tag/reservations`), Buffer.from(`${base}horizon`)].map((key) => ({ key, target: CompareTarget.Mod, result: CompareResult.Less, number: 1e12 })),
      success: [
        { put: { key: Buffer.from(`${base}log/${seq++}`), value: perTxn === PER_TXN ? filler : Buffer.alloc(EVENT_BYTES * perTxn, 'x') } },
        { put: { key: Buffer.from(`${base}head`), value: Buffer.from(String(seq)) } },
        ...[...eps, ...blocks].map((key) => ({ put: { key, value } })),
      ],
    };
  };
  shapes.push({ name: `block layout: 1 ep: put + 1/32 block put per allocation, compares merged (${PER_TXN} per txn), watcher`, units: PER_TXN, watch: true, build: blockShape(PER_TXN) });
  shapes.push({ name: `block layout, ${BLOCK_PER_TXN} per txn (the ops the layout frees), watcher`, units: BLOCK_PER_TXN, watch: true, build: blockShape(BLOCK_PER_TXN) });
  // What coarsening ep: as well could gain at most (no ep: key at all): an upper bound, not a layout (see README).
  shapes.push({ name: `bound: block layout with no ep: keys at all, ${BLOCK_PER_TXN} per txn, watcher`, units: BLOCK_PER_TXN, watch: true, build: blockShape(BLOCK_PER_TXN, false) });
  const out: ShapeFigure[] = [];
  try {
    const per: Map<string, { us: number[]; rate: number[] }> = new Map(shapes.map((s) => [s.name, { us: [], rate: [] }]));
    for (let r = 0; r < o.rounds; r++) {
      for (const s of shapes) {
        const w = s.watch ? await client.watch().prefix(`${base}log/`).create() : undefined;
        w?.on('data', () => undefined);
        const c0 = etcd();
        const t0 = performance.now();
        let next = 0;
        await Promise.all(Array.from({ length: o.inflight }, async () => {
          while (next++ < o.txns) await wire.txn(s.build());
        }));
        const sec = (performance.now() - t0) / 1000;
        const units = o.txns * s.units;
        per.get(s.name)!.us.push(((etcd() - c0) * 1e6) / units);
        per.get(s.name)!.rate.push(units / sec);
        await w?.cancel();
        await client.delete().prefix(base);
      }
    }
    for (const s of shapes) out.push({ shape: s.name, etcdUs: round(median(per.get(s.name)!.us), 1), perSec: round(median(per.get(s.name)!.rate)) });
  } finally {
    await client.delete().prefix(base).catch(() => undefined);
    client.close();
  }
  return out;
}
