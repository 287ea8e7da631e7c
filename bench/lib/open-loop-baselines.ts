// What the environment alone does at the floor's offered rate, measured in the same round as the engine: the load
// generator with a call that answers at once (the process's and the OS's scheduling: the harness floor), and etcd
// alone, one trivial txn (a 200-byte put) per arrival, against its own one-requester p50 (etcd's floor ratio).
import { randomBytes } from 'node:crypto';
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { openEtcd } from '../../src/store/connect.js';
import { FastTxn } from '../../src/store/fast-txn.js';
import { runOpenLoop } from './open-loop.js';
import { Latencies, round } from './stats.js';

/** Distinct keys the etcd-alone baseline writes (then deletes): bounded whatever the rate. */
const ETCD_ALONE_KEYS = 1000;
const ETCD_ALONE_UNLOADED_CALLS = 300;
/** fdatasync calls of the fsync probe (4 KB each, one file, deleted after). */
const FSYNC_PROBES = 200;

/** etcd's light rate for the baselines: the sweep's lowest fixed rate. */
export const LIGHT_RATE = 500;

export interface EtcdAlone {
  readonly unloadedP50Ms: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly ratio: number;
  readonly achievedPerSec: number;
}

export interface OpenLoopBaselines {
  readonly offeredPerSec: number;
  /** A call that answers at once, open loop: what the generator and this process's scheduling cost alone. */
  readonly harness: { readonly p50Ms: number; readonly p99Ms: number };
  /**
   * One put per call: one requester (closed loop) p50, then open loop at the rate; ratio = p99 / one-requester p50.
   * achievedPerSec below the rate: etcd (on these cores) cannot answer one txn per arrival that fast at all.
   */
  /** fdatasync of a 4 KB write in the local etcd's data dir, ms (absent for an etcd given by endpoints). */
  readonly fsync?: { readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
  readonly etcdAlone: EtcdAlone;
  /** The same at a light rate (LIGHT_RATE/s, the sweep's lowest), which etcd alone can keep up with here. */
  readonly etcdAloneLight: EtcdAlone & { readonly offeredPerSec: number };
  /**
   * The same at the txn rate the engine itself sent etcd at the floor's step (it batches: fewer txns than
   * allocations): what etcd alone holds at the load etcd saw from the engine. Absent when the engine's rate is unknown.
   */
  readonly etcdAloneAtTxnRate?: EtcdAlone & { readonly offeredPerSec: number };
}

/** The disk's share: etcd's WAL waits for one fdatasync per batch of entries. */
export function probeFsync(dir: string): { p50Ms: number; p99Ms: number; maxMs: number } {
  const file = join(dir, `ipam-fsync-probe-${randomBytes(4).toString('hex')}`);
  const fd = openSync(file, 'w');
  const block = Buffer.alloc(4096, 1);
  const l = new Latencies();
  try {
    for (let i = 0; i < FSYNC_PROBES; i++) {
      writeSync(fd, block);
      const t = performance.now();
      fdatasyncSync(fd);
      l.add(performance.now() - t);
    }
  } finally {
    closeSync(fd);
    unlinkSync(file);
  }
  const x = l.summary();
  return { p50Ms: x.p50, p99Ms: x.p99, maxMs: x.max };
}

/**
 * etcd alone: one requester's p50 (closed loop), then an open loop at each of `rates` (in order, 500 ms apart), one
 * 200-byte put per arrival over ETCD_ALONE_KEYS keys (deleted after).
 */
export async function measureEtcdAlone(endpoints: string[], rates: readonly number[], stepMs: number, seed: number): Promise<EtcdAlone[]> {
  const client = openEtcd({ endpoints, callTimeoutMs: 30_000 });
  const prefix = `/bench-etcd-alone-${randomBytes(4).toString('hex')}/`;
  try {
    const wire = new FastTxn(client);
    const value = Buffer.alloc(200, 'x');
    const put = (i: number) => wire.txn({ compare: [], success: [{ put: { key: Buffer.from(`${prefix}${i % ETCD_ALONE_KEYS}`), value } }] });
    for (let i = 0; i < 100; i++) await put(i); // warm: connection, the keys exist
    const one = new Latencies();
    for (let i = 0; i < ETCD_ALONE_UNLOADED_CALLS; i++) {
      const t = performance.now();
      await put(i);
      one.add(performance.now() - t);
    }
    const unloadedP50Ms = one.summary().p50;
    const out: EtcdAlone[] = [];
    for (const rate of rates) {
      if (out.length > 0) await new Promise((r) => setTimeout(r, 500)); // the previous step's calls settle
      const open = await runOpenLoop(put, { ratePerSec: rate, durationMs: stepMs, seed, maxOutstanding: 4096 });
      out.push({ unloadedP50Ms, p50Ms: open.latencyMs.p50, p99Ms: open.latencyMs.p99, ratio: round(open.latencyMs.p99 / unloadedP50Ms, 2), achievedPerSec: open.achievedPerSec });
    }
    return out;
  } finally {
    await client.delete().prefix(prefix).catch(() => undefined);
    client.close();
  }
}

/** `txnRatePerSec`: the engine's own txns/s at the floor's step (etcd alone is measured at it too, when finite). */
export async function measureOpenLoopBaselines(endpoints: string[], ratePerSec: number, stepMs: number, seed: number, dataDir?: string, txnRatePerSec?: number): Promise<OpenLoopBaselines> {
  const fsync = dataDir !== undefined ? probeFsync(dataDir) : undefined;
  const harness = await runOpenLoop(async (i) => i, { ratePerSec, durationMs: stepMs, seed, maxOutstanding: 4096 });
  const txnRate = txnRatePerSec !== undefined && Number.isFinite(txnRatePerSec) && txnRatePerSec >= 1 ? Math.round(txnRatePerSec) : undefined;
  const [light, atRate, atTxnRate] = await measureEtcdAlone(endpoints, [LIGHT_RATE, ratePerSec, ...(txnRate !== undefined ? [txnRate] : [])], stepMs, seed);
  return {
    offeredPerSec: ratePerSec,
    harness: { p50Ms: harness.latencyMs.p50, p99Ms: harness.latencyMs.p99 },
    ...(fsync ? { fsync } : {}),
    etcdAlone: atRate!,
    etcdAloneLight: { offeredPerSec: LIGHT_RATE, ...light! },
    ...(txnRate !== undefined ? { etcdAloneAtTxnRate: { offeredPerSec: txnRate, ...atTxnRate! } } : {}),
  };
}
